"""Personal data: e-mail addresses, phone numbers, payment cards (Luhn-checked), IPs."""

from __future__ import annotations

from copilot.redact.rules import Rule, compile_rule


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` (separators ignored) pass the Luhn checksum of card numbers."""
    nums = [int(c) for c in digits if c.isdigit()]
    if len(nums) < 2:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def card_number_ok(text: str) -> bool:
    """A plausible payment card: 13-19 digits, a card-network first digit, Luhn-valid."""
    digits = "".join(c for c in text if c.isdigit())
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

PII_RULES: tuple[Rule, ...] = (
    compile_rule(
        "email",
        r"(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}"
        r"(?![\w-])",
        keywords=("@",),
        allow=(r"^git@",),
        kind="pii",
        description="e-mail address",
    ),
    compile_rule(
        "phone",
        r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}"
        r"(?![\w.-]*\d)|(?<![\w+])\+[1-9]\d{7,14}(?!\d)",
        kind="pii",
        description="phone number (NANP-style with separators, or E.164 +CCNNN...)",
    ),
    compile_rule(
        "payment-card",
        r"(?<![\d.-])(?:\d[ -]?){12,18}\d(?![\d-])",
        kind="pii",
        validate=card_number_ok,
        tags=("luhn",),
        description="payment card number (13-19 digits, Luhn check)",
    ),
)

IP_RULES: tuple[Rule, ...] = (
    compile_rule(
        "ipv4",
        rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\.?\d)",
        keywords=(".",),
        kind="pii",
        description="IPv4 address (off by default: incidents need them)",
    ),
    compile_rule(
        "ipv6",
        r"(?<![:\w])(?:[A-Fa-f0-9]{1,4}:){7}[A-Fa-f0-9]{1,4}(?![:\w])"
        r"|(?<![:\w])(?:[A-Fa-f0-9]{1,4}:){1,6}:(?:[A-Fa-f0-9]{1,4}:){0,5}[A-Fa-f0-9]{1,4}(?![:\w])",
        keywords=(":",),
        kind="pii",
        description="IPv6 address (off by default)",
    ),
)
