"""Password hashes for local users: argon2id, salted, and a malformed hash matches nothing."""

from __future__ import annotations

from copilot.auth.passwords import dummy_hash, hash_password, is_password_hash, verify_password

PASSWORD = "correct horse battery staple"


def test_a_hash_verifies_its_password_only():
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$") and is_password_hash(stored)
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + " ")
    assert not verify_password(stored, PASSWORD.upper())
    assert not verify_password(stored, "")


def test_each_hash_has_its_own_salt():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)


def test_a_malformed_or_foreign_hash_matches_nothing():
    stored = hash_password(PASSWORD)
    for bad in ("", "not a hash", "$argon2id$", stored[:-8], PASSWORD, "$2b$12$" + "a" * 53):
        assert not verify_password(bad, PASSWORD), bad
    assert not is_password_hash(PASSWORD) and not is_password_hash("$2b$12$abc")


def test_the_dummy_hash_is_a_real_hash_no_password_opens():
    assert is_password_hash(dummy_hash()) and dummy_hash() == dummy_hash()
    assert not verify_password(dummy_hash(), PASSWORD)
