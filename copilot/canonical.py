"""Canonical JSON (RFC 8785) and the hashes approvals are bound to."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as RFC 8785 canonical JSON bytes (sorted keys, no whitespace)."""
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_hash(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``: the identity of exact arguments or a plan."""
    return sha256_hex(canonical_json(value))
