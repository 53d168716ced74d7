"""Parsing: a PDF becomes a `ParsedFiling` (metadata, chunks with page and box) through small
stages behind one converter (`converter.parse_document`), run in a child process by
`worker.ParseJob`."""
