"""Audit procedures: a checklist of questions, run across filings, reviewed and exported."""
