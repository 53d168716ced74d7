"""The index: embeddings, the LanceDB tables and their rows, hybrid search. `store.AuditIndex` is its API."""
