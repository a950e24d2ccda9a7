"""The report: run summaries -> `model` (pure tables, levels and plot series) -> `files`
(Markdown, CSV, JSON, HTML) and `plots` (matplotlib, loaded only when a report is written)."""
