"""A small OpenID Connect provider on loopback: discovery, JWKS, ``/authorize``, ``/token``.

``/authorize`` signs in ``identity`` without asking (or answers ``error=access_denied``
when ``deny`` is set) and redirects back with a code and the state; it checks the client
id, the registered redirect URI, the scope, a nonce and a PKCE S256 challenge first.
``/token`` checks the client's secret (HTTP Basic or form fields), the code (once, for
the same redirect URI) and the PKCE verifier, then issues an RS256 ID token with
``iss``/``aud``/``exp``/``iat``/``nonce``/``sub`` and the identity's claims. ``forge``
makes that token wrong in one way (a test of each refusal), ``omit_id_token`` leaves it
out, ``token_outage`` makes ``/token`` answer that HTTP status; ``doc`` overrides fields
of the discovery document. Whatever the provider refused is kept in ``refusals``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "copilot-web"
CLIENT_SECRET = "provider-shared-secret-4f9a"  # this test double's own, made up


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    identity: dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeOidcProvider:
    """A loopback OIDC provider for one registered client (``CLIENT_ID``)."""

    def __init__(self, redirect_uri: str) -> None:
        self.redirect_uri = redirect_uri
        self.identity: dict[str, Any] = {"sub": "u-alice", "email": "alice@example.com"}
        self.deny = False
        self.forge: str | None = None
        self.doc: dict[str, Any] = {}
        self.omit_id_token = False
        self.token_outage: int | None = None
        self.refusals: list[str] = []
        self.token_requests: list[dict[str, str]] = []
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self._grants: dict[str, Grant] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = dict(parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, fake.discovery())
                elif url.path == "/jwks":
                    self._json(200, {"keys": [fake.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    status, where = fake.authorize(query)
                    if status == 302:
                        self.send_response(302)
                        self.send_header("Location", where)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                    else:
                        self._json(status, {"error": where})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(size).decode()))
                if urlsplit(self.path).path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                status, body = fake.token(form, self.headers.get("Authorization", ""))
                self._json(status, body)

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the endpoints ----------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        } | self.doc

    def _refuse(self, why: str) -> tuple[int, str]:
        self.refusals.append(why)
        return 400, why

    def authorize(self, q: dict[str, str]) -> tuple[int, str]:
        """(302, where to) or (400, why): what ``/authorize`` answers."""
        if q.get("client_id") != CLIENT_ID:
            return self._refuse("unknown client_id")
        if q.get("redirect_uri") != self.redirect_uri:
            return self._refuse(f"redirect_uri not registered: {q.get('redirect_uri')}")
        if q.get("response_type") != "code":
            return self._refuse("response_type must be code")
        if "openid" not in q.get("scope", "").split():
            return self._refuse("scope lacks openid")
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) < 43:
            return self._refuse("PKCE S256 challenge missing")
        if not q.get("state") or not q.get("nonce"):
            return self._refuse("state or nonce missing")
        back = {"state": q["state"]}
        if self.deny:
            back |= {"error": "access_denied", "error_description": "<b>Nope</b> says IdP"}
        else:
            code = secrets.token_urlsafe(24)
            self._grants[code] = Grant(
                CLIENT_ID, q["redirect_uri"], q["code_challenge"], q["nonce"], dict(self.identity)
            )
            back["code"] = code
        return 302, f"{q['redirect_uri']}?{urlencode(back)}"

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        if self.token_outage:
            return self.token_outage, {"error": "temporarily_unavailable"}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            pair = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = (unquote(p) for p in pair.partition(":"))
        if client_id != CLIENT_ID or secret != CLIENT_SECRET:
            self.refusals.append("client authentication failed")
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            self.refusals.append("grant_type")
            return 400, {"error": "unsupported_grant_type"}
        grant = self._grants.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            self.refusals.append("unknown or used code, or another redirect_uri")
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge:
            self.refusals.append("PKCE verifier does not match")
            return 400, {"error": "invalid_grant"}
        body: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
        }
        if not self.omit_id_token:
            body["id_token"] = self.id_token(grant)
        return 200, body

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
        } | grant.identity
        key, header = self.key, {"alg": "RS256", "kid": "k1"}
        forge = self.forge
        if forge == "nonce":
            claims["nonce"] = "a-nonce-from-another-sign-in"
        elif forge == "audience":
            claims["aud"] = "some-other-client"
        elif forge == "expired":
            claims |= {"iat": now - 7200, "exp": now - 3600}
        elif forge == "issuer":
            claims["iss"] = "http://127.0.0.1:1"
        elif forge == "unknown_key":
            key = RSAKey.generate_key(2048, parameters={"kid": "k2"})
            header["kid"] = "k2"
        elif forge == "alg_none":
            parts = [json.dumps(p).encode() for p in ({"alg": "none"}, claims)]
            return ".".join(_b64(p) for p in parts) + "."
        token = jwt.encode(header, claims, key)
        if forge == "signature":  # the provider's signature, over other claims
            head, _, sig = token.split(".")
            other = _b64(json.dumps(claims | {"email": "root@example.com"}).encode())
            token = f"{head}.{other}.{sig}"
        return token
