"""The Kubernetes pack's connection: an ``ApiClient`` built from settings, one call helper,
and the client's errors translated once.

``kubernetes`` is imported inside functions: the registry imports every pack at startup
and the client is slow to import. Calls ask for raw JSON (``_preload_content=False``)
rather than the client's typed models: those drop fields they do not know, and a rollback
patch must carry the old pod template whole.

Errors become ``SourceError`` (the call did nothing; reads turn it into ``unavailable``,
writes into ``ToolFailed``) or, for a write that was sent but not answered,
``ChangeUnconfirmed`` (the executor records the outcome as *unknown*). Messages are composed
from the error's type, the HTTP status and the ``message`` of the API's Status body, never
``str(exception)``, which can carry headers or whole bodies.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from copilot.errors import ToolTimeout
from copilot.toolkit import ToolContext

from .._common.sources import SourceError, SourceUnavailable, sources_of
from .view import selector_string

ENABLE_HINT = (
    "set COPILOT_SOURCES__KUBERNETES=true, and COPILOT_SOURCES__KUBECONFIG / "
    "COPILOT_SOURCES__KUBE_CONTEXT (or COPILOT_SOURCES__KUBE_IN_CLUSTER=true in a pod)"
)
_CONFIG_HINT = (
    "check COPILOT_SOURCES__KUBECONFIG (default: $KUBECONFIG or ~/.kube/config) and "
    "COPILOT_SOURCES__KUBE_CONTEXT"
)

Json = dict[str, Any]


class ChangeUnconfirmed(ToolTimeout):
    """A write reached the API but no answer came back: it may or may not have applied."""


def _unavailable(error: str, hint: str, url: str | None = None) -> SourceError:
    return SourceError(SourceUnavailable(source="kubernetes", url=url, error=error, hint=hint))


@dataclass
class Kube:
    """An open connection: the typed API groups and where they point."""

    api: Any  # kubernetes.client.ApiClient
    timeout_s: float
    host: str

    def core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api)

    def apps(self) -> Any:
        from kubernetes import client

        return client.AppsV1Api(self.api)


def _configuration(ctx: ToolContext) -> Any:
    cfg = sources_of(ctx)
    from kubernetes import client, config

    # type.__call__ skips the client's "copy of the process-wide default" constructor.
    configuration = type.__call__(client.Configuration)
    if cfg.kube_in_cluster:
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException as exc:
            raise _unavailable(
                f"no in-cluster Kubernetes credentials ({type(exc).__name__})",
                "run the copilot in a pod with a service account, or set "
                "COPILOT_SOURCES__KUBE_IN_CLUSTER=false and a kubeconfig",
            ) from None
        return configuration
    path = str(cfg.kubeconfig) if cfg.kubeconfig else None
    where = f"kubeconfig {path or '(default)'}" + (
        f", context {cfg.kube_context}" if cfg.kube_context else ""
    )
    try:
        # persist_config=False: never write refreshed tokens back into the operator's file.
        config.load_kube_config(
            config_file=path,
            context=cfg.kube_context,
            client_configuration=configuration,
            persist_config=False,
        )
    except Exception as exc:  # ConfigException, OSError, YAML and shape errors alike
        raise _unavailable(
            f"cannot load the Kubernetes configuration ({where}: {type(exc).__name__})",
            _CONFIG_HINT,
        ) from None
    return configuration


@contextmanager
def connect(ctx: ToolContext) -> Iterator[Kube]:
    """An API client for this call, from ``[sources]`` settings; closed afterwards."""
    cfg = sources_of(ctx)
    if not cfg.kubernetes:
        raise _unavailable("the Kubernetes tools are turned off", ENABLE_HINT)
    try:
        from kubernetes import client
    except ImportError:
        raise _unavailable(
            "the kubernetes Python client is not installed", "pip install kubernetes"
        ) from None
    configuration = _configuration(ctx)
    # One retry of a failed connection (and of an idempotent read): a black-holed API costs
    # at most two timeouts, within the tool's own time limit.
    configuration.retries = 1
    api = client.ApiClient(configuration)
    api.user_agent = "incident-copilot"
    try:
        yield Kube(api, cfg.timeout_s, str(configuration.host))
    finally:
        api.close()


def call(
    kube: Kube,
    fn: Callable[..., Any],
    /,
    *args: Any,
    doing: str,
    rbac: str,
    not_found: str | None = None,
    write: bool = False,
    **kw: Any,
) -> Json:
    """Call one client method; its decoded JSON, or the translated error.

    ``doing`` names the action for messages ("list pods in shop"), ``rbac`` the permission it
    needs ("list pods"), ``not_found`` the message for a 404.
    """
    kw.setdefault("_request_timeout", kube.timeout_s)
    try:
        resp = fn(*args, _preload_content=False, **kw)
        data = resp.data
    except Exception as exc:
        raise translate(
            exc, kube, doing=doing, rbac=rbac, not_found=not_found, write=write
        ) from None
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        return doc
    if write:
        return {}  # the change was accepted (2xx); only its echo is unreadable
    raise _unavailable(
        f"the Kubernetes API answered the request to {doing} with something that is not JSON",
        "is the server a Kubernetes API server?",
        kube.host,
    )


def status_message(exc: Any) -> str:
    """The ``message`` of the Status body a Kubernetes API error carries, short."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return str(getattr(exc, "reason", "") or "no details")[:100]
    message = body.get("message") if isinstance(body, dict) else None
    return " ".join(str(message).split())[:300] if message else "no details"


def translate(
    exc: Exception, kube: Kube, *, doing: str, rbac: str, not_found: str | None, write: bool
) -> Exception:
    """The client's exception as ``SourceError`` (nothing happened) or ``ChangeUnconfirmed``."""
    import urllib3.exceptions as u3
    from kubernetes.client.exceptions import ApiException

    host, name = kube.host, type(exc).__name__
    if isinstance(exc, ApiException):
        return _from_status(exc, kube, doing=doing, rbac=rbac, not_found=not_found, write=write)
    reason = exc.reason if isinstance(exc, u3.MaxRetryError) else exc
    if isinstance(reason, u3.ConnectTimeoutError | u3.NewConnectionError):
        # NewConnectionError is a ConnectTimeoutError: either way nothing was sent.
        return _unavailable(
            f"cannot reach the Kubernetes API at {host} ({type(reason).__name__})",
            "check that the API server is up and reachable from the copilot, and the "
            "server URL of the kubeconfig context",
            host,
        )
    if write and isinstance(reason, u3.ReadTimeoutError | u3.ProtocolError):
        what = (
            f"did not answer within {kube.timeout_s:g}s"
            if isinstance(reason, u3.ReadTimeoutError)
            else f"dropped the connection ({type(reason).__name__})"
        )
        return ChangeUnconfirmed(
            f"the Kubernetes API {what} after the request to {doing} was sent",
            "check the object's current state (kubernetes.deployment_status) before acting again",
        )
    if isinstance(reason, u3.ReadTimeoutError):
        return _unavailable(
            f"the Kubernetes API did not answer within {kube.timeout_s:g}s",
            "check the API server's health, or raise COPILOT_SOURCES__TIMEOUT_S",
            host,
        )
    if isinstance(reason, u3.HTTPError):
        return _unavailable(
            f"the connection to the Kubernetes API at {host} failed ({type(reason).__name__})",
            "check the API server and the network between it and the copilot",
            host,
        )
    if write:
        return ChangeUnconfirmed(
            f"the request to {doing} ended with {name}; whether it applied is not known",
            "check the object's current state (kubernetes.deployment_status) before acting again",
        )
    return _unavailable(f"reading from the Kubernetes API failed ({name})", "", host)


def _from_status(
    exc: Any, kube: Kube, *, doing: str, rbac: str, not_found: str | None, write: bool
) -> Exception:
    status, message = int(exc.status or 0), status_message(exc)

    def fail(error: str, hint: str) -> SourceError:
        return _unavailable(error, hint, kube.host)

    if status == 0:
        # The client reports TLS failures as status 0; its reason quotes the handshake.
        return fail(
            f"cannot talk to the Kubernetes API at {kube.host} (TLS or transport error)",
            "check the cluster's certificate authority in the kubeconfig",
        )
    if status == 401:
        return fail(
            "the Kubernetes API rejected the credentials (HTTP 401 Unauthorized)",
            "the token or client certificate of the kubeconfig user is wrong or expired: "
            "refresh it, or pick another COPILOT_SOURCES__KUBE_CONTEXT",
        )
    if status == 403:
        return fail(
            f"the Kubernetes API forbids the copilot to {doing} (HTTP 403): {message}",
            f"grant the copilot's identity the RBAC permission `{rbac}` in that namespace "
            "(a Role and RoleBinding)",
        )
    if status == 404:
        return fail(
            not_found or f"the Kubernetes API has nothing to {doing} (HTTP 404): {message}",
            "check the namespace and the name",
        )
    if status == 409:
        return fail(
            f"the object changed while the copilot tried to {doing} (HTTP 409): {message}",
            "look at its current state and propose the change again",
        )
    if write and status == 504:
        return ChangeUnconfirmed(
            f"a gateway timed out (HTTP 504) after the request to {doing} was sent",
            "check the object's current state (kubernetes.deployment_status) before acting again",
        )
    if status in (400, 415, 422):
        return fail(f"the Kubernetes API refused to {doing} (HTTP {status}): {message}", "")
    if status == 429:
        return fail(
            "the Kubernetes API is throttling the copilot (HTTP 429)", "wait a little and retry"
        )
    return fail(
        f"the Kubernetes API failed to {doing} (HTTP {status}): {message}",
        "see the API server's health and logs",
    )


# -- the calls the tools share ------------------------------------------------------------
_PAGE = 500
_MAX_ITEMS = 2000


def no_deployment(namespace: str, name: str) -> str:
    return f"no deployment {name} in namespace {namespace}"


def list_all(
    kube: Kube, fn: Callable[..., Any], namespace: str, *, doing: str, rbac: str, **kw: Any
) -> tuple[list[Json], bool]:
    """All items of a list call, page by page; True if more were left after the cap."""
    items: list[Json] = []
    token = None
    while True:
        doc = call(kube, fn, namespace, doing=doing, rbac=rbac, limit=_PAGE, _continue=token, **kw)
        items += doc.get("items") or []
        token = (doc.get("metadata") or {}).get("continue")
        if not token:
            return items, False
        if len(items) >= _MAX_ITEMS:
            return items, True


def read_deployment(kube: Kube, namespace: str, name: str) -> Json:
    return call(
        kube,
        kube.apps().read_namespaced_deployment,
        name,
        namespace,
        doing=f"read deployment {namespace}/{name}",
        rbac="get deployments (apps)",
        not_found=no_deployment(namespace, name),
    )


def deployment_with_sets(kube: Kube, namespace: str, name: str) -> tuple[Json, list[Json]]:
    dep = read_deployment(kube, namespace, name)
    sets, _ = list_all(
        kube,
        kube.apps().list_namespaced_replica_set,
        namespace,
        doing=f"list replicasets in {namespace}",
        rbac="list replicasets (apps)",
        label_selector=selector_string((dep.get("spec") or {}).get("selector")) or None,
    )
    return dep, sets
