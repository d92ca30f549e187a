"""Signing in through the team's OpenID Connect provider (``[web.oidc]``).

The authorization code flow with PKCE (S256), state and nonce, by Authlib's Starlette
client: it keeps the flow's state in the session cookie, exchanges the code at the
provider, and verifies the ID token against the provider's published keys (signature,
``iss``, ``aud``, ``exp``, ``nonce``). The value of the configured claim then names a
copilot user, through ``[web.oidc.users]`` or else as the user's own name; roles come only
from config, so a person the config does not know is refused and gets no session.

Every failure is a page in our own words, built from the error's type: never the
exception's text, and never the provider's ``error_description`` (anyone can put text in
a callback URL). The client secret goes only to the provider's token endpoint.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.starlette_client import (
    OAuth,
    OAuthError,
    StarletteOAuth2App,
)
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import errors as jose

from copilot.errors import ConfigError
from copilot.settings import Settings
from copilot.settings_web import OidcSettings
from copilot.surfaces.web.auth import sign_in, sign_out
from copilot.surfaces.web.context import web
from copilot.surfaces.web.errors import answer
from copilot.surfaces.web.signin import _safe_next

log = logging.getLogger("copilot.web")

LOGIN_PATH = "/auth/oidc/login"
CALLBACK_PATH = "/auth/oidc/callback"
NEXT_KEY = "oidc_next"
LEEWAY_S = 60
TIMEOUT_S = 10.0
# Public-key signatures only: neither ``alg: none`` nor an HMAC keyed with the client
# secret (which the provider shares with every copy of this client) names a person here.
SIGNING_ALGS = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
)  # fmt: skip
DISCOVERY_FIELDS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "id_token_signing_alg_values_supported",
    "_loaded_at",  # Authlib's mark of a loaded document
)
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")
_CHECK_CONFIG = "ask an admin to check [web.oidc] and the copilot's client at the provider"


class Refused(Exception):
    """A sign-in that cannot go on: the status, and our words for the page and the log."""

    def __init__(self, status: int, message: str, hint: str = _CHECK_CONFIG) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint


class Provider(StarletteOAuth2App):  # type: ignore[misc]
    """Authlib's client, with the discovery document checked once as it arrives: the
    issuer it names is the configured one, the endpoints are there, PKCE with S256 is on
    offer, and the ID token's signing algorithms are narrowed to public-key ones.

    Only the fields used here are kept: Authlib passes the whole document to its HTTP
    client as keyword arguments, where a ``scope``, ``code_challenge_method`` or
    ``verify`` field would override this client's own (no nonce, no PKCE, no TLS check)."""

    expected_issuer = ""

    async def load_server_metadata(self) -> dict[str, Any]:
        fresh = "_loaded_at" not in self.server_metadata
        meta: dict[str, Any] = await super().load_server_metadata()
        if fresh:  # no await from here on: no other request sees it half-checked
            problem = _metadata_problem(meta, self.expected_issuer)
            kept = {k: meta[k] for k in DISCOVERY_FIELDS if k in meta}
            meta.clear()  # on a problem, fetched again next time: it may be fixed by then
            if problem:
                raise Refused(502, f"the identity provider's discovery document {problem}")
            offered = kept.get("id_token_signing_alg_values_supported") or ["RS256"]
            kept["id_token_signing_alg_values_supported"] = [
                a for a in offered if a in SIGNING_ALGS
            ]
            meta.update(kept)
        return meta


def _metadata_problem(meta: dict[str, Any], issuer: str) -> str:
    named = meta.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
        return f"names another issuer than the configured {issuer}"
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            return f"has no {key}"
    methods = meta.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        return "does not offer PKCE with S256"
    offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    if not any(a in SIGNING_ALGS for a in offered):
        return "offers no public-key signature for ID tokens"
    return ""


def _network_errors() -> tuple[type[Exception], ...]:
    """What a failed request to the provider raises: Authlib 1.9 sends them with httpx2
    where it is installed, else with httpx."""
    import httpx

    kinds: list[type[Exception]] = [httpx.HTTPError, httpx.InvalidURL, OSError]
    try:
        import httpx2
    except ImportError:  # pragma: no cover - httpx2 comes with the pinned dependencies
        pass
    else:
        kinds += [httpx2.HTTPError, httpx2.InvalidURL]
    return tuple(kinds)


def provider(conf: OidcSettings) -> Provider:
    """The Authlib client for ``conf`` (nothing is fetched until the first sign-in)."""
    assert conf.issuer
    scope = conf.scope.split()
    if "openid" not in scope:  # without it there is no ID token and no nonce
        scope.insert(0, "openid")
    oauth = OAuth()
    oauth.register(
        "copilot",
        client_cls=Provider,
        client_id=conf.client_id,
        client_secret=conf.client_secret,
        server_metadata_url=conf.issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": " ".join(scope),
            "code_challenge_method": "S256",
            "verify": conf.verify_tls,
            "timeout": TIMEOUT_S,
        },
    )
    client: Provider = oauth.create_client("copilot")
    client.expected_issuer = conf.issuer
    return client


def callback_url(request: Request, settings: Settings) -> str:
    """The redirect URI to register at the provider: behind a proxy, from ``public_url``."""
    public = settings.web.public_url
    if public:
        return public.rstrip("/") + CALLBACK_PATH
    return str(request.url_for("oidc_callback"))


def copilot_user(conf: OidcSettings, configured: set[str], value: str) -> str | None:
    """The copilot user that ``value`` of the claim names, if one is configured."""
    name = conf.users.get(value, value)
    return name if name in configured else None


def router(settings: Settings) -> APIRouter:
    """The sign-in routes for ``[web.oidc]``; a missing ``client_id`` stops the start."""
    conf = settings.web.oidc
    if not conf.client_id:
        raise ConfigError(
            "[web.oidc] has an issuer but no client_id",
            "set client_id (and client_secret) to the client registered at the provider",
        )
    client = provider(conf)
    network = _network_errors()

    def unreachable(err: Exception) -> Refused:
        status = getattr(getattr(err, "response", None), "status_code", None)
        log.warning("oidc: the provider failed (%s %s)", type(err).__name__, status or "")
        what = f"answered HTTP {status}" if isinstance(status, int) else "could not be reached"
        return Refused(
            502,
            f"the identity provider at {conf.issuer} {what}",
            "try again in a minute; if it persists, ask an admin to check [web.oidc] issuer "
            "and that this server can reach it",
        )

    r = APIRouter(include_in_schema=False)

    @r.get(LOGIN_PATH, name="oidc_login")
    async def login(
        request: Request, next: Annotated[str, Query(max_length=500)] = "/"
    ) -> Response:
        try:
            await client.load_server_metadata()
            response: Response = await client.authorize_redirect(
                request, callback_url(request, settings)
            )
        except Refused as no:
            return _refused(request, no)
        except network as err:
            return _refused(request, unreachable(err))
        except ValueError:  # not JSON
            return _refused(request, Refused(502, "the identity provider's answer is not JSON"))
        request.session[NEXT_KEY] = _safe_next(next)
        return response

    @r.get(CALLBACK_PATH, name="oidc_callback")
    async def callback(request: Request) -> Response:
        target = _safe_next(request.session.pop(NEXT_KEY, None))
        try:
            claims = await _verified_claims(request, client, conf)
        except Refused as no:
            return _refused(request, no)
        except network as err:
            return _refused(request, unreachable(err))
        value = claims.get(conf.claim)
        if not isinstance(value, str) or not value:
            return _refused(request, Refused(502, f"the ID token has no {conf.claim} claim"))
        if conf.claim == "email" and claims.get("email_verified") is False:
            await sign_out(request)
            return _refused(
                request,
                Refused(
                    403,
                    f"the identity provider has not verified the address {value}",
                    "verify it at the identity provider, then sign in again",
                ),
            )
        user = copilot_user(conf, set(web(request).settings.users), value)
        if user is None:
            await sign_out(request)  # whoever this browser held before, it is not this person
            return _refused(
                request,
                Refused(
                    403,
                    f"signed in as {value} at the identity provider, but {value} is not a "
                    "copilot user",
                    "ask an admin to add them to [web.oidc.users] (or as a user of that name)",
                ),
            )
        await sign_in(request, user, "oidc")
        log.info("oidc: %s signed in", user)
        return RedirectResponse(target, status_code=303)

    return r


async def _verified_claims(
    request: Request, client: Provider, conf: OidcSettings
) -> dict[str, Any]:
    """The claims of the ID token this callback brings, verified, or ``Refused``."""
    error = request.query_params.get("error")
    if error is not None:
        code = error if _ERROR_CODE.fullmatch(error) else "error"
        if code == "access_denied":
            raise Refused(
                403,
                "the identity provider did not sign you in (access_denied)",
                "sign in again, or ask the identity provider's admin for access",
            )
        raise Refused(502, f"the identity provider refused the sign-in ({code})")
    try:
        meta = await client.load_server_metadata()
        required = {"essential": True}
        options = {
            "iss": {**required, "values": [meta["issuer"]]},
            "aud": {**required, "values": [conf.client_id]},
            "sub": required,
            "exp": required,
            "nonce": required,
        }
        token = await client.authorize_access_token(
            request, claims_options=options, leeway=LEEWAY_S
        )
    except MismatchingStateError:
        raise Refused(
            400,
            "this sign-in was not started here, has expired, or was already used",
            "start again from the sign-in page",
        ) from None
    except OAuthError as err:
        code = err.error if _ERROR_CODE.fullmatch(str(err.error)) else "error"
        raise Refused(502, f"the identity provider refused the sign-in code ({code})") from None
    except jose.JoseError as err:
        log.warning("oidc: ID token refused (%s)", type(err).__name__)
        raise Refused(
            401,
            f"the identity provider's ID token did not verify: {_token_problem(err)}",
            "sign in again; if it keeps happening, ask an admin to check [web.oidc] and "
            "this server's clock",
        ) from None
    except ValueError:  # an answer that is not JSON, or not a token
        raise Refused(502, "the identity provider's answer is not what OIDC sends") from None
    claims = token.get("userinfo")
    if "id_token" not in token or not isinstance(claims, dict):
        raise Refused(502, "the identity provider sent no ID token")
    return dict(claims)


def _token_problem(err: Exception) -> str:
    if isinstance(err, jose.ExpiredTokenError):
        return "it has expired"
    if isinstance(err, jose.BadSignatureError):
        return "its signature does not match the provider's keys"
    if isinstance(err, jose.InvalidKeyIdError):
        return "it is signed with a key the provider does not publish"
    if isinstance(err, jose.UnsupportedAlgorithmError):
        return "it is signed with an algorithm not accepted here"
    if isinstance(err, jose.ClaimError):
        claim = err.claim.split(",")[0]
        return {
            "nonce": "it was not issued for this sign-in (nonce)",
            "aud": "it was issued to another client (aud)",
            "iss": "it was issued by another provider (iss)",
            "azp": "it was issued to another client (azp)",
        }.get(claim, f"its {claim if claim.isalpha() else 'a'} claim is missing or wrong")
    return "it is malformed"


def _refused(request: Request, no: Refused) -> Response:
    log.info("oidc: sign-in refused (%d: %s)", no.status, no.message)
    return answer(request, no.status, no.message, no.hint)
