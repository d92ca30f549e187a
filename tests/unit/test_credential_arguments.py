"""Which call arguments a name calls a credential (copilot.door.credentials)."""

from __future__ import annotations

import pytest

from copilot.door.credentials import (
    assignments,
    credential_arguments,
    credential_word,
    is_reference,
)


@pytest.mark.parametrize(
    "name",
    [
        "password", "PASSWORD", "db_password", "dbPassword", "DB-Password", "db.password",
        "db password", "dbpassword", "passwd", "pwd", "passphrase", "secret", "client_secret",
        "clientSecret", "token", "GITHUB_TOKEN", "authToken", "oauth_token", "api_key",
        "apiKey", "APIKEY", "x-api-key", "private_key", "privateKey", "access_key",
        "AWS_SECRET_ACCESS_KEY", "secret_key", "credential", "credentials", "auth", "bearer",
        "session_token", "signing_key", "encryption_key", "PAYMENTS_PASSWORD", "jwt",
        "Authorization", "proxy_authorization", "DB_PASS", "SMTP_PASS", "redis_pw",
    ],
)  # fmt: skip
def test_credential_names(name):
    assert credential_word(name) is not None


@pytest.mark.parametrize(
    "name",
    [
        "key", "name", "value", "service", "token_bucket_size", "max_tokens", "token_ttl",
        "tokenTTL", "password_file", "passwordFile", "secret_name", "secretName",
        "private_key_path", "auth_url", "AUTH_URL", "author", "authority", "api_key_header",
        "password_policy", "secret_ref", "credentials_path", "access_key_id", "token_count",
        "PAYMENTS_API_URL", "keyboard", "monkey", "bypass", "compass", "passenger",
        "auth_mode", "token_expiry", "secrets_store", "pass_rate", "pass_through",
    ],
)  # fmt: skip
def test_names_about_a_credential_or_unrelated_are_not_credentials(name):
    assert credential_word(name) is None


def test_a_value_named_by_its_sibling_is_a_credential():
    found = credential_arguments(
        {"service": "payments", "key": "PAYMENTS_PASSWORD", "value": "hunter2hunter2"}
    )
    assert [(f.path, f.named_by, f.word) for f in found] == [
        ("value", "PAYMENTS_PASSWORD", "password")
    ]
    # the service and the key's own value (a name) are not the secret
    assert (
        credential_arguments({"service": "payments", "key": "PAYMENTS_API_URL", "value": "x"}) == []
    )


def test_mapping_keys_and_lists_of_settings_are_names_too():
    found = credential_arguments(
        {
            "env": {"DB_PASSWORD": "hunter2hunter2", "LOG_LEVEL": "debug"},
            "settings": [
                {"name": "API_TOKEN", "value": "abc123abc123"},
                {"name": "X", "value": "1"},
            ],
            "headers": {"Authorization": {"bearer": ["t0k3n"]}},
        }
    )
    paths = sorted(f.path for f in found)
    assert paths == ["env.DB_PASSWORD", "headers.Authorization", "settings.value"]


@pytest.mark.parametrize(
    "value", ["secret:PAYMENTS_PASSWORD", "secret:payments-db-password", "secret:team/psp.key"]
)
def test_references_pass(value):
    assert is_reference(value)
    assert credential_arguments({"key": "DB_PASSWORD", "value": value, "password": value}) == []


@pytest.mark.parametrize(
    "value", ["secret:hunter2hunter2", "secret:", "secret:Mixed-Case9", "hunter2"]
)
def test_what_is_not_a_reference_is_refused(value):
    assert not is_reference(value)
    assert [f.path for f in credential_arguments({"password": value})] == ["password"]


def test_non_strings_and_empty_values_carry_no_secret():
    assert credential_arguments({"auth": True, "token": 0, "password": "", "secret": None}) == []


def test_assignments_pair_each_string_with_its_name():
    lines = list(assignments({"a": "1", "env": {"DB_PASSWORD": "x"}, "tags": ["p", {"k": "v"}]}))
    assert lines == ["a=1", "DB_PASSWORD=x", "tags=p", "k=v"]
