"""What a question says beyond its words: the filings it names and the vocabulary it implies.

Pure functions of the question (and the list of indexed filings), shared by the search and
the agent:
- `derive_filters`: a company or ticker the index knows, a fiscal quarter and year, a form type;
- `expand_query`: the words filings use for the metrics a question names ("capex" is
  "purchases of property, plant and equipment" on a cash-flow statement);
- `by_company`: which filings are one company's, however their covers spell its name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Analysts name metrics; filings name line items and statements. Each entry adds the words
# a filing uses for a metric the question names (general accounting vocabulary).
FINANCE_TERMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), words)
    for p, words in [
        (
            r"cap(ital)?[\s-]*ex",
            "purchases of property plant and equipment capital expenditures "
            "cash flow statement investing activities",
        ),
        (
            r"free cash ?flow|cash ?flow conversion|cash conversion",
            "net cash provided by operating "
            "activities purchases of property and equipment cash flow statement",
        ),
        (r"\brevenue|top[\s-]?line|\bsales\b", "net sales total revenues income statement"),
        (r"gross (margin|profit)", "gross profit gross margin cost of sales revenue income statement"),
        (r"operating (margin|income|profit)", "operating income revenue income statement"),
        (r"\bebitda\b", "operating income depreciation and amortization ebitda"),
        (
            r"net (income|profit|earnings)|net margin|\beps\b|earnings per share",
            "net income earnings per share income statement",
        ),
        (
            r"effective tax rate|income tax",
            "provision for income taxes effective tax rate income before income taxes",
        ),
        (
            r"quick ratio|current ratio|working capital|liquidity",
            "total current assets total current "
            "liabilities cash and cash equivalents receivables balance sheet",
        ),
        (r"inventor(y|ies)", "inventories merchandise inventories balance sheet cost of sales"),
        (r"fixed asset|\bpp&?e\b|property,? plant", "property plant and equipment net balance sheet"),
        (r"total assets|return on assets|\broa\b|asset turnover", "total assets balance sheet"),
        (r"\broe\b|return on equity|shareholders'? equity", "total shareholders equity balance sheet"),
        (r"\bdebt\b|leverage|borrowings", "long-term debt short-term borrowings notes balance sheet"),
        (r"interest (expense|coverage)", "interest expense income statement"),
        (r"dividend", "dividends paid cash dividends declared per share"),
        (r"buy ?backs?|repurchase", "repurchases of common stock treasury stock"),
        (r"receivable|\bdso\b", "accounts receivable net balance sheet"),
        (r"payable|\bdpo\b", "accounts payable balance sheet"),
        (r"depreciation|amortization|\bd&a\b", "depreciation and amortization cash flow statement"),
        (r"cash flow statement|statement of cash flows", "consolidated statements of cash flows"),
        (
            r"income statement|p&l|statement of (operations|income)",
            "consolidated statements of operations income",
        ),
        (r"balance sheet|statement of financial position", "consolidated balance sheets"),
        (r"segment", "segment information reportable segments"),
        (r"restructuring", "restructuring charges"),
        (r"goodwill|impairment", "goodwill impairment"),
    ]
]


def expand_query(question: str) -> str:
    """Filing vocabulary for the metrics a question names; empty when it names none."""
    return " ".join(dict.fromkeys(words for pattern, words in FINANCE_TERMS if pattern.search(question)))


STATEMENT_WORDS = {
    "income statement": re.compile(
        r"income statements?|statements? of (consolidated )?(operations|income|earnings)"
        r"|\bp&l\b|profit and loss",
        re.IGNORECASE,
    ),
    "balance sheet": re.compile(
        r"balance sheets?|statements? of financial (position|condition)", re.IGNORECASE
    ),
    "cash flow statement": re.compile(
        r"cash[ -]?flows? statements?|statements? of cash flows?", re.IGNORECASE
    ),
}
"""How a question or the vocabulary of its metrics names a primary statement."""


def statements_named(question: str) -> list[str]:
    """The primary statements a question names, or whose metrics it names (capex lives on the
    cash-flow statement, inventory on the balance sheet): the pages a search should look at."""
    text = f"{question} {expand_query(question)}"
    return [statement for statement, words in STATEMENT_WORDS.items() if words.search(text)]


METRIC_INPUTS: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(p, re.IGNORECASE), inputs)
    for p, inputs in [
        (r"\bebitda\b", ("operating income", "depreciation and amortization")),
        (r"cap(ital)?[\s-]*ex|capital expenditure", ("purchases of property and equipment",)),
        (
            r"free cash ?flow",
            ("net cash provided by operating activities", "purchases of property and equipment"),
        ),
        (r"inventory turnover|days (of )?inventory", ("cost of sales", "inventories")),
        (r"asset turnover|return on (total )?assets|\broa\b", ("total revenues net sales", "total assets")),
        (r"capital intensity", ("purchases of property and equipment", "total assets")),
        (r"quick ratio|current ratio|working capital", ("total current assets", "total current liabilities")),
        (r"\broe\b|return on equity", ("net income", "total shareholders equity")),
        (r"debt[\s-]to[\s-]equity|leverage ratio", ("long-term debt", "total shareholders equity")),
        (r"interest coverage", ("operating income", "interest expense")),
        (r"effective tax rate", ("provision for income taxes", "income before income taxes")),
        (r"(gross|operating|net|ebitda) margin", ("total revenues net sales",)),
        (r"dividend payout", ("dividends paid", "net income")),
        (
            r"\bdso\b|days sales outstanding|receivable turnover",
            ("accounts receivable", "total revenues net sales"),
        ),
        (r"\bdpo\b|days payable|payable turnover", ("accounts payable", "cost of sales")),
    ]
]
"""The inputs of calculated metrics, each a line item the filing prints, to be searched apiece:
one query finds one statement and not the others."""


def metric_inputs(question: str) -> list[str]:
    """The line items a calculated metric the question names is made of; empty for none."""
    return list(
        dict.fromkeys(i for pattern, inputs in METRIC_INPUTS if pattern.search(question) for i in inputs)
    )


_SUFFIXES = re.compile(
    r"\b(the|inc|incorporated|corp|corporation|company|co|plc|ltd|limited|llc|holdings|group|sa|nv|ag)\b"
)
_GENERIC_FIRST_WORDS = {"general", "american", "international", "united", "first", "national",
                        "global", "new", "best", "foot", "johnson"}  # fmt: skip


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _core_words(name: str) -> list[str]:
    """A company name's words, lower case, without punctuation and legal suffixes."""
    return _SUFFIXES.sub(" ", re.sub(r"[^a-z0-9& ]", " ", re.sub(r"\.com\b", "", name.lower()))).split()


def company_key(name: str) -> str:
    """A company's name with case, punctuation and legal suffixes aside: "MGM Resorts
    International" and "MGM RESORTS INTERNATIONAL" are one company."""
    return "".join(_core_words(name))


def by_company(docs: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Filings grouped by company, by fiscal year within, under the latest one's name. One
    company's filings stay together when their covers spell its name differently ("MGM Resorts
    International", "MGM RESORTS INTERNATIONAL") or share a ticker."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        groups.setdefault(company_key(doc["company"] or ""), []).append(doc)
    owner: dict[str, str] = {}  # ticker -> the group holding it
    for key in list(groups):
        tickers = {str(d["ticker"]) for d in groups[key] if d.get("ticker")}
        into = next((owner[t] for t in tickers if t in owner), None)
        if into is not None:  # two spellings, one ticker: one company
            groups[into] += groups.pop(key)
        for ticker in tickers:
            owner.setdefault(ticker, into or key)
    found = {}
    for filings in groups.values():
        filings.sort(key=lambda d: d["fiscal_year"] or 0)
        found[filings[-1]["company"]] = filings
    return found


def company_aliases(doc: dict[str, Any]) -> set[str]:
    """Ways a question may name a filing's company: full name, short name, ticker."""
    aliases: set[str] = set()
    for name in (doc.get("company") or "", Path(doc.get("filename") or "").stem.split("_")[0]):
        if core := _core_words(name):
            aliases.add("".join(core))
            if len(core) == 3 and core[1] == "&":  # "Johnson & Johnson": J&J, JnJ
                aliases |= {f"{core[0][0]}&{core[2][0]}", f"{core[0][0]}n{core[2][0]}"}
            if len(core) > 1 and len(core[0]) >= 5 and core[0] not in _GENERIC_FIRST_WORDS:
                aliases.add(core[0])
    return {a for a in aliases if len(a) >= 2}


def _mentions_company(question: str, doc: dict[str, Any]) -> bool:
    ticker = doc.get("ticker") or ""
    if len(ticker) >= 2 and re.search(rf"(?<![A-Za-z]){re.escape(ticker)}(?![A-Za-z])", question):
        return True
    squashed = _squash(question)
    for alias in company_aliases(doc):
        if len(alias) >= 5 and alias in squashed:
            return True
        if len(alias) < 5 and re.search(rf"(?<![a-z0-9]){re.escape(alias)}(?![a-z0-9])", question.lower()):
            return True
    return False


def _years(question: str) -> list[int]:
    years = [int(y) for y in re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", question)]
    years += [2000 + int(y) for y in re.findall(r"\bFY\s?'?(\d\d)\b", question, re.IGNORECASE)]
    return years


_FORM_WORDS = [
    (re.compile(r"\b10-?K\b|annual report", re.IGNORECASE), "10-K"),
    (re.compile(r"\b10-?Q\b|quarterly report", re.IGNORECASE), "10-Q"),
    (re.compile(r"\b8-?K\b", re.IGNORECASE), "8-K"),
    (re.compile(r"earnings (release|report)|press release", re.IGNORECASE), "earnings release"),
]


def _form(question: str) -> str:
    return next((form for pattern, form in _FORM_WORDS if pattern.search(question)), "")


_QUARTER_WORDS = {"first": "Q1", "second": "Q2", "third": "Q3", "fourth": "Q4"}
_QUARTER = re.compile(
    r"\bQ([1-4])\b|\b([1-4])Q(?:\s?'?\d\d)?\b|\b(first|second|third|fourth)[\s-]quarter\b", re.I
)


def _quarter(question: str) -> str:
    """The fiscal quarter a question names ("Q2", "2Q23", "second quarter"), else ""."""
    found = _QUARTER.search(question)
    if not found:
        return ""
    number, digit, word = found.groups()
    return f"Q{number or digit}" if (number or digit) else _QUARTER_WORDS[word.lower()]


def _quarterly(scope: list[dict[str, Any]], quarter: str, years: list[int]) -> list[dict[str, Any]]:
    """The filings of the quarter named, in the year named, else one year earlier: a quarter of a
    fiscal year ending in the next calendar year ("Q2 of FY2024", ended July 2023) is stored
    under the year its period ends in."""
    of_quarter = [d for d in scope if d.get("fiscal_period") == quarter]
    for year in (max(years), max(years) - 1) if years else ():
        if found := [d for d in of_quarter if d["fiscal_year"] == year]:
            return found
    return of_quarter if not years else []


def derive_filters(question: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Company or ticker, fiscal quarter, fiscal year and form type named in the question, among
    `docs` (documents rows): only values some filing has, so a filter never matches nothing by
    itself."""
    if not docs:
        return {}
    filters: dict[str, Any] = {}
    # Every filing of a company named, however each cover's name was read.
    matched = [d for group in by_company(docs).values() if any(_mentions_company(question, g) for g in group)
               for d in group]  # fmt: skip
    if matched:
        filters["company"] = sorted({d["company"] for d in matched})
    scope = matched or docs
    years = _years(question)
    quarter = _quarter(question)
    if quarter and (quarterly := _quarterly(scope, quarter, years)):
        filters["fiscal_period"] = quarter
        if years:
            filters["fiscal_year"] = quarterly[0]["fiscal_year"]
        scope = quarterly
    elif years and any(d["fiscal_year"] == max(years) for d in scope):
        filters["fiscal_year"] = max(years)
        scope = [d for d in scope if d["fiscal_year"] == max(years)]
    form = _form(question)
    if form and any(d["form_type"] == form for d in scope):
        filters["form_type"] = form
    return filters
