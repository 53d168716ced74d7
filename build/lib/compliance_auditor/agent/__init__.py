"""The agent: retrieve → grade → reflect → generate → verify, as a LangGraph graph (`graph.py`)."""
