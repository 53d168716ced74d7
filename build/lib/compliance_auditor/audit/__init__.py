"""The audit trail: a hash-chained log of every answer (`chain`), its check (`chain_check`),
review (`signoff`), reproduction (`replay`) and its command line (`cli`, `python -m
compliance_auditor.audit`)."""
