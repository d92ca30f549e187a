"""What the sandbox tools take and return: typed results, free of hidden state and secrets."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from .._common.logtemplates import TemplatedWindow
from .telemetry import LogLine

ServiceName = Annotated[
    str, Field(min_length=1, max_length=64, description="service name, e.g. checkout")
]
JobName = Annotated[
    str, Field(min_length=1, max_length=64, description="job name, e.g. nightly-reindex")
]
Domain = Annotated[str, Field(min_length=1, max_length=253, description="certificate domain")]
FlagName = Annotated[str, Field(min_length=1, max_length=64, description="feature flag name")]
SecretName = Annotated[str, Field(min_length=1, max_length=64, description="secret name")]
ConfigKey = Annotated[
    str, Field(pattern=r"^[A-Z][A-Z0-9_]{0,63}$", description="config key, e.g. PAYMENTS_API_URL")
]

SECRET_REFERENCE = re.compile(r"secret:[A-Za-z0-9][A-Za-z0-9_./-]{0,127}")


def _secret_reference(value: str) -> str:
    """A value that starts ``secret:`` is a reference and must name a secret."""
    if value.startswith("secret:") and not SECRET_REFERENCE.fullmatch(value):
        raise ValueError("a secret reference is secret:NAME (letters, digits, _ . / -)")
    return value


ConfigValue = Annotated[
    str,
    Field(min_length=1, max_length=500, description="plain value; refer to secrets as secret:NAME"),
    AfterValidator(_secret_reference),
]


class FlagChangeInfo(BaseModel):
    """The latest change of one of a service's feature flags."""

    flag: str
    enabled: bool
    at: datetime


class ServiceStatus(BaseModel):
    service: str
    owner: str
    health: str
    revision: int
    image: str
    deployed_at: datetime
    replicas: int
    ready_replicas: int
    error_rate: float
    p50_ms: float
    p99_ms: float
    memory_mb: float
    memory_limit_mb: float
    restarts: int
    cost_per_hour: float
    flags: dict[str, bool]
    config: dict[str, str]
    # errors that start right after a flag change point at the flag (None: never changed)
    last_flag_change: FlagChangeInfo | None = None


class StatusReport(BaseModel):
    at: datetime
    services: list[ServiceStatus]


class DeploymentInfo(BaseModel):
    revision: int
    image: str
    deployed_at: datetime
    author: str
    change: str
    current: bool
    # the revision that ran before the current one: where a rollback without a revision goes
    previous: bool = False
    config_changes: list[str]


class DeploymentHistory(BaseModel):
    service: str
    current_revision: int
    deployments: list[DeploymentInfo]


class LogsResult(BaseModel):
    service: str
    lines: list[LogLine]


class LogPatterns(BaseModel):
    """A log window folded into templates: its shape in a few hundred tokens."""

    service: str
    minutes: int
    window: TemplatedWindow


class JobInfo(BaseModel):
    job: str
    service: str
    owner: str
    schedule: str
    state: str
    running_since: datetime | None
    workers: int
    usual_workers: int
    typical_duration_min: int
    cost_per_hour: float
    last_run_at: datetime
    last_duration_min: int
    last_status: str


class JobsReport(BaseModel):
    jobs: list[JobInfo]
    cost_per_hour: float


class DatabaseStatus(BaseModel):
    database: str
    engine: str
    primary: str
    replica: str
    replication_lag_s: float
    replay: str
    blocking_query: str | None
    blocking_pid: int | None  # what cancel_query takes
    blocking_application: str | None
    primary_up: bool
    failover_safe: bool
    last_failover_at: datetime | None
    failovers: int


class CertificateInfo(BaseModel):
    domain: str
    service: str
    issuer: str
    serial: str
    issued_at: datetime
    not_after: datetime
    days_left: float
    status: str
    auto_renew: bool
    last_renewal_error: str | None


class CertificatesReport(BaseModel):
    certificates: list[CertificateInfo]


class SecretInfo(BaseModel):
    name: str
    version: int
    rotated_at: datetime
    age_days: float
    stale: bool
    fingerprint: str
    used_by: list[str]
    # this version's value was seen outside the secret store: rotate it
    exposed: bool = False
    exposed_at: datetime | None = None
    exposed_in: str | None = None


class SecretsReport(BaseModel):
    secrets: list[SecretInfo]
    exposed_count: int = 0
    exposed_secret_name: str | None = None  # the one exposed first: rotate it first


class ChangeInfo(BaseModel):
    at: datetime
    actor: str
    action: str
    target: str
    summary: str


class ChangesReport(BaseModel):
    changes: list[ChangeInfo]


class DeploymentChange(BaseModel):
    """A rollout: which revision ran before and which runs now."""

    service: str
    action: str
    before_revision: int
    after_revision: int
    before_image: str
    after_image: str
    replicas: int
    summary: str


class ScaleChange(BaseModel):
    service: str
    before_replicas: int
    after_replicas: int
    summary: str


class FlagChange(BaseModel):
    service: str
    flag: str
    before: bool
    after: bool
    summary: str


class JobChange(BaseModel):
    job: str
    paused_before: bool
    paused: bool
    cancelled_run: bool
    summary: str


class CertificateRenewal(BaseModel):
    domain: str
    serial_before: str
    serial: str
    not_after_before: datetime
    not_after: datetime
    summary: str


class FailoverResult(BaseModel):
    database: str
    primary_before: str
    primary: str
    replica: str
    replication_lag_s: float
    data_loss_window_s: float
    summary: str


class QueryCancellation(BaseModel):
    database: str
    node: str
    pid: int
    application: str
    replay_before: str
    replay: str
    replication_lag_s_before: float
    summary: str


class SecretRotation(BaseModel):
    name: str
    version_before: int
    version: int
    fingerprint: str
    restarted: list[str]
    summary: str
