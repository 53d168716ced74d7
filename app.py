"""Financial Compliance Auditor: the analyst's workbench in the browser.

Ask a question about the indexed filings and watch the agent work; the answer streams in,
every claim cited. Pick a citation to see its page with the quoted text highlighted. Upload
filings, fix their metadata, export an answer as a workpaper, sign it off. Run it with
``./launch.sh``. Everything is served from this machine: no CDN, no fonts, no telemetry.

The parts of the page live in `compliance_auditor/workbench/`.
"""

from __future__ import annotations

import streamlit as st

from compliance_auditor.audit.history import answers_of
from compliance_auditor.config import get_settings
from compliance_auditor.workbench import (
    ask,
    changes,
    library,
    procedures,
    review,
    settings_admin,
    sidebar,
    signin,
    tieout,
)
from compliance_auditor.workbench.resources import freeze_the_loaded_heap, load_workbench

settings = get_settings()
st.set_page_config(page_title="Financial Compliance Auditor", page_icon="📑", layout="wide")
identity = signin.who_is_asking(settings)  # stops here when nobody may use the page

workbench = load_workbench(settings).seen_by(signin.visible_companies(identity, settings))
if "history" not in st.session_state:  # [{"question", "result"}]: the user's own, from the trail
    st.session_state.history = [{"question": r.question, "result": r} for r in answers_of(identity)]
st.session_state.setdefault("view", None)  # {"answer": i, "n": n, "page": page}

with st.sidebar:
    signin.signed_in_line(identity, settings)
    filters = sidebar.render(workbench)
    settings_admin.render(workbench, identity)

reviewing = "reviewer" in identity.roles
ask_tab, procedures_tab, tieout_tab, changes_tab, library_tab, *review_tab = st.tabs(
    ["Ask", "Procedures", "Tie-out", "Changes", "Library", *(["Review"] if reviewing else [])]
)
with ask_tab:
    chat = ask.render_tab(workbench, identity)

cannot_ask = signin.permitted(identity, "ask")
question = st.chat_input(cannot_ask or "Ask about the filings…", disabled=bool(cannot_ask))
if question and signin.allowed(identity, "ask"):
    ask.answer_question(workbench, chat, question, filters, identity)

with procedures_tab:
    procedures.render_tab(workbench, identity)

with tieout_tab:
    tieout.render_tab(workbench)

with changes_tab:
    changes.render_tab(workbench)

with library_tab:
    library.render_tab(workbench, identity)

for tab in review_tab:
    with tab:
        review.render_tab(workbench, identity)

freeze_the_loaded_heap()
