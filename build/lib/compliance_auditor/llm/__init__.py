"""The language model behind a failover pool of endpoints (`pool.LLMPool`), where filing text
goes (`endpoints`), and what a reasoning model says before its answer (`reasoning`)."""
