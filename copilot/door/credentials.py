"""Which arguments of a call hold a credential, by what they are called.

Arguments are stored, hashed, audited and shown to approvers, so a secret in them would
leave the process in clear. The redactor finds secrets by their format or their context
in text; an argument is also a credential when its own name says so (``password``,
``db_token``, ``apiKey``), or when a sibling argument names it (``key=PAYMENTS_PASSWORD``
next to ``value=...``, or a key of a mapping such as ``env={"DB_PASSWORD": ...}``). Such a
value is refused unless it is a reference, ``secret:NAME``, which names the secret in the
operator's secret store instead of carrying it (NAME: words in one case joined by ``-``,
``_``, ``.`` or ``/``, such as ``payments-db-password`` or ``PAYMENTS_PASSWORD``).

Names are compared as words: case, camelCase and the separators ``_ - . : /`` and spaces do
not matter. A name is not a credential when a word after the credential word says it is
*about* one (``token_ttl``, ``password_file``, ``secret_name``, ``token_bucket_size``,
``auth_url``), the same convention the redactor's assignment rules use; ``key`` alone is a
config key's name, not an API key, and ``max_tokens`` counts tokens of text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import regex

from copilot.redact.builtin_generic import SECRET_REFERENCE

# A reference to a secret kept elsewhere: what a tool that needs a secret takes instead
# (the redactor's own notion of one, so that what passes here is never redacted there).
REFERENCE = regex.compile(SECRET_REFERENCE)

# Words that are a credential on their own, and pairs of words that are.
_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "pass", "pw", "passphrase", "secret", "secrets", "token",
        "credential", "credentials", "creds", "cred", "auth", "authorization", "bearer",
        "jwt", "apikey",
        "privatekey", "accesskey", "secretkey", "clientsecret", "authtoken", "accesstoken",
        "refreshtoken", "sessiontoken", "bearertoken", "cookie",
    }
)  # fmt: skip
_KEY_KINDS = frozenset(
    {"api", "access", "private", "secret", "signing", "encryption", "master", "session"}
)
_PAIRS = {(kind, "key") for kind in _KEY_KINDS} | {("client", "secret"), ("ssh", "key")}
# Parts of one word written without separators (``dbpassword``, ``myapikey``).
_STEMS = ("password", "passwd", "passphrase", "secret", "credential", "apikey", "privatekey")
# A word after the credential word that makes the name about the credential, not it.
_ABOUT = frozenset(
    {
        "name", "names", "ref", "reference", "path", "file", "filename", "dir", "type",
        "kind", "url", "uri", "endpoint", "host", "length", "len", "expiry", "expires",
        "expiration", "expired", "ttl", "age", "count", "size", "limit", "limits", "bucket",
        "header", "field", "mount", "version", "algorithm", "algo", "policy", "usage",
        "method", "format", "hint", "prompt", "reset", "id", "ids", "rotation", "rotated",
        "provider", "scope", "scopes", "issuer", "audience", "store", "vault", "required",
        "enabled", "disabled", "timeout", "strength", "changed", "valid", "present", "set",
        "mode", "budget", "status", "source", "sources", "rate", "through", "thru",
    }
)  # fmt: skip
# Arguments that name a setting (their value is the setting's name) ...
_NAMING = frozenset({"key", "name", "variable", "var", "env", "setting", "param", "field"})
# ... and those that carry the value of the setting they name.
_VALUES = frozenset({"value", "val", "values", "data", "content", "contents", "text"})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s_.:/-]+")


def words(name: str) -> list[str]:
    """``dbPassword`` / ``DB_PASSWORD`` / ``db-password`` -> ``["db", "password"]``."""
    return [w for w in _SEPARATORS.split(_CAMEL.sub(" ", name).lower()) if w]


def credential_word(name: str) -> str | None:
    """The word that makes ``name`` a credential's name (None: it is not one)."""
    ws = words(name)
    for i, w in enumerate(ws):
        hit = None
        if w in _WORDS:
            hit = w
        elif i + 1 < len(ws) and (w, ws[i + 1]) in _PAIRS:
            hit = f"{w} {ws[i + 1]}"
        elif any(stem in w for stem in _STEMS) and not any(w.endswith(a) for a in _ABOUT):
            hit = w
        if hit is not None and not _ABOUT.intersection(ws[i + 1 :]):
            return hit
    return None


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and REFERENCE.fullmatch(value) is not None


@dataclass(frozen=True)
class CredentialArgument:
    path: str  # where it is: ``value``, ``env.DB_PASSWORD``
    named_by: str  # the name that says it is a credential
    word: str  # the word in that name


def credential_arguments(arguments: dict[str, Any]) -> list[CredentialArgument]:
    """Every string in ``arguments`` (nested too) that a name calls a credential and that is
    not a reference (:data:`REFERENCE`) or empty."""
    return [
        found
        for found, value in _walk(arguments, "")
        if isinstance(value, str) and value and not is_reference(value)
    ]


def _walk(mapping: dict[str, Any], prefix: str) -> Iterator[tuple[CredentialArgument, Any]]:
    # A naming argument whose value is a credential's name makes its value siblings credentials.
    named = [
        (str(v), word)
        for k, v in mapping.items()
        if isinstance(v, str) and _last(k) in _NAMING and (word := credential_word(v))
    ]
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        word = credential_word(str(key))
        if word is not None:
            yield from ((CredentialArgument(path, str(key), word), v) for v in _leaves(value))
        elif named and _last(key) in _VALUES:
            name, word = named[0]
            yield from ((CredentialArgument(path, name, word), v) for v in _leaves(value))
        elif isinstance(value, dict):
            yield from _walk(value, f"{path}.")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _walk(item, f"{path}.")


def assignments(arguments: dict[str, Any]) -> Iterator[str]:
    """``name=value`` for every string in ``arguments``, ``name`` its innermost key: the
    redactor's context rules (``password=...``) then see each argument as the pair it is."""
    for key, value in arguments.items():
        if isinstance(value, str):
            yield f"{key}={value}"
        elif isinstance(value, dict):
            yield from assignments(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    yield f"{key}={item}"
                elif isinstance(item, dict):
                    yield from assignments(item)


def _last(name: Any) -> str:
    ws = words(str(name))
    return ws[-1] if ws else ""


def _leaves(value: Any) -> Iterator[Any]:
    """Every scalar inside ``value``."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value
