"""Ids the copilot mints are never redacted: no built-in rule matches one, in any context.

A hex id whose digits passed the card rule (about 1 in 4,000) lost its subject in the audit
log: ``apr_2811971443799a9d`` became ``apr_[REDACTED:payment-card:1]a9d``.
"""

from __future__ import annotations

import json
import random

import pytest

from copilot.ids import ALPHABET, LENGTH, inside_system_id, is_system_id, new_id
from copilot.redact.engine import Redactor
from copilot.redact.ruleset import default_redactor, rules_for

MINTED = 20_000
CARD_ID = "apr_2811971443799a9d"  # minted before: its digits pass the card rule's Luhn check


def every_rule() -> Redactor:
    """Every built-in rule: secrets, PII and the IP rules that are off by default."""
    return Redactor(rules_for(pii=True, ips=True))


def contexts(ids: list[str]) -> dict[str, str]:
    """Where ids turn up: alone, in sentences, as JSON values, after key names."""
    return {
        "lines": "\n".join(ids),
        "sentences": "\n".join(f"approval {i} approved by bob; see card {i}." for i in ids),
        "json": json.dumps([{"approval_id": i, "subject": i, "id": i} for i in ids]),
        "key=value": " ".join(f"subject={i} ref:{i}" for i in ids),
        "cli": "\n".join(f"copilot approve {i} --as bob" for i in ids),
    }


def test_minted_ids_have_the_shape_and_strength_of_the_old_ones():
    ids = {new_id("apr") for _ in range(1000)}
    assert len(ids) == 1000
    for i in ids:
        assert i.startswith("apr_") and len(i) == len("apr_") + LENGTH
        assert set(i[4:]) <= set(ALPHABET) and is_system_id(i)
    assert len(ALPHABET) ** LENGTH > 2**64  # at least as many as 16 hex characters
    assert not set(ALPHABET) & set("0123456789aeiouyABCDEF+/=")
    with pytest.raises(ValueError):
        new_id("APR")


@pytest.mark.parametrize("prefix", ["apr", "prp"])
def test_no_rule_changes_a_minted_id_in_any_context(prefix):
    ids = [new_id(prefix) for _ in range(MINTED)]
    redactor = every_rule()
    for where, text in contexts(ids).items():
        assert redactor.text(text) == text, f"an id was redacted in {where}"


def test_the_alphabet_alone_keeps_ids_out_of_every_rule():
    """Without the redactor's exception for ids (a prefix it does not know), the random part
    still matches nothing: the fix does not rest on the exception alone."""
    ids = [new_id("zzz") for _ in range(MINTED)]
    assert not any(is_system_id(i) for i in ids)
    redactor = every_rule()
    for where, text in contexts(ids).items():
        assert redactor.text(text) == text, f"an id was redacted in {where}"


def test_hex_ids_minted_before_are_left_alone_too():
    rng = random.Random(4000)
    ids = [CARD_ID, *(f"apr_{rng.getrandbits(64):016x}" for _ in range(MINTED))]
    redactor = every_rule()
    for where, text in contexts(ids).items():
        assert redactor.text(text) == text, f"a hex id was redacted in {where}"


def test_the_card_id_regression():
    # The digits on their own are a card number to the redactor ...
    assert "2811971443799" not in default_redactor().text("paid with 2811971443799")
    # ... but inside the id they are part of it, wherever the id is written.
    for text in (CARD_ID, f"approval {CARD_ID} approved", json.dumps({"subject": CARD_ID})):
        assert default_redactor().text(text) == text
    assert inside_system_id(CARD_ID, 4, 17) and is_system_id(CARD_ID)


@pytest.mark.parametrize(
    "text",
    [
        "card 2811971443799 paid",  # not inside an id
        "apr_2811971443799a9d0",  # one character too long: not an id
        "xyz_2811971443799a9d",  # a prefix the copilot does not mint
        "apr 2811971443799a9d",
    ],
)
def test_the_exception_is_only_for_real_ids(text):
    assert "2811971443799" not in default_redactor().text(text)
