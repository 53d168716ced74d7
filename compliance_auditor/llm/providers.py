"""A LangChain chat model per endpoint and provider, and what kind of failure an SDK error is.

Any OpenAI-compatible server (mlx_lm.server, vLLM, TGI, llama.cpp, Ollama, OpenAI, Azure
OpenAI) is the default provider; Anthropic and Bedrock load lazily from optional extras.
The SDKs' own retries are off: the pool retries, and only the pool.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from compliance_auditor import config

Failure = Literal["connect", "timeout", "rate", "server", "bad_reply", "cut", "too_long", "client"]

# How servers say the prompt is longer than the model's window: llama.cpp's exceed_context_size_error,
# vLLM's "maximum context length", OpenAI's context_length_exceeded, Anthropic's "prompt is too long".
_TOO_LONG = re.compile(
    r"exceed[s_ ]+(the )?(available )?context|context[_ ]length|maximum context|context size|"
    r"prompt is too long|too many tokens",
    re.IGNORECASE,
)


def build_chat_model(provider: str, url: str, settings: config.Settings) -> Any:
    """A LangChain chat model for one endpoint, with the SDK's own retries off."""
    if provider == "anthropic":
        from langchain_anthropic import ChatAnthropic

        return ChatAnthropic(
            model=settings.llm_model, api_key=settings.llm_api_key.get_secret_value(),
            base_url=url or None, temperature=settings.llm_temperature, max_retries=0,
            default_request_timeout=settings.llm_read_timeout_s, max_tokens=settings.llm_max_tokens,
        )  # fmt: skip
    if provider == "bedrock":
        from botocore.config import Config
        from langchain_aws import ChatBedrockConverse

        boto = Config(connect_timeout=settings.llm_connect_timeout_s,
                      read_timeout=settings.llm_read_timeout_s, retries={"max_attempts": 1})  # fmt: skip
        return ChatBedrockConverse(
            model=settings.llm_model, endpoint_url=url or None, temperature=settings.llm_temperature,
            config=boto, region_name=settings.llm_region or None,
        )  # fmt: skip
    import httpx
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model, base_url=url, api_key=settings.llm_api_key.get_secret_value(),
        temperature=settings.llm_temperature, max_retries=0, stream_usage=True,
        timeout=httpx.Timeout(settings.llm_read_timeout_s, connect=settings.llm_connect_timeout_s),
    )  # fmt: skip


def classify(exc: BaseException) -> Failure:
    """What kind of failure an SDK error is, whatever the provider."""
    name = " ".join(c.__name__ for c in type(exc).__mro__).lower()
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    if "timeout" in name:
        return "timeout"
    if "connect" in name:
        return "connect"
    if status == 429 or "ratelimit" in name or "throttl" in str(exc).lower():
        return "rate"
    if isinstance(status, int) and status >= 500:
        return "server"
    if isinstance(exc, ValueError) or "decode" in name:
        return "bad_reply"
    if status in (400, 413) and _TOO_LONG.search(str(exc)):
        return "too_long"
    return "client"


def retry_after(exc: BaseException) -> float | None:
    """The seconds a server asked the client to wait (429's Retry-After), if it said."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    try:
        return float(headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
