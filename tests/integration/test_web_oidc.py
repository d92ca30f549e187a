"""Signing in to the web app through an OpenID Connect provider (``[web.oidc]``).

The provider is ``fakes.oidc_provider`` on loopback; the copilot app runs under
``TestClient`` (host ``testserver``), and each test follows the redirects across both by
hand: the app's login redirect to the provider with ``httpx``, the provider's redirect
back to the app with the test client. One service is opened for the module (it takes
seconds); each test builds its own app and cookie jar on it.
"""

from __future__ import annotations

import base64
import html
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOidcProvider
from fakes.scripted_http import dead_port
from fastapi.testclient import TestClient

from copilot.settings import Settings, UserConfig
from copilot.settings_web import OidcSettings, WebSettings
from copilot.surfaces.web import create_app

CALLBACK = "http://testserver/auth/oidc/callback"
USERS = {
    "alice": UserConfig(roles=["responder"]),
    "bob": UserConfig(roles=["sre"], display_name="Bob Ops"),
}
MAPPED = {
    "alice@example.com": "alice",
    "ops-lead@example.com": "bob",
    "ghost@example.com": "ghost",
}


def _settings(data_dir: Path, issuer: str, **web: Any) -> Settings:
    oidc = {"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    oidc |= {"users": MAPPED, "label": "Sign in with TestIdP"} | web.pop("oidc", {})
    web["oidc"] = OidcSettings(**oidc)
    return Settings(data_dir=data_dir, users=USERS, web=WebSettings(**web))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from copilot.service import CopilotService

    home = tmp_path_factory.mktemp("oidc")
    with pytest.MonkeyPatch.context() as mp:  # as conftest's _isolated_env, for the module
        for key in [k for k in os.environ if k.upper().startswith("COPILOT_")]:
            mp.delenv(key)
        mp.chdir(home)
        svc = CopilotService.open(_settings(home / "data", "http://127.0.0.1:9"))
    yield svc
    svc.close()


@pytest.fixture
def idp() -> Iterator[FakeOidcProvider]:
    provider = FakeOidcProvider(redirect_uri=CALLBACK)
    yield provider
    provider.close()


@pytest.fixture
def make_client(service: Any, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    opened: list[TestClient] = []

    def make(issuer: str, **web: Any) -> TestClient:
        settings = _settings(tmp_path / f"data{len(opened)}", issuer, **web)
        client = TestClient(create_app(settings, service))
        opened.append(client.__enter__())
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient], idp: FakeOidcProvider) -> TestClient:
    return make_client(idp.issuer)


def start(client: TestClient, next: str = "/") -> httpx.Response:
    """The app's login redirect, followed to the provider: its answer."""
    r = client.get("/auth/oidc/login", params={"next": next}, follow_redirects=False)
    assert r.status_code == 302, r.text
    return httpx.get(r.headers["location"], follow_redirects=False)


def sign_in(client: TestClient, next: str = "/") -> httpx.Response:
    """The whole round: app → provider → the app's callback; the callback's answer."""
    at_idp = start(client, next)
    assert at_idp.status_code == 302, at_idp.text
    back = at_idp.headers["location"]
    assert back.startswith(CALLBACK + "?")
    return client.get(back, follow_redirects=False)


def signed_in_as(client: TestClient) -> Any:
    r = client.get("/api/session")
    return r.json()["user"] if r.status_code == 200 else None


def refused_page(r: httpx.Response, status: int, *phrases: str) -> None:
    assert r.status_code == status, r.text
    text = html.unescape(r.text)
    for phrase in phrases:
        assert phrase in text
    for leak in ("Traceback", "Error", "joserfc", "authlib", "httpx", CLIENT_SECRET):
        assert leak not in text


# -- signing in ------------------------------------------------------------------------------
def roles_in_config(service: Any, user: str) -> list[str]:
    """The roles the CLI would act with (config, with the roles they include)."""
    return list(service.principal(user, "cli").roles)


def test_sign_in_starts_a_session_with_roles_from_config(
    service: Any, client: TestClient, idp: FakeOidcProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = client.get("/sign-in")
    assert "/auth/oidc/login?next=" in page.text and "Sign in with TestIdP" in page.text

    to_idp = client.get("/auth/oidc/login", follow_redirects=False)
    asked = parse_qs(urlsplit(to_idp.headers["location"]).query)
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["redirect_uri"] == [CALLBACK]
    assert {"state", "nonce", "code_challenge"} <= set(asked)
    assert "openid" in asked["scope"][0].split()

    r = sign_in(client)
    assert (r.status_code, r.headers["location"]) == (303, "/")
    assert idp.refusals == []
    assert idp.token_requests[-1]["code_verifier"]  # PKCE: the verifier went with the code

    home = client.get("/")
    assert home.status_code == 200
    assert 'data-user="alice"' in home.text
    session = client.get("/api/session").json()
    assert session["user"] == "alice"
    assert session["roles"] == roles_in_config(service, "alice")
    assert "responder" in session["roles"] and "sre" not in session["roles"]

    # the secret went to the token endpoint only: not in a log record, not in the cookie
    assert not [r for r in caplog.records if CLIENT_SECRET in r.getMessage()]
    cookie = client.cookies["copilot_session"]
    payload = base64.b64decode(cookie.split(".")[0] + "==").decode()
    assert '"user": "alice"' in payload and CLIENT_SECRET not in payload
    assert "code_verifier" not in payload and "_state_" not in payload


def test_a_claim_listed_in_users_maps_to_that_user(
    service: Any, client: TestClient, idp: FakeOidcProvider
) -> None:
    idp.identity = {"sub": "u-77", "email": "ops-lead@example.com"}
    assert sign_in(client).status_code == 303
    session = client.get("/api/session").json()
    assert session["user"] == "bob"
    assert session["roles"] == roles_in_config(service, "bob") and "sre" in session["roles"]
    assert "Bob Ops" in client.get("/").text


def test_a_claim_not_listed_in_users_names_the_user_itself(
    make_client: Callable[..., TestClient], idp: FakeOidcProvider
) -> None:
    client = make_client(idp.issuer, oidc={"claim": "preferred_username"})
    idp.identity = {"sub": "u-9", "preferred_username": "bob", "email": "x@example.com"}
    assert sign_in(client).status_code == 303
    assert signed_in_as(client) == "bob"


@pytest.mark.parametrize(
    ("asked", "lands"),
    [
        ("/c/web-0001", "/c/web-0001"),
        ("https://evil.example", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_next_is_kept_only_when_it_is_a_local_path(
    client: TestClient, asked: str, lands: str
) -> None:
    r = sign_in(client, next=asked)
    assert (r.status_code, r.headers["location"]) == (303, lands)


def test_callback_url_comes_from_public_url_behind_a_proxy(
    make_client: Callable[..., TestClient], idp: FakeOidcProvider
) -> None:
    client = make_client(idp.issuer, public_url="https://copilot.example.com/")
    r = client.get("/auth/oidc/login", follow_redirects=False)
    asked = parse_qs(urlsplit(r.headers["location"]).query)
    assert asked["redirect_uri"] == ["https://copilot.example.com/auth/oidc/callback"]


# -- people the config does not know -------------------------------------------------------
def test_an_unknown_person_is_refused_and_gets_no_session(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    assert sign_in(client).status_code == 303 and signed_in_as(client) == "alice"
    idp.identity = {"sub": "u-666", "email": "mallory@example.com"}
    r = sign_in(client)
    refused_page(
        r,
        403,
        "signed in as mallory@example.com at the identity provider, but "
        "mallory@example.com is not a copilot user",
        "[web.oidc.users]",
    )
    assert signed_in_as(client) is None  # the earlier session on this browser is gone too
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_mapping_to_a_user_that_is_not_configured_is_refused(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    idp.identity = {"sub": "u-5", "email": "ghost@example.com"}
    refused_page(sign_in(client), 403, "ghost@example.com is not a copilot user")
    assert signed_in_as(client) is None


def test_an_unverified_email_is_refused(client: TestClient, idp: FakeOidcProvider) -> None:
    idp.identity = {"sub": "u-1", "email": "alice@example.com", "email_verified": False}
    refused_page(sign_in(client), 403, "has not verified the address alice@example.com")
    assert signed_in_as(client) is None


# -- tokens that do not verify ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("forge", "says"),
    [
        ("nonce", "not issued for this sign-in (nonce)"),
        ("signature", "signature does not match"),
        ("audience", "issued to another client (aud)"),
        ("expired", "it has expired"),
        ("issuer", "issued by another provider (iss)"),
        ("unknown_key", "a key the provider does not publish"),
        ("alg_none", "did not verify"),
    ],
)
def test_an_id_token_that_does_not_verify_is_refused(
    client: TestClient, idp: FakeOidcProvider, forge: str, says: str
) -> None:
    idp.forge = forge
    r = sign_in(client)
    refused_page(r, 401, "the identity provider's ID token did not verify", says)
    assert signed_in_as(client) is None
    assert idp.refusals == []  # the provider was content: the copilot refused


def test_a_token_answer_without_an_id_token_is_refused(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    idp.omit_id_token = True
    refused_page(sign_in(client), 502, "sent no ID token")
    assert signed_in_as(client) is None


# -- the flow's own checks -------------------------------------------------------------------
def test_a_callback_with_a_state_this_browser_did_not_start_is_refused(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    at_idp = start(client)
    back = urlsplit(at_idp.headers["location"])
    code = parse_qs(back.query)["code"][0]
    r = client.get("/auth/oidc/callback", params={"code": code, "state": "forged"})
    refused_page(r, 400, "not started here")
    assert signed_in_as(client) is None
    stranger = TestClient(client.app)  # another browser bringing this browser's callback
    with stranger:
        refused_page(stranger.get(at_idp.headers["location"]), 400, "not started here")
        assert signed_in_as(stranger) is None
    assert idp.token_requests == []  # refused before the code went anywhere


def test_a_callback_is_good_once(client: TestClient, idp: FakeOidcProvider) -> None:
    at_idp = start(client)
    back = at_idp.headers["location"]
    assert client.get(back, follow_redirects=False).status_code == 303
    client.cookies.clear()
    refused_page(client.get(back), 400, "already used")
    assert signed_in_as(client) is None


def test_the_provider_saying_access_denied_is_a_clear_page(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    idp.deny = True
    r = sign_in(client)
    refused_page(r, 403, "did not sign you in (access_denied)")
    assert "Nope" not in r.text  # the provider's free text is not shown
    assert signed_in_as(client) is None


def test_an_error_code_that_is_not_one_is_not_echoed(client: TestClient) -> None:
    r = client.get("/auth/oidc/callback", params={"error": "<script>x</script>"})
    refused_page(r, 502, "refused the sign-in (error)")
    assert "script>x" not in r.text and "script&gt;x" not in r.text


def test_a_wrong_client_secret_is_a_clear_page(
    make_client: Callable[..., TestClient], idp: FakeOidcProvider
) -> None:
    client = make_client(idp.issuer, oidc={"client_secret": "not-the-secret"})
    r = sign_in(client)
    refused_page(r, 502, "refused the sign-in code (invalid_client)")
    assert "not-the-secret" not in r.text
    assert signed_in_as(client) is None


# -- the provider unreachable or misconfigured -----------------------------------------------
def test_the_provider_down_at_login_is_a_clear_page(
    make_client: Callable[..., TestClient],
) -> None:
    issuer = f"http://127.0.0.1:{dead_port()}"
    client = make_client(issuer)
    r = client.get("/auth/oidc/login", follow_redirects=False)
    refused_page(r, 502, f"the identity provider at {issuer} could not be reached")


def test_the_provider_down_at_the_callback_is_a_clear_page(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    back = start(client).headers["location"]
    idp.close()
    refused_page(client.get(back), 502, "could not be reached")
    assert signed_in_as(client) is None


def test_the_token_endpoint_failing_is_a_clear_page(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    idp.token_outage = 503
    refused_page(sign_in(client), 502, f"the identity provider at {idp.issuer} answered HTTP 503")
    assert signed_in_as(client) is None


def test_an_issuer_without_a_client_id_stops_the_start(tmp_path: Path) -> None:
    from copilot.errors import ConfigError

    with pytest.raises(ConfigError, match="no client_id"):
        create_app(_settings(tmp_path / "d", "https://login.example.com", oidc={"client_id": ""}))


def test_verify_tls_only_reaches_the_http_client() -> None:
    from copilot.surfaces.web.oidc import provider

    conf = OidcSettings(issuer="https://login.example.com", client_id="c", verify_tls=False)
    assert provider(conf).client_kwargs["verify"] is False
    assert provider(conf.model_copy(update={"verify_tls": True})).client_kwargs["verify"] is True


def test_a_discovery_document_naming_another_issuer_is_refused(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    idp.doc = {"issuer": "https://login.elsewhere.example"}
    r = client.get("/auth/oidc/login", follow_redirects=False)
    refused_page(r, 502, "names another issuer than the configured")
    idp.doc = {}  # fixed at the provider: the next sign-in fetches it again
    assert sign_in(client).status_code == 303


def test_a_provider_without_pkce_s256_is_refused(client: TestClient, idp: FakeOidcProvider) -> None:
    idp.doc = {"code_challenge_methods_supported": ["plain"]}
    refused_page(client.get("/auth/oidc/login"), 502, "does not offer PKCE with S256")


def test_no_oidc_routes_without_an_issuer(service: Any, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", users=USERS)
    with TestClient(create_app(settings, service)) as plain:
        assert plain.get("/auth/oidc/login").status_code == 404
        assert "/auth/oidc/login" not in plain.get("/sign-in").text


def test_a_discovery_document_cannot_switch_off_pkce_or_the_nonce(
    client: TestClient, idp: FakeOidcProvider
) -> None:
    # Authlib hands the whole document to its client as keyword arguments
    idp.doc = {"code_challenge_method": None, "scope": "profile", "verify": False}
    assert sign_in(client).status_code == 303
    assert idp.refusals == [] and signed_in_as(client) == "alice"
