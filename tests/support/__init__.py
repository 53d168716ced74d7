"""What the tests (and the benchmarks) share: the OpenAI-protocol test server (`fake_llm`),
scripted model replies (`scripted`), the committed filings (`filings`), generated PDFs
(`pdfs`), answer records built from real searches (`answers`), and a real app in a real
browser (`browser`)."""
