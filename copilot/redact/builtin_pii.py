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

# Shapes (see copilot.redact.rules.SHAPE_TABLE: digit 0, space or - 1, . 2, ( ) 3, + 4) that
# the run of digits around any match must hold, so only such runs are scanned:
# - a phone number ends in ddd<sep>dddd after ddd<sep> or (ddd) -- or is + and 8 digits;
_PHONE_SHAPES = (rb"000(?:3[12]?|[12])000[12]0000", rb"40{8}")
# - a card number is 13+ digits with single spaces or dashes between: at least 12
#   characters from its first to its last digit, none of them "." "(" ")" "+".
_CARD_SHAPES = (rb"0[01]{10,}0",)
# A value keyed as an id (trace_id, "orderId": ..., ID=) is an identifier, not a card number.
_NOT_AN_ID = (
    r"(?<!(?:(?<![A-Za-z0-9])|(?<=[_-]))(?:id|ID|Id)[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?"
    r"|(?<=[a-z])(?:Id|ID)[\"']?[ \t]{0,3}[:=][ \t]{0,3}[\"']?)"
)

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
        shapes=_PHONE_SHAPES,
        min_digits=8,
    ),
    compile_rule(
        "payment-card",
        # 13-19 digits, single spaces or dashes between (possessive: a separator is never given
        # back, it could not be a digit anyway -- same matches, bounded work)
        r"(?<![\d.-])" + _NOT_AN_ID + r"\d(?:[ -]?+\d){12,18}(?![\d-])",
        kind="pii",
        validate=card_number_ok,
        tags=("luhn",),
        description="payment card number (13-19 digits, Luhn check; not a value keyed as an id)",
        shapes=_CARD_SHAPES,
        min_digits=13,
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
