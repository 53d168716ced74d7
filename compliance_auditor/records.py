"""The records the auditor's parts share: one typed record per concept.

- `FilingMetadata`, `Chunk` and `ParsedFiling`: what parsing makes of a PDF, what ingestion
  embeds and what the index stores (its row builders read them).
- `Passage`: a piece of a filing with its exact place (file sha256, page, box). The search
  returns passages, the agent grades them and gives them to the model, and a `Citation` is a
  passage with the number `[n]` the answer cites it by.
- `ModelCall`: one attempt to call one model endpoint.
- `AnswerRecord`: everything about one answered (or refused) question. The agent returns it,
  the audit trail seals it, and replay, the workpaper, the app and the tests read it back.
- `SignOffRecord` and `FeedbackRecord`: a reviewer's verdict and an analyst's rating.

Boxes are ``[x0, top, x1, bottom]`` in PDF points from the page's top-left corner; pages are
0-based. This module imports nothing of the project but pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

Mode = Literal["answered", "evidence_only", "refused", "error"]
SearchMode = Literal["hybrid", "vector", "fts"]
Verdict = Literal["approved", "rejected", "needs-work"]
VERDICTS: tuple[str, ...] = ("approved", "rejected", "needs-work")

FILING_FIELDS = ("company", "ticker", "cik", "form_type", "fiscal_year", "fiscal_period", "period_end")
"""What a filing is, as a user may correct it: the index's documents and chunks carry each."""

FORM_10K, FORM_10Q, FORM_8K, FORM_EARNINGS = "10-K", "10-Q", "8-K", "earnings release"
FORM_TYPES = (FORM_10K, FORM_10Q, FORM_8K, FORM_EARNINGS)


# --------------------------------------------------------------------------- a parsed filing


@dataclass
class FilingMetadata:
    """What a filing is: read from its cover page, the filename as fallback."""

    company: str = ""
    ticker: str = ""
    cik: str = ""
    form_type: str = ""
    fiscal_year: int | None = None
    fiscal_period: str = ""
    period_end: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    """Where each field came from: "document", "filename", "override"."""

    def fields(self) -> dict[str, Any]:
        """The `FILING_FIELDS`, by name."""
        return {name: getattr(self, name) for name in FILING_FIELDS}


@dataclass
class Chunk:
    """One unit of retrieval: text that fits the embedding window, and where it sits."""

    text: str
    kind: str
    """"text" or "table"."""
    page: int
    bbox: list[float]
    item: str = ""
    """The 10-K/10-Q Item it belongs to ("7", "1A"), if any."""
    part: str = ""
    table_html: str = ""
    pages: list[int] = field(default_factory=list)
    heading: str = ""
    """The latest title above it ("Consolidated Balance Sheets › Equity")."""
    page_role: str = ""
    """Its page's role (`page_roles.PAGE_ROLES`: "balance sheet", "note", "mda", ...)."""


@dataclass
class ParsedFiling:
    """A parsed document, ready to embed: its chunks, metadata and page facts."""

    path: str
    filename: str
    """The name the user knows the file by (an upload is stored under a generated name)."""
    sha256: str
    meta: FilingMetadata
    page_count: int
    page_sizes: list[tuple[float, float]]
    chunks: list[Chunk]
    ocr_pages: list[int]
    unreadable_pages: list[int]
    seconds: float
    parser: str = "layout"
    parser_note: str = ""
    """Why the parser that ran is not the one asked for; empty when it is."""
    boilerplate: dict[int, str] = field(default_factory=dict)
    """Pages left out of the index, and what they are ("table of contents", ...)."""
    cpu_seconds: float = 0.0
    statements: list[StatementTable] = field(default_factory=list)
    """The primary statements' tables, row by row, for the tie-out."""

    @property
    def status(self) -> str:
        return "needs_ocr" if self.unreadable_pages else "ok"


# --------------------------------------------------------------------------- passages


class Passage(BaseModel):
    """A piece of a filing, with the exact place it came from."""

    chunk_id: str
    doc_sha256: str
    doc_name: str
    company: str = ""
    form_type: str = ""
    fiscal_year: int | None = None
    item: str = ""
    heading: str = ""
    kind: str = ""
    page_role: str = Field(
        default="", description="The page's role: balance sheet, note, mda, ... (page_roles.py)."
    )
    page: int
    pages: list[int] = []
    bbox: list[float]
    page_width: float = 0.0
    page_height: float = 0.0
    # Records written before the passage had one shape called the text "quote".
    text: str = Field(validation_alias=AliasChoices("text", "quote"))
    table_html: str = ""
    score: float = Field(default=0.0, description="Fused search score: higher ranks first.")
    search: int = Field(default=0, description="Which of the agent's searches (0-based) found it.")
    answer_line: str = Field(
        default="", description="With no model: the line that best answers the question."
    )

    def label(self) -> str:
        return f"{self.doc_name}, page {self.page + 1}"


class Citation(Passage):
    """A passage as an answer cites it: `[n]`."""

    n: int
    added: bool = Field(default=False, description="Cited by the verifier's repair, not by the model.")


class PassageRef(BaseModel):
    """Where a retrieved passage is, without its text: what the audit record keeps of every hit."""

    chunk_id: str
    doc_sha256: str = ""
    doc_name: str = ""
    page: int = 0


# --------------------------------------------------------------------------- the agent's steps


class ModelCall(BaseModel):
    """One attempt to call one model endpoint: what it cost and how it ended."""

    node: str
    endpoint: str
    seconds: float
    ok: bool
    input_tokens: int = 0
    output_tokens: int = 0
    error: str = ""
    skipped: bool = Field(default=False, description="Not attempted: the endpoint's breaker was open.")

    @property
    def outcome(self) -> str:
        """ok, skipped, or the kind of failure: a metric label with few values."""
        if self.ok:
            return "ok"
        return "skipped" if self.skipped else self.error.split(":", 1)[0]


class SearchRecord(BaseModel):
    """One search the agent made, as replay runs it again."""

    query: str
    filters: dict[str, Any] = {}
    derived: bool = False
    relaxed: list[str] = []
    hits: int = 0
    table_version: int | None = None
    documents_version: int | None = None
    ms: float = 0.0
    route: list[str] = Field(default=[], description="Statement pages and metric inputs also searched.")


class Grade(BaseModel):
    """The grader's verdict on one candidate passage."""

    chunk_id: str
    relevant: bool


class Reflection(BaseModel):
    """What the reflect step decided after grading, and why."""

    decision: Literal["generate", "retrieve", "give_up"]
    reason: str
    query: str = ""
    filters: dict[str, Any] | None = None


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


# --------------------------------------------------------------------------- answer checks


class CitationCheck(BaseModel):
    n: int
    resolved: bool


class NumberCheck(BaseModel):
    text: str = Field(description="The number as the answer wrote it.")
    value: float
    sentence: int = Field(description="Index of the sentence it is in.")
    verdict: Literal["quoted", "computed", "unverified", "wrong_metric", "wrong_scale"]
    source: str = Field(
        default="",
        description="Where it was found, or how it was recomputed; unverified: the passage the model "
        "was given but did not cite that holds it.",
    )
    found_as: str = Field(default="", description="wrong_metric: the line item the evidence gives it.")
    named_as: str = Field(default="", description="wrong_metric: the line item the answer gives it.")
    expected: str = Field(default="", description="wrong_scale: the figure at the scale the question asks.")


class CitationRepair(BaseModel):
    """Citations the verifier added to a sentence that stated figures without any."""

    sentence: int
    text: str
    citations: list[int]


class Verification(BaseModel):
    """The model-free check of an answer: citations resolve, numbers are supported."""

    ok: bool
    citations: list[CitationCheck] = []
    numbers: list[NumberCheck] = []
    unsupported_sentences: list[str] = []
    repairs: list[CitationRepair] = []
    warnings: list[str] = []


# --------------------------------------------------------------------------- the audit trail's records

CHAIN_FIELDS = ("id", "ts", "seq", "prev_hash", "hash")
"""Fields the audit trail sets when it seals a record."""


class Identity(BaseModel):
    """Who acts: authenticated by the identity provider (`oidc`), an authenticating proxy
    (`header`), or the operating system on a loopback-only app (`os`). Roles decide what they may do."""

    subject: str = Field(description="Stable id: the token's `sub`, the proxy's user, the OS login.")
    issuer: str = Field(description="Who vouches for it: the token's `iss`, `proxy <address>`, `os <host>`.")
    name: str = Field(default="", description="Display name (or e-mail) shown beside the records.")
    method: Literal["oidc", "header", "os"] = "os"
    roles: list[str] = Field(default=[], description="analyst, reviewer, admin.")
    workspaces: list[str] | None = Field(
        default=None, description="The workspaces whose filings they see; None: every filing."
    )

    @property
    def label(self) -> str:
        return self.name or self.subject


class ChainedRecord(BaseModel):
    """A record of the audit trail. The chain fields are empty until the trail seals it."""

    model_config = ConfigDict(extra="ignore")

    kind: str
    user: str = ""
    identity: Identity | None = Field(default=None, description="Who acted, as authenticated.")
    id: str = Field(default="", description="The record's id in the audit trail.")
    ts: str = Field(default="", description="When it was sealed (UTC, ISO 8601).")
    seq: int | None = Field(default=None, description="Its 0-based place in the chain.")
    prev_hash: str = ""
    hash: str = Field(default="", description="SHA-256 of its canonical JSON: for sign-off and export.")

    def to_chain(self) -> dict[str, Any]:
        """The record as the trail seals it: plain JSON, without the fields the trail sets."""
        return self.model_dump(mode="json", exclude=set(CHAIN_FIELDS))

    def sealed(self, stored: dict[str, Any]) -> None:
        """Take the chain fields (and the user) from the record as the trail stored it."""
        for name in (*CHAIN_FIELDS, "user"):
            setattr(self, name, stored[name])


class CellRef(BaseModel):
    """Which cell of which procedure run an answer fills: one item asked of one filing."""

    run_id: str
    procedure: str = Field(description="The procedure's name and version.")
    procedure_sha256: str = Field(description="The hash of the procedure file the run was started with.")
    item_id: str
    doc_sha256: str
    attempt: int = Field(default=0, description="0 when first asked; each re-run of the cell counts up.")


class AnswerRecord(ChainedRecord):
    """Everything an analyst, a reviewer or a script needs to trust (or distrust) an answer."""

    kind: Literal["answer"] = "answer"
    question_id: str = ""
    question: str
    filters: dict[str, Any] | None = Field(default=None, description="The caller's filters; None: derived.")
    answer: str = ""
    mode: Mode = "answered"
    complete: bool = Field(default=False, description="False when the answer stream never finished.")
    citations: list[Citation] = Field(default=[], description="The evidence the answer cites, by its [n].")
    evidence: list[Citation] = Field(default=[], description="All evidence the answer was given, numbered.")
    verification: Verification = Verification(ok=True)
    warnings: list[str] = []
    searches: list[SearchRecord] = []
    retrieved: list[PassageRef] = Field(default=[], description="Every hit of every search, deduplicated.")
    grades: list[Grade] = []
    reflections: list[Reflection] = []
    model: str = ""
    endpoint: str = ""
    provider: str = ""
    prompt_profile: str = ""
    prompt_hashes: list[str] = []
    table_version: int | None = Field(default=None, description="The chunk-table version searched.")
    documents_version: int | None = None
    search_mode: SearchMode = "hybrid"
    k: int | None = Field(default=None, description="Candidates per search.")
    started_at: str = ""
    latency_s: float = 0.0
    timings: dict[str, float] = Field(default={}, description="Seconds per node.")
    usage: Usage = Usage()
    llm_calls: int = 0
    llm_failures: int = 0
    calls: list[ModelCall] = Field(default=[], description="Every model call attempted.")
    passages_left_out: int = Field(default=0, description="Passages not shown to fit the model's window.")
    errors: list[str] = []
    cell: CellRef | None = Field(default=None, description="The procedure run cell this answers, if any.")

    def to_chain(self) -> dict[str, Any]:
        # The evidence beyond what is cited is in `retrieved` by reference; a table's HTML
        # repeats its text. Neither is worth its bytes in every record of the trail.
        leave_out: dict[str, Any] = {name: True for name in (*CHAIN_FIELDS, "evidence")}
        leave_out["citations"] = {"__all__": {"table_html"}}
        return self.model_dump(mode="json", exclude=leave_out)


class SignOffRecord(ChainedRecord):
    """A reviewer's verdict on an answer, referencing it by its hash."""

    kind: Literal["signoff"] = "signoff"
    answer_hash: str
    answer_id: str
    reviewer: str
    verdict: Verdict
    comment: str = ""


class FeedbackRecord(ChainedRecord):
    """An analyst's thumbs up or down on an answer."""

    kind: Literal["feedback"] = "feedback"
    answer_hash: str
    rating: Literal["up", "down"]
    comment: str = ""


# --------------------------------------------------------------------------- tie-out


class StatementFigure(BaseModel):
    """A figure in a statement table's cell: as printed, as a number, and where it stands."""

    model_config = ConfigDict(frozen=True)

    text: str = Field(description="As printed: '(1,234)', '—'.")
    value: float = Field(description="Parentheses and 'Less:' rows negative, a dash zero; table's scale.")
    tolerance: float = Field(description="Half a unit of the last digit printed.")
    box: list[float] = Field(default=[], description="The cell on the page (x0, top, x1, bottom).")


class StatementRow(BaseModel):
    """A row of a statement table that carries figures: its label, one figure per column."""

    model_config = ConfigDict(frozen=True)

    label: str
    figures: list[StatementFigure]
    page: int = Field(description="0-based page.")
    box: list[float] = Field(description="The row on the page (x0, top, x1, bottom).")
    partial: bool = Field(
        default=False,
        description="Fewer figures than the table has columns (a blank or unreadable cell), padded "
        "with zeros at the end: a total that does not tie over it is not called off.",
    )

    def figure(self, column: int) -> TieFigure:
        cell = self.figures[column]
        return TieFigure(label=self.label, text=cell.text, value=cell.value, page=self.page,
                         box=cell.box or self.box, column=column)  # fmt: skip


class StatementTable(BaseModel):
    """A table of a primary statement (income, balance sheet, cash flow) as parsed from a filing."""

    statement: str = Field(description="'income statement', 'balance sheet' or 'cash flow statement'.")
    heading: str
    page: int = Field(description="0-based page of its first row.")
    scale: float = Field(default=1.0, description="1e3 for '(in thousands)', 1e6 for millions; 1 unstated.")
    periods: list[str] = Field(
        default=[], description="Each figure column's heading (a year or a date), where the table prints one."
    )
    rows: list[StatementRow] = []


class TieFigure(BaseModel):
    """A figure a check involves, and where it stands."""

    label: str = Field(description="The row's label.")
    text: str = Field(description="The figure as printed.")
    value: float
    page: int = Field(description="0-based page.")
    box: list[float] = Field(description="The row's box on the page, in PDF points (x0, top, x1, bottom).")
    column: int = Field(description="Which figure column of the table (0: the first).")
    doc_sha256: str = Field(
        default="",
        description="The filing it is in, when not the check's: a prior-period check's earlier one.",
    )


class TieCheck(BaseModel):
    """One deterministic check of a filing's figures: a total against its components."""

    doc_sha256: str = ""
    kind: Literal["foot", "tie", "eps", "prior"] = Field(
        default="foot",
        description="foot: a total and its rows; tie: two statements; eps: earnings per share against net "
        "income over the weighted shares; prior: a prior-period figure against the earlier filing's.",
    )
    statement: str = Field(description="income statement, balance sheet, cash flow statement, …")
    heading: str = ""
    page: int = 0
    total: list[TieFigure] = Field(description="The total, one figure per column.")
    components: list[TieFigure] = []
    signs: list[int] = Field(default=[], description="+1 or -1 per component, as they were summed.")
    arithmetic: list[str] = Field(default=[], description="Per column, written out.")
    outcome: Literal["ties", "off", "unchecked", "revised"] = Field(
        description="ties; off (by `difference`, in `column`); unchecked (`reason` says why); revised: a "
        "prior check whose figure differs from the earlier filing's (revised or restated, not an error)."
    )
    column: int | None = Field(default=None, description="off, revised: the column that does not tie.")
    difference: float = Field(
        default=0.0, description="off: stated total minus the sum; revised: this filing's minus earlier's."
    )
    reason: str = ""


class FilingTieOut(BaseModel):
    """A filing's tie-out as stored with the index: its statement tables and every check."""

    doc_sha256: str
    doc_name: str = ""
    version: int = Field(description="The tie-out's own version: an older stored one is redone.")
    index_version: int = Field(default=0, description="The chunks table's version when it was computed.")
    computed_at: str = ""
    tables: list[StatementTable] = []
    checks: list[TieCheck] = []
