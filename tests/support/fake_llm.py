"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat protocol, with scripted replies.

    with FakeLLM() as llm:
        llm.queue('{"relevant": [1], "enough": true}', "Net sales were $3.2 billion [1].")
        ... point AUDITOR_LLM_ENDPOINT at llm.url and run the agent ...
        llm.requests  # every chat request, as the server received it

Replies are served in order; when the queue is empty, `responder(request)` answers (by
default a refusal to guess). A `Reply` can also be a fault: an HTTP status, a stall, a
malformed body, or a stream cut after some tokens. `latency_s` and `per_token_s` model a
real server's time to first token and decoding speed; `served` records how long each call
spent inside the server, so benchmarks can tell waiting on the model from everything else.
`slots` caps the requests served at once, as llama-server's `-np`, and is stated at /props as
`total_slots`: with `slots=1` one FakeLLM is one single-slot GPU endpoint, and a request waits
its turn (that wait is not in `served`).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer to one chat request."""

    content: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stall_s: float = 0.0
    """Seconds to wait before sending anything (past the client's read timeout: a stall)."""
    malformed: bool = False
    """Send a body that is not JSON."""
    cut_after: int | None = None
    """Streaming only: drop the connection after this many tokens."""


def tokens_of(text: str) -> list[str]:
    return re.findall(r"\s*\S+|\s+", text)


def free_port() -> int:
    """A port on 127.0.0.1 where nothing listens (until someone binds it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def dead_url() -> str:
    """An endpoint on 127.0.0.1 where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/v1"


class _QuietServer(ThreadingHTTPServer):
    fake: FakeLLM

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client hanging up mid-request is one of the faults under test


class FakeLLM:
    """The server; use it as a context manager."""

    def __init__(
        self, model: str = "fake-model", latency_s: float = 0.0, per_token_s: float = 0.0,
        context: int | None = None, slots: int | None = None,
    ) -> None:  # fmt: skip
        self.model = model
        self.context = context
        """A context window in tokens (a word each, as `usage` counts them), stated at /props as
        llama.cpp does; a longer prompt is refused with llama.cpp's error."""
        self.latency_s = latency_s
        self.per_token_s = per_token_s
        self.slots = slots
        """Requests served at once (None: no limit); the others wait for a slot."""
        self._slots = threading.BoundedSemaphore(slots) if slots else None
        self.replies: deque[Reply | str] = deque()
        self.responder: Callable[[dict[str, Any]], Reply | str] = lambda request: "I cannot tell."
        self.requests: list[dict[str, Any]] = []
        self.served: list[float] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def queue(self, *replies: Reply | str) -> FakeLLM:
        self.replies.extend(replies)
        return self

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ----- what the handler asks of the server

    def slot(self) -> AbstractContextManager[object]:
        """Held while a reply is produced: a free slot, or nothing to wait for without `slots`."""
        return self._slots if self._slots is not None else nullcontext()

    def next_reply(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(request)
            reply = self.replies.popleft() if self.replies else self.responder(request)
        return Reply(content=reply) if isinstance(reply, str) else reply


class _Handler(BaseHTTPRequestHandler):
    """One HTTP exchange with the test server, as an OpenAI-compatible server answers it."""

    protocol_version = "HTTP/1.1"
    server: _QuietServer

    @property
    def fake(self) -> FakeLLM:
        return self.server.fake

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        # As real servers do: without it, Nagle's algorithm and delayed ACKs hold each
        # small SSE event back for up to 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/props") and (self.fake.context or self.fake.slots):
            props: dict[str, Any] = {"total_slots": self.fake.slots} if self.fake.slots else {}
            if self.fake.context:
                props["default_generation_settings"] = {"n_ctx": self.fake.context}
            self._send_json(200, props)
        elif self.path.rstrip("/").endswith("/models"):
            body = {"object": "list", "data": [{"id": self.fake.model, "object": "model"}]}
            self._send_json(200, body)
        else:
            self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": "not found"}})
            return
        with self.fake.slot():
            started = time.perf_counter()
            reply = self.fake.next_reply(request)
            try:
                self._answer(request, reply)
            finally:
                self.fake.served.append(time.perf_counter() - started)

    def _answer(self, request: dict[str, Any], reply: Reply) -> None:
        time.sleep(reply.stall_s + self.fake.latency_s)
        prompt = usage(request, "")["prompt_tokens"]
        if self.fake.context and prompt >= self.fake.context:
            message = (f"request ({prompt} tokens) exceeds the available context size "
                       f"({self.fake.context} tokens), try increasing it")  # fmt: skip
            body = {"error": {"code": 400, "message": message, "type": "exceed_context_size_error"}}
            self._send_json(400, body)
        elif reply.status != 200:
            body = {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}
            self._send_json(reply.status, body, reply.headers)
        elif reply.malformed:
            self._send_raw(200, b"{this is not json", "application/json")
        elif request.get("stream"):
            self._stream(request, reply)
        else:
            time.sleep(self.fake.per_token_s * len(tokens_of(reply.content)))
            self._send_json(200, completion(self.fake.model, request, reply.content))

    def _stream(self, request: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = tokens_of(reply.content)
        for n, piece in enumerate(pieces):
            if reply.cut_after is not None and n >= reply.cut_after:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)  # no terminating chunk
                self.close_connection = True
                return
            time.sleep(self.fake.per_token_s)
            self._event(chunk(self.fake.model, {"content": piece}, None))
        self._event(chunk(self.fake.model, {}, "stop"))
        if (request.get("stream_options") or {}).get("include_usage"):
            self._event({**chunk(self.fake.model, {}, None), "choices": [],
                         "usage": usage(request, reply.content)})  # fmt: skip
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")

    def _event(self, payload: dict[str, Any]) -> None:
        self._write_chunk(f"data: {json.dumps(payload)}\n\n".encode())

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(body).encode(), "application/json", headers)

    def _send_raw(self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def usage(request: dict[str, Any], content: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
    completion_tokens = len(tokens_of(content))
    return {"prompt_tokens": prompt, "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens}  # fmt: skip


def completion(model: str, request: dict[str, Any], content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": usage(request, content),
    }  # fmt: skip


def chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
        "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }  # fmt: skip
