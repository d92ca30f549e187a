"""Canary secrets: well-formed fakes the redactor must catch, each with a distinctive part
to look for wherever it might leak (files, tables, replies, logs)."""

from __future__ import annotations

from pathlib import Path

GITHUB_TOKEN = "ghp_" + "Zq8Xw3Lm9Tn2Vb7Rk4Hs6Jd1Fp5Gc0Ya8Ue3I"
AWS_KEY_ID = "AKIA" + "Q3ZT7XW2PLM4R6VN"
PASSWORD = "Vx9mQ2tR7zKw4"
PEM_BODY = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
PEM_BLOCK = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    f"{PEM_BODY}\n"
    "VIu2cBkeP1Jm3qfX0bWzsg8s8hPq3d9pL2w0rQ7xTn4yUe6aK5jH1cV\n"
    "-----END RSA PRIVATE KEY-----"
)

# One line a person might paste holding all four kinds of secret.
PASTE = f"our token {GITHUB_TOKEN} and key {AWS_KEY_ID} leaked; db password={PASSWORD}\n{PEM_BLOCK}"

# What must never be found in clear: a distinctive part of each secret (the PEM block's
# first body line, and bytes the placeholders cannot contain).
NEEDLES = {
    "github token": GITHUB_TOKEN[4:],
    "aws key id": AWS_KEY_ID[4:],
    "password": PASSWORD,
    "pem block": PEM_BODY[12:],
}


def leaks(text: str) -> list[str]:
    """The names of the canaries found in ``text``."""
    return [name for name, needle in NEEDLES.items() if needle in text]


def leaks_in_files(root: Path) -> dict[str, list[str]]:
    """Every file under ``root`` read as bytes (SQLite WAL and Chroma's index files too):
    the canaries each holds, by relative path."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        hits = [
            name
            for name, needle in NEEDLES.items()
            if needle.encode() in data or needle.encode("utf-16-le") in data
        ]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found
