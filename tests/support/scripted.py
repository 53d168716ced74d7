"""Scripted model replies that read the request as a real model would.

    server.responder = model(grader_keeping(NET_SALES), net_sales_answer)

A grading call gets JSON keeping the passages that contain a needle; an answer call (the
streamed one) gets an answer citing the passage numbers the agent actually sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from compliance_auditor.agent.graph import Event, stream
from compliance_auditor.index.store import AuditIndex
from compliance_auditor.records import AnswerRecord

Request = dict[str, Any]
QUESTION = "What were Ulta Beauty's net sales in the fourth quarter of fiscal 2022?"
NET_SALES = "Net sales |"  # the row of an income-statement table


def passages(request: Request) -> dict[int, str]:
    """The numbered passages of a request, as the model sees them."""
    user = request["messages"][-1]["content"]
    return {
        int(n): text for n, text in re.findall(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S)
    }


def number_of(request: Request, needle: str) -> int:
    """The number of the first passage that contains `needle`."""
    return next(n for n, text in passages(request).items() if needle in text)


def is_answer_request(request: Request) -> bool:
    return bool(request.get("stream"))


def grader_keeping(*needles: str, enough: bool = True, search: str = "") -> Callable[[Request], str]:
    """A grade reply keeping the passages that contain any of `needles`."""

    def reply(request: Request) -> str:
        keep = [n for n, text in passages(request).items() if any(x in text for x in needles)]
        return json.dumps({"relevant": keep, "enough": enough, "search": search})

    return reply


def model(grade: Callable[[Request], Any], answer: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """A responder: `grade(request)` for grading calls, `answer(request)` for answer calls."""
    return lambda request: answer(request) if is_answer_request(request) else grade(request)


def net_sales_answer(request: Request) -> str:
    """What a careful model writes from the first table row of net sales it was given."""
    n = number_of(request, NET_SALES)
    now, before = re.findall(r"\$([\d,.]+)", passages(request)[n].split(NET_SALES, 1)[1])[:2]
    unit = "million" if "." in now else "thousand"
    return (
        f"Net sales in the fourth quarter of fiscal 2022 were ${now} {unit} [{n}], up from "
        f"${before} {unit} a year earlier [{n}]. That is an increase of "
        f"(${now} - ${before}) / ${before} = 18.2% [{n}]."
    )


def careful_model() -> Callable[[Request], Any]:
    """Grades keeping the net-sales rows, and answers from them: the happy path."""
    return model(grader_keeping(NET_SALES), net_sales_answer)


def run(
    question: str, index: AuditIndex, filters: dict[str, Any] | None = None
) -> tuple[AnswerRecord, list[Event]]:
    """Every event of the agent on a question, and its result."""
    events = list(stream(question, filters, index=index))
    result = events[-1].result
    assert result is not None
    return result, events
