"""The sandbox tool pack: read and act on a simulated production kept in the state store.

The world is one versioned document; every write loads it, applies one pure action and
saves it back with the version it read, so a concurrent change surfaces as ``ToolRetry``
and nothing is half-applied. Plans (``plans``) depend only on the stored world and the
arguments, never on the clock. Operator actions (reset, inject a fault) live in ``state``:
they are deliberately not tools, so the copilot cannot call them.
"""

from __future__ import annotations

from copilot.toolkit import ToolSpec

from .alert_tools import alerts, create_silence, expire_silence, silences
from .changes import (
    cancel_query,
    failover_database,
    pause_job,
    renew_certificate,
    restart_service,
    resume_job,
    rollback_deployment,
    rotate_secret,
    scale_service,
    set_config_value,
    toggle_feature_flag,
)
from .faults import FAULTS
from .reads import (
    certificate_status,
    database_status,
    get_logs,
    get_metrics,
    get_metrics_history,
    list_deployments,
    list_jobs,
    list_secrets,
    log_patterns,
    recent_changes,
    service_status,
)
from .state import (
    inject_fault,
    load_world,
    plant_text,
    reset_world,
    world_doc_name,
    world_status,
)

__all__ = [
    "FAULTS",
    "TOOLS",
    "inject_fault",
    "load_world",
    "plant_text",
    "reset_world",
    "world_doc_name",
    "world_status",
]

TOOLS: list[ToolSpec] = [
    service_status,
    list_deployments,
    get_logs,
    log_patterns,
    get_metrics,
    get_metrics_history,
    list_jobs,
    database_status,
    certificate_status,
    list_secrets,
    recent_changes,
    alerts,
    silences,
    rollback_deployment,
    restart_service,
    scale_service,
    set_config_value,
    toggle_feature_flag,
    pause_job,
    resume_job,
    renew_certificate,
    failover_database,
    cancel_query,
    rotate_secret,
    create_silence,
    expire_silence,
]
