"""Health, readiness and the API's description: what a load balancer, an orchestrator and
a script writer read first, with no session."""

from __future__ import annotations

from pathlib import Path

from webapp import serve, web_settings

# Every JSON route, with the methods a script may call on it.
API_ROUTES = {
    "/api/conversations": {"get"},
    "/api/conversations/{conversation}": {"get"},
    "/api/conversations/{conversation}/messages": {"post"},
    "/api/approvals/{approval_id}": {"get"},
    "/api/approvals/{approval_id}/decision": {"post"},
    "/api/proposals": {"get"},
    "/api/audit/verify": {"get"},
    "/api/audit/export": {"get"},
    "/api/session": {"get", "post", "delete"},
    "/api/incidents": {"get"},
    "/api/incidents/{incident_id}": {"get"},
    "/api/incidents/{incident_id}/timeline": {"get"},
    "/api/incidents/{incident_id}/postmortem": {"post"},
    "/api/incidents/{incident_id}/{action}": {"post"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    # called by Alertmanager and other alert sources, with their own token
    "/webhooks/alertmanager": {"post"},
    "/webhooks/generic": {"post"},
}


def test_health_readiness_and_the_openapi_description(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data"), own_service=True) as web:
        anyone = web.client("127.0.0.99")  # no session: probes never sign in
        r = anyone.get("/healthz")
        assert (r.status_code, r.json()) == (200, {"status": "ok", "checks": {}})

        r = anyone.get("/readyz")
        assert r.status_code == 200, r.text
        ready = r.json()
        assert ready["status"] == "ok"
        checks = ready["checks"]
        assert set(checks) == {"store", "runbooks", "model"}
        assert checks["store"] == "ok"
        # the bundled runbooks are indexed before the first request (the lifespan warms it)
        chunks = int(checks["runbooks"].removeprefix("ok (").removesuffix(" chunks)"))
        assert chunks > 0, checks
        assert checks["model"].startswith("ok"), checks

        r = anyone.get("/api/openapi.json")
        assert r.status_code == 200
        paths = r.json()["paths"]
        for path, methods in API_ROUTES.items():
            assert path in paths, f"{path} missing from the OpenAPI description"
            assert methods <= set(paths[path]), (path, set(paths[path]))
        # the pages are not part of the API (they answer HTML, and change without notice)
        assert not [p for p in paths if not p.startswith("/api/") and p not in API_ROUTES]
        # the message and decision bodies say their limits, so a script can check first
        schemas = r.json()["components"]["schemas"]
        assert schemas["MessageIn"]["properties"]["text"]["maxLength"] == 4000
        assert set(schemas["DecisionIn"]["properties"]["verdict"]["enum"]) == {
            "approve",
            "reject",
        }


def test_readiness_says_unavailable_when_the_store_is_gone(tmp_path: Path) -> None:
    """A probe that only ever says ok is no probe: with the store's folder gone (its pooled
    connections closed), /readyz answers 503 and names the store, by type only."""
    data = tmp_path / "data"
    with serve(web_settings(data)) as web:
        anyone = web.client("127.0.0.99")
        assert anyone.get("/readyz").status_code == 200
        web.service.door.deps.store.dispose()
        moved = tmp_path / "moved"
        data.rename(moved)  # SQLite cannot open a file in a folder that is not there
        try:
            r = anyone.get("/readyz")
        finally:
            moved.rename(data)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["store"].startswith("unavailable ("), body
        assert str(data) not in r.text  # no path, no exception text
        assert anyone.get("/readyz").status_code == 200  # and back once it is
