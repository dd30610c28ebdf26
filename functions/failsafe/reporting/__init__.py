"""Incident timelines and reports: one timeline merged from real events, as Markdown, JSON or HTML."""
