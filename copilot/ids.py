"""Ids the copilot mints (``prp_...`` proposals, ``apr_...`` approvals), and how to know one
(and the hex digests it computes), so that the redactor leaves them alone.

An id is written into the audit log, cards, replies and prompts, all of which pass the
redactor; an id that a detector matched would lose its subject there (a hex id whose
digits passed the card rule's Luhn check became ``apr_[REDACTED:payment-card:1]a9d``).
So ids are minted from lower-case consonants: no digit (card, phone and digit rules),
no vowel (no word such as ``key``, ``token`` or ``pass`` that context rules look for), no
upper case, ``+``, ``/`` or ``=`` (base64 and vendor token formats). Sixteen of twenty
letters carry 69 bits, as many as the 16 hex characters (64 bits) of the ids minted before,
which stay valid: an id is only ever compared as a string. The redactor also leaves a
proposal or approval id alone (:func:`inside_system_id`), so an old hex id keeps its
subject in new events too.
"""

from __future__ import annotations

import secrets

import regex

ALPHABET = "bcdfghjklmnpqrstvwxz"
LENGTH = 16

# What the copilot mints ids for: proposals and approvals. The redactor's exception covers
# these prefixes only, so that a secret cannot pass by looking like some other id.
PREFIXES = ("prp", "apr")
# A minted id, or one minted before as 16 hex characters.
_SYSTEM_ID = regex.compile(
    rf"(?:{'|'.join(PREFIXES)})_(?:[{ALPHABET}]{{{LENGTH}}}|[0-9a-f]{{{LENGTH}}})"
)
_PREFIX = regex.compile(r"[a-z]{3}")
_ID_CHARS = LENGTH + 4  # with its prefix and underscore
_DIGEST = regex.compile(r"[0-9a-f]{64}")
_DIGEST_CHARS = 64


def new_id(prefix: str) -> str:
    """A fresh random id such as ``apr_kqzvtbmdxhgrwpcs``."""
    if _PREFIX.fullmatch(prefix) is None:
        raise ValueError(f"an id prefix is three lower-case letters, not {prefix!r}")
    return f"{prefix}_{''.join(secrets.choice(ALPHABET) for _ in range(LENGTH))}"


def is_system_id(text: str) -> bool:
    """Whether ``text`` is an id of one of :data:`PREFIXES`, minted now or before."""
    return _SYSTEM_ID.fullmatch(text) is not None


def inside_system_id(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` lies within one word of ``text`` that is a system id
    (:func:`is_system_id`): the redactor drops such a finding."""
    word = _word_around(text, start, end, _ID_CHARS)
    return word is not None and _SYSTEM_ID.fullmatch(text, *word) is not None


def inside_digest(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` lies within one word of ``text`` that is a SHA-256 hex
    digest: the audit chain's hashes, an approval's ``args_hash``. The redactor drops a
    personal-data finding there (a run of 13 digits in a digest is no card number, and
    about one digest in 500 has one that passes the Luhn check)."""
    word = _word_around(text, start, end, _DIGEST_CHARS)
    return word is not None and _DIGEST.fullmatch(text, *word) is not None


def _word_around(text: str, start: int, end: int, size: int) -> tuple[int, int] | None:
    """The word (letters, digits, ``_``) holding ``text[start:end]`` if it is ``size``
    characters long; looks no further than that either side."""
    if end - start > size:
        return None
    lo = start
    while lo > 0 and lo > end - size - 1 and _word_char(text[lo - 1]):
        lo -= 1
    hi = end
    while hi < len(text) and hi < lo + size + 1 and _word_char(text[hi]):
        hi += 1
    return (lo, hi) if hi - lo == size else None


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"
