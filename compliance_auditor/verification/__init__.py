"""The answer check, without a model: numbers (`numbers`), sentences and their citations
(`sentences`), line items (`line_items`), the scale a question asks for (`scales`), and the
check itself with its citation repair (`check`)."""
