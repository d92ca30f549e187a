"""Postmortem drafts: offline (extractive) or by the configured model, always through the
grounding check; rendered as Markdown."""
