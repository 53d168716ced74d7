"""The analyst's workbench in the browser: the parts `app.py` puts on the page.

resources.py  what every session shares: the index, the ingestion worker, health probes
sidebar.py    model health, index size, the scope of the questions
answers.py    one answer in the chat, its sources, sign-off and workpaper; the page viewer
ask.py        the Ask tab: the chat history and a new question streamed in
library.py    the Library tab: upload, list, correct and delete filings
"""
