"""The sections of a draft, after the Google SRE workbook's postmortem template, and what a
ChatOps postmortem adds (the playbooks that ran, what automation did to recovery, gaps in
telemetry or authorisation, follow-ups to the runbooks)."""

from __future__ import annotations

UNKNOWN = "not established by the timeline"

SECTIONS = (
    "Summary",
    "Impact",
    "Timeline",
    "Root causes",
    "Trigger",
    "Resolution",
    "Detection",
    "What went well",
    "What went wrong",
    "Where we got lucky",
    "Playbooks and their outcomes",
    "Did automation shorten or lengthen recovery",
    "Gaps in telemetry or authorisation",
    "Follow-ups to the runbooks",
)
# Headings that group the sections above in the Markdown
GROUPS = {
    "What went well": "Lessons learned",
    "Playbooks and their outcomes": "Automation (ChatOps)",
}
