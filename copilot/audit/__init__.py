"""The append-only, hash-chained audit log."""

from copilot.audit.backing import backed_votes, verify_log
from copilot.audit.chain import AuditLog, VerifyReport, verify_chain

__all__ = ["AuditLog", "VerifyReport", "backed_votes", "verify_chain", "verify_log"]
