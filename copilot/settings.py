"""Settings: defaults < ``copilot.toml`` < ``.env`` < ``COPILOT_*`` environment variables.

Nothing here is read at import: call ``load_settings()`` (or build ``Settings(...)``) where
the process starts. ``COPILOT_DATA_DIR`` holds all local state, so tests isolate it.

``load_settings`` refuses to start (``ConfigError``) on a config file named by
``COPILOT_CONFIG`` that does not exist and on any key that names no setting, in
``copilot.toml``, ``.env`` or a ``COPILOT_*`` variable: a misspelt safety setting must not
silently fall back to its default. There are no users unless configured; the demo's
people come only with ``users = "demo"`` (``COPILOT_USERS=demo``).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from copilot.errors import ConfigError, describe_validation_error
from copilot.settings_incidents import IncidentSettings
from copilot.settings_keys import spelling_hint, unknown_env_name, unknown_toml_keys
from copilot.settings_slack import SlackSettings
from copilot.settings_web import WebSettings

# Every sub-table refuses keys it does not know (``load_settings`` checks the top level and
# the variables itself: pydantic-settings' own ``extra="forbid"`` misses env variables).
_STRICT = ConfigDict(extra="forbid")


class UserConfig(BaseModel):
    """A principal from config: roles map to Cedar role entities."""

    model_config = _STRICT

    roles: list[str]
    display_name: str = ""
    # argon2 hash for the web sign-in (``copilot users add NAME``); none: no password sign-in
    password_hash: str | None = Field(None, repr=False)

    @field_validator("password_hash")
    @classmethod
    def _a_hash(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("$argon2"):
            raise ValueError("must be an argon2 hash (write it with `copilot users add`)")
        return v


# The demo's people, one per default role: only with ``users = "demo"`` (the sandbox demo
# and quick start), never as a default, since one of them is an admin who may break glass.
DEMO = "demo"
DEMO_USERS: dict[str, UserConfig] = {
    "dana": UserConfig(roles=["viewer"], display_name="Dana (viewer)"),
    "alice": UserConfig(roles=["responder"], display_name="Alice (responder)"),
    "bob": UserConfig(roles=["sre"], display_name="Bob (SRE)"),
    "sam": UserConfig(roles=["sre"], display_name="Sam (SRE)"),
    "carol": UserConfig(roles=["oncall-lead"], display_name="Carol (on-call lead)"),
    "root": UserConfig(roles=["admin"], display_name="Root (admin, break-glass)"),
}


DEFAULT_ROLES: dict[str, list[str]] = {
    "viewer": [],
    "responder": ["viewer"],
    "sre": ["responder"],
    "oncall-lead": ["sre"],
    "admin": ["oncall-lead"],
}


# How long a proposal may wait for approval: a minute at least (a person must be able to
# read the card), a week at most (an approval outliving the incident is a loaded gun).
MIN_APPROVAL_TTL_S = 60
MAX_APPROVAL_TTL_S = 7 * 24 * 3600


class ExecutorSettings(BaseModel):
    model_config = _STRICT

    approval_ttl_s: int = Field(
        900,
        ge=MIN_APPROVAL_TTL_S,
        le=MAX_APPROVAL_TTL_S,
        description="how long a proposal may wait for approval (60 s to 7 days)",
    )
    lock_grace_s: float = Field(30.0, ge=0, description="lease beyond a tool's timeout")
    max_attempts: int = Field(3, ge=1, description="attempts for idempotent tools only")
    retry_wait_s: float = Field(0.2, ge=0, description="first back-off between attempts")
    user_rate: str = "60/minute"
    tool_rate: str = "30/minute"


class RedactionSettings(BaseModel):
    """What is redacted at every boundary (model, chat, audit, traces, exports, errors)."""

    model_config = _STRICT

    pii: bool = Field(True, description="also e-mail addresses, phone and card numbers")
    ips: bool = Field(False, description="also IP addresses (off: incident work needs them)")
    rules_file: Path | None = Field(None, description="extra rules in gitleaks TOML format")


class TelemetrySettings(BaseModel):
    """The copilot's own traces and logs; both pass redaction before any exporter."""

    model_config = _STRICT

    exporter: Literal["none", "console", "otlp"] = Field("none", description="where spans go")
    # OTLP over HTTP (protobuf); unset: the exporter's own default and OTEL_EXPORTER_OTLP_*.
    otlp_endpoint: str | None = Field(None, description="e.g. http://collector:4318/v1/traces")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"


class SourcesSettings(BaseModel):
    """Where the telemetry readers and operational tools reach real systems (unset: off).

    A reader whose source is unset or unreachable returns a typed "source unavailable"
    result the agent can report; it never crashes a turn.
    """

    model_config = _STRICT

    prometheus_url: str | None = Field(None, description="e.g. http://prometheus:9090")
    alertmanager_url: str | None = Field(None, description="e.g. http://alertmanager:9093")
    loki_url: str | None = Field(None, description="e.g. http://loki:3100")
    # Sent as ``Authorization: Bearer ...`` to Prometheus, Alertmanager and Loki when set.
    bearer_token: str | None = Field(None, repr=False)
    loki_tenant: str | None = Field(None, description="X-Scope-OrgID for multi-tenant Loki")
    verify_tls: bool = True
    timeout_s: float = Field(10.0, gt=0, le=120, description="per HTTP request")
    # Kubernetes: a kubeconfig file (default ~/.kube/config) or the pod's service account.
    kubernetes: bool = Field(False, description="enable the Kubernetes pack's API calls")
    kubeconfig: Path | None = None
    kube_context: str | None = None
    kube_in_cluster: bool = False

    def serves(self, pack: str) -> bool:
        """Whether a built-in pack's source is configured (any other pack: yes). The agent
        offers a model only tools that can reach something: with Alertmanager unset,
        "silence this alert" means the sandbox's silences, not a call bound to fail."""
        needs = {
            "prometheus": self.prometheus_url,
            "alertmanager": self.alertmanager_url,
            "loki": self.loki_url,
            "kubernetes": self.kubernetes,
        }
        return bool(needs.get(pack, True))


class AgentSettings(BaseModel):
    """Bounds of one agent turn, and how long verify waits for a change to settle."""

    model_config = _STRICT

    max_tool_calls: int = Field(8, ge=1, le=50, description="read calls per turn")
    max_seconds: float = Field(30.0, gt=0, le=600, description="gathering time per turn")
    max_rounds: int = Field(3, ge=1, le=10, description="model rounds per turn")
    verify_delay_s: float = Field(
        0.0, ge=0, le=300, description="wait after a change before re-reading its telemetry"
    )


class SandboxSettings(BaseModel):
    model_config = _STRICT

    seed: int = 7
    world: str = "prod"
    # A real rollout takes minutes; the sandbox's are instant unless this says otherwise
    # (the demo sets a few seconds, so people watch a card run).
    action_delay_s: float = Field(
        0.0, ge=0, le=20, description="how long each sandbox change takes to apply"
    )


class Settings(BaseSettings):
    """All configuration of one copilot process."""

    model_config = SettingsConfigDict(
        env_prefix="COPILOT_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    data_dir: Path = Path(".copilot")
    database_url: str | None = None
    environment: str = "prod"
    change_freeze: bool = False
    policy_dir: Path | None = None
    tool_paths: str = Field("", description="extra tool pack directories, os.pathsep-separated")
    # A table of users, or "demo" for the demo's people; none by default. NoDecode lets
    # COPILOT_USERS=demo through as text (pydantic-settings would parse it as JSON).
    users: Annotated[dict[str, UserConfig], NoDecode] = Field(
        default_factory=dict, description='[users.NAME] roles = [...], or "demo"'
    )
    roles: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ROLES.items()},
        description="role -> the roles it inherits (a user in 'sre' is also a 'responder')",
    )
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    # A Chroma server for runbooks (``COPILOT_CHROMA_URL``); unset: embedded in data_dir.
    chroma_url: str | None = None
    # Any litellm model string (``COPILOT_MODEL``); unset means the embedded offline planner.
    model: str | None = None
    model_api_base: str | None = None
    model_api_key: str | None = Field(None, repr=False)
    model_timeout_s: float = Field(60.0, gt=0)
    model_retries: int = Field(2, ge=0)
    model_fallbacks: list[str] = Field(default_factory=list, description="litellm model strings")
    litellm_offline: bool = Field(True, description="keep litellm from fetching price maps")
    # Runbook embeddings through a provider (``COPILOT_EMBEDDING_MODEL``, any litellm
    # embedding model string); unset: the bundled offline MiniLM. Base URL and key default
    # to the chat model's.
    embedding_model: str | None = None
    embedding_api_base: str | None = None
    embedding_api_key: str | None = Field(None, repr=False)

    @field_validator("users", mode="before")
    @classmethod
    def _demo_or_table(cls, v: Any) -> Any:
        if v == DEMO:
            return {uid: user.model_copy(deep=True) for uid, user in DEMO_USERS.items()}
        if isinstance(v, str):  # COPILOT_USERS holding a JSON table
            try:
                return json.loads(v)
            except ValueError:
                raise ValueError(f'"demo" or a table of users, not {v[:40]!r}') from None
        return v

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'copilot.db').resolve()}"

    @property
    def extra_tool_paths(self) -> list[Path]:
        return [Path(p) for p in self.tool_paths.split(os.pathsep) if p.strip()]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        return (init_settings, env_settings, dotenv_settings, toml, file_secret_settings)


# Variables with the prefix that are not settings: how the process finds its config, shows
# tracebacks, and where the test machine keeps things.
PROCESS_ENV = frozenset(
    {
        "COPILOT_CONFIG",
        "COPILOT_DEBUG",
        "COPILOT_TEST_POSTGRES_URL",
        "COPILOT_CORPORA_DIR",
        "COPILOT_ARTIFACTS_DIR",
    }
)
ENV_PREFIX = "COPILOT_"


def config_path() -> Path:
    """The TOML config: ``COPILOT_CONFIG`` if set, else ``./copilot.toml`` (may be absent)."""
    return Path(os.environ.get("COPILOT_CONFIG", "copilot.toml"))


def load_settings(**overrides: Any) -> Settings:
    """Build settings from every source; overrides win (tests and CLI flags). Refuses a
    named config file that does not exist and any key that names no setting."""
    _check_named_config()
    try:
        _check_known_keys()
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid settings: {describe_validation_error(exc, unknown='unknown setting')}",
            "check the COPILOT_* environment variables, .env and copilot.toml",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_path()} is not valid TOML: {exc}", "fix its syntax") from None


def _check_named_config() -> None:
    named = os.environ.get("COPILOT_CONFIG")
    if named is None:
        return  # ./copilot.toml is optional
    if not named.strip():
        raise ConfigError("COPILOT_CONFIG is set but empty", "name a TOML file, or unset it")
    if not Path(named).is_file():
        raise ConfigError(
            f"config file {named} (COPILOT_CONFIG) does not exist",
            "fix the path, or unset COPILOT_CONFIG to use ./copilot.toml",
        )


def _check_known_keys() -> None:
    """Name the first key of the TOML file, ``.env`` or the environment that is no setting."""
    path = config_path()
    if path.is_file():
        try:
            with path.open("rb") as fh:
                table = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}", "check the file") from None
        unknown = unknown_toml_keys(Settings, table)
        if unknown:
            dotted, near = unknown[0]
            raise ConfigError(f"{path}: unknown setting {dotted!r}", spelling_hint(near))
    from pydantic_settings import DotEnvSettingsSource

    # .env names come lower-cased (pydantic-settings matches them without case)
    dotenv = [n.upper() for n in DotEnvSettingsSource(Settings).env_vars]
    for where, names in (("environment variable", list(os.environ)), (".env", dotenv)):
        for name in names:
            meant = unknown_env_name(Settings, name, ENV_PREFIX, PROCESS_ENV)
            if meant is not None:
                raise ConfigError(f"{where} {name}: unknown setting", spelling_hint(meant))
