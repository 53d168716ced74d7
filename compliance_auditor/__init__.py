"""The Financial Compliance Auditor, organised by job.

The entry points sit at the top of the checkout: `app.py` (the workbench), `agent.py` (ask a
question), `database.py` (the index), `ingest.py` (add filings) and `config.py` (the settings).
Everything they use lives here; docs/architecture.md draws the map.

    config, logs, files, records  read by all; `config` imports nothing of ours
    questions, verification/      pure functions: what a question implies, whether an answer holds
    parsing/                      a PDF becomes a ParsedFiling, stage by stage, in a child process
    index/                        embeddings, the LanceDB tables, hybrid search
    ingestion                     files in, searchable filings out
    llm/                          the model pool: endpoints, breakers, retries, streaming, fair turns
    agent/                        the LangGraph agent: retrieve, grade, reflect, generate, verify
    audit/                        the hash-chained audit trail, sign-off, replay, its CLI
    snapshots, workpaper          highlighted page images, exported workpapers
    metrics                       Prometheus counters of the app process
    workbench/                    the parts of the Streamlit page
"""
