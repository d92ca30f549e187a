"""Settings of the web server (``copilot serve``): where it listens, how people sign in.

Kept beside ``copilot.settings`` (which embeds them as ``[web]``) so that module stays small.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid")


class OidcSettings(BaseModel):
    """Sign-in through the team's OpenID Connect provider (off while ``issuer`` is unset).

    The value of ``claim`` in the ID token names the copilot user: through ``users`` when
    it is listed there (``"alice@example.com" = "alice"``), else as the user's own name. A
    person whose claim maps to no configured user is refused: roles come only from config.
    """

    model_config = _STRICT

    issuer: str | None = Field(None, description="e.g. https://login.example.com/realms/ops")
    client_id: str = ""
    client_secret: str | None = Field(None, repr=False)
    scope: str = "openid email profile"
    claim: str = Field("email", description="the ID token claim that names the person")
    users: dict[str, str] = Field(
        default_factory=dict, description="claim value -> copilot user name"
    )
    label: str = Field("Sign in with SSO", description="the button on the sign-in page")
    verify_tls: bool = True


class WebSettings(BaseModel):
    """The web chat and JSON API."""

    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # Signs session cookies. Unset: a random key kept in the data dir (0600), so sessions
    # survive a restart; several replicas need the same key set here.
    secret_key: str | None = Field(None, repr=False)
    session_ttl_s: int = Field(
        12 * 3600, ge=60, le=30 * 24 * 3600, description="how long a sign-in lasts"
    )
    # Secure cookies: "auto" sets them when the request came over https (behind a proxy
    # that says so with X-Forwarded-Proto, when ``trusted_proxies`` lists it).
    secure_cookies: str = Field("auto", pattern="^(auto|always|never)$")
    trusted_proxies: list[str] = Field(default_factory=list, description="proxy IP addresses")
    # Sign-in attempts per user name and per client address; ``limits`` notation.
    sign_in_rate: str = "5/minute"
    # Where rate-limit counters live: memory:// (one process) or redis://host:6379 (replicas).
    rate_limit_storage: str = "memory://"
    # How often a live page re-reads the store for changes made elsewhere (another process,
    # the CLI); changes made through this process show at once.
    live_poll_s: float = Field(2.0, gt=0, le=60)
    # The largest request body accepted (a message is at most 4,000 characters anyway).
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # The address people reach the server at, for links in other surfaces (Slack cards).
    public_url: str | None = None
    oidc: OidcSettings = Field(default_factory=OidcSettings)
