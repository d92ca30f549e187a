"""Random values in the shapes of real logs and credentials, for the log generator.

Every value is built from random characters in its documented format; none is copied.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Callable

ALNUM = string.ascii_letters + string.digits
UPPER32 = string.ascii_uppercase + "234567"
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"


def _s(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choices(alphabet, k=n))


def _mixed(rng: random.Random, alphabet: str, n: int) -> str:
    """Random text that holds a lower-case letter, an upper-case letter and a digit (as any
    real token of that length almost surely does)."""
    while True:
        out = _s(rng, alphabet, n)
        kinds = (str.islower, str.isupper, str.isdigit)
        if all(any(k(c) for c in out) for k in kinds):
            return out


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _password(rng: random.Random) -> str:
    return _mixed(rng, ALNUM + "!#%^*-_+", rng.randint(14, 24))


def _url_password(rng: random.Random) -> str:
    """A password as it appears inside a URL (percent-encoding keeps ``#@/?`` out)."""
    return _mixed(rng, ALNUM + "!*-_.~%", rng.randint(14, 24))


# --- secret formats: (kind, maker) -------------------------------------------------------
def _jwt(rng: random.Random) -> str:
    head = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = {
        "sub": _s(rng, HEX, 12),
        "iat": rng.randint(1_600_000_000, 1_800_000_000),
        "scope": "api",
    }
    return f"{head}.{_b64url(json.dumps(claims).encode())}.{_b64url(rng.randbytes(32))}"


TOKENS: dict[str, Callable[[random.Random], str]] = {
    "aws-access-key-id": lambda r: "AKIA" + _s(r, UPPER32, 16),
    "github-token": lambda r: "ghp_" + _mixed(r, ALNUM, 36),
    "github-fine-grained-pat": lambda r: (
        f"github_pat_{_mixed(r, ALNUM, 22)}_{_mixed(r, ALNUM, 59)}"
    ),
    "gitlab-token": lambda r: "glpat-" + _mixed(r, ALNUM + "_-", 20),
    "slack-token": lambda r: (
        f"xoxb-{_s(r, '123456789', 11)}-{_s(r, '123456789', 13)}-{_mixed(r, ALNUM, 24)}"
    ),
    "stripe-secret-key": lambda r: "sk_live_" + _mixed(r, ALNUM, 24),
    "gcp-api-key": lambda r: "AIza" + _mixed(r, ALNUM + "_-", 35),
    "sendgrid-api-key": lambda r: f"SG.{_mixed(r, B64URL, 22)}.{_mixed(r, B64URL, 43)}",
    "npm-access-token": lambda r: "npm_" + _mixed(r, ALNUM, 36),
    "openai-api-key": lambda r: "sk-proj-" + _mixed(r, ALNUM + "_-", 48),
    "anthropic-api-key": lambda r: "sk-ant-api03-" + _mixed(r, ALNUM + "_-", 93) + "AA",
    "jwt": _jwt,
}


def _pem(rng: random.Random) -> tuple[str, str, str]:
    kind = rng.choice(("RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY"))
    raw = base64.b64encode(rng.randbytes(rng.choice((121, 300, 900)))).decode()
    body = "\n".join(raw[i : i + 64] for i in range(0, len(raw), 64))
    return f"-----BEGIN {kind}-----\n", body, f"\n-----END {kind}-----"


# --- benign material ---------------------------------------------------------------------
def _ts(rng: random.Random, i: int) -> str:
    s = 36000 + i // 7
    ms = rng.randint(0, 999)
    return f"2026-11-27T{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{ms:03d}Z"


def _uuid(rng: random.Random) -> str:
    h = _s(rng, HEX, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _numeric_id(rng: random.Random) -> str:
    """A 16-digit id; about one in twenty passes the Luhn check and starts like a card."""
    return str(rng.randint(10**15, 10**16 - 1))


def _ip(rng: random.Random) -> str:
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def _pod(rng: random.Random, svc: str) -> str:
    return (
        f"{svc}-{_s(rng, HEX[:10] + 'bcdfghjklm', 10)}-{_s(rng, 'bcdfghjklmnpqrstvwxz2456789', 5)}"
    )
