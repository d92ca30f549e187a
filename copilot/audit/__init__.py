"""The append-only, hash-chained audit log."""

from copilot.audit.chain import AuditLog, VerifyReport, verify_chain

__all__ = ["AuditLog", "VerifyReport", "verify_chain"]
