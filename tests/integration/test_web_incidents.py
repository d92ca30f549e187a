"""Incidents on the web: the list with MTTA and MTTR, one incident's page and its forms
(acknowledge, mitigate, resolve, commander, severity, draft the postmortem), the Markdown
download, and the JSON API. A viewer is refused and nothing changes; a form without this
session's CSRF token is refused before anything is recorded; an unknown id is a clear 404;
alert text is shown as text, never as markup."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from webapp import Person, Web, serve, web_settings

SCRIPT = "<script>alert(1)</script>"


def alert_payload(starts_at: str) -> dict[str, Any]:
    """One Alertmanager delivery: checkout's error rate, its summary written by whoever
    wrote the alert rule (markup included)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="CheckoutErrors"}',
        "status": "firing",
        "receiver": "copilot",
        "commonLabels": {"alertname": "CheckoutErrors", "service": "checkout"},
        "externalURL": "http://alertmanager.local",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "CheckoutErrors", "service": "checkout"},
                "annotations": {"summary": f"{SCRIPT} checkout 5xx above 5%"},
                "startsAt": starts_at,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.local/graph",
                "fingerprint": "c0ffee01",
            }
        ],
    }


@dataclass
class Site:
    web: Web
    clock: Any
    incident: str  # opened by the alert above, two minutes after it started

    @property
    def service(self) -> Any:
        return self.web.service

    def status(self) -> str:
        return str(self.service.incident(self.incident).status.value)

    def kinds(self, reader: Person) -> list[str]:
        """The audit kinds about the incident, in order."""
        return [e["kind"] for e in reader.audit() if e["subject"] == self.incident]


@pytest.fixture
def site(tmp_path: Path, clock: Any) -> Iterator[Site]:
    with serve(web_settings(tmp_path / "data"), clock=clock) as web:
        started = (clock.now - timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
        got = web.service.receive_webhook("alertmanager", alert_payload(started))
        assert got is not None and got.opened
        yield Site(web, clock, got.incident.id)


def form_post(
    person: Person, path: str, data: dict[str, str], token: bool = True
) -> httpx.Response:
    sent = data | ({"csrf_token": person.csrf} if token else {})
    return person.client.post(path, data=sent, follow_redirects=False)


def act(person: Person, incident: str, action: str, value: str = "") -> httpx.Response:
    return form_post(person, f"/incidents/{incident}/action", {"action": action, "value": value})


def refused(r: httpx.Response, status: int, words: str) -> None:
    """A clear refusal: the status, the service's words, and nothing of a trace."""
    assert r.status_code == status, r.text
    assert words in r.text
    assert "Traceback" not in r.text and 'File "' not in r.text


# -- the list -------------------------------------------------------------------------------
def test_the_list_shows_each_incident_with_its_mtta_and_mttr(site: Site) -> None:
    alice = site.web.person("alice")
    site.clock.advance(180)  # five minutes after the alert started, alice is on it
    assert act(alice, site.incident, "ack").status_code == 303
    site.clock.advance(600)  # and fifteen minutes after, it is over
    assert act(alice, site.incident, "resolve").status_code == 303
    declared = site.service.declare_incident(
        site.service.principal("alice"), f"search is slow {SCRIPT}", "low"
    )

    page = alice.client.get("/incidents")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'href="/incidents/{site.incident}"' in html
    assert f'href="/incidents/{declared.id}"' in html
    assert "5 min 0 s" in html and "15 min 0 s" in html  # MTTA and MTTR of the first
    assert "2 incidents, 1 not resolved" in html
    assert "MTTA mean" in html and "MTTR mean 15 min 0 s, median 15 min 0 s" in html
    assert 'aria-current="page">Incidents' in html
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    listed = alice.client.get("/api/incidents").json()
    assert [i["id"] for i in listed["incidents"]] == [declared.id, site.incident]
    stats = listed["stats"]
    assert (stats["incidents"], stats["open"], stats["resolved"]) == (2, 1, 1)
    assert stats["mttr_mean_s"] == 900.0


def test_the_pages_need_a_session(site: Site) -> None:
    stranger = site.web.person("alice", sign_in=False)
    for path in ("/incidents", f"/incidents/{site.incident}"):
        r = stranger.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/sign-in"), path
    assert stranger.client.get("/api/incidents").status_code == 401
    assert stranger.client.get(f"/api/incidents/{site.incident}/timeline").status_code == 401


# -- one incident ---------------------------------------------------------------------------
def test_the_page_shows_the_incident_and_its_timeline_as_text(site: Site) -> None:
    dana = site.web.person("dana")  # a viewer may look
    page = dana.client.get(f"/incidents/{site.incident}")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="status">open<' in html
    assert "1 firing of 1" in html
    assert f'href="/c/incident-{site.incident.split("-")[1]}"' in html
    timeline = site.service.timeline(site.incident)
    assert timeline.events
    for event in timeline.events:
        assert f"<code>{event.id}</code>" in html
    assert any(e.kind == "alert.firing" for e in timeline.events)
    # the alert rule's markup is the sender's text, shown as text
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; checkout 5xx" in html
    for action in ("ack", "mitigate", "resolve", "commander", "severity"):
        assert f'name="action" value="{action}"' in html
    assert html.count('name="csrf_token"') >= 7  # every form carries the token
    assert "No postmortem yet" in html

    api = dana.client.get(f"/api/incidents/{site.incident}/timeline").json()
    assert [e["id"] for e in api["events"]] == [e.id for e in timeline.events]
    assert api["incident"]["id"] == site.incident


def test_acknowledge_commander_and_severity_through_the_forms(site: Site) -> None:
    alice = site.web.person("alice")
    site.clock.advance(60)
    r = act(alice, site.incident, "ack")
    assert r.status_code == 303 and r.headers["location"] == f"/incidents/{site.incident}"
    assert site.status() == "acknowledged"
    assert "incident.ack" in site.kinds(alice)
    ack = [e for e in alice.audit() if e["kind"] == "incident.ack"]
    assert [(e["actor"], e["subject"]) for e in ack] == [("alice", site.incident)]

    assert act(alice, site.incident, "commander", "carol").status_code == 303
    assert act(alice, site.incident, "severity", "critical").status_code == 303
    found = site.service.incident(site.incident)
    assert (found.commander, found.severity) == ("carol", "critical")

    html = alice.client.get(f"/incidents/{site.incident}").text
    assert 'id="status">acknowledged<' in html and 'id="commander">carol<' in html
    assert 'id="mtta">3 min 0 s<' in html
    assert 'value="ack"' not in html  # no going back
    assert "set the severity" in site.service.timeline(site.incident).events[-1].text

    # a move the lifecycle does not allow: the service's words, nothing changed
    r = act(alice, site.incident, "ack")
    refused(r, 422, "is already acknowledged")
    assert site.kinds(alice).count("incident.ack") == 1
    r = act(alice, site.incident, "severity", "apocalyptic")
    refused(r, 422, "unknown severity")
    r = act(alice, site.incident, "commander", "mallory")
    assert 400 <= r.status_code < 500 and "Traceback" not in r.text
    assert site.service.incident(site.incident).commander == "carol"
    r = act(alice, site.incident, "delete")
    refused(r, 422, "invalid request")


def test_a_viewer_is_refused_and_nothing_changes(site: Site) -> None:
    dana = site.web.person("dana")
    before, incident = site.kinds(dana), site.service.incident(site.incident)
    for action, value in (("ack", ""), ("resolve", ""), ("severity", "low")):
        refused(act(dana, site.incident, action, value), 403, "dana may not change incidents")
    r = form_post(dana, f"/incidents/{site.incident}/postmortem", {})
    refused(r, 403, "dana may not write postmortems")
    r = dana.post(f"/api/incidents/{site.incident}/ack", {})
    assert r.status_code == 403 and "dana may not change incidents" in r.json()["error"]
    found = site.service.incident(site.incident)
    assert found == incident
    assert found.status.value == "open" and found.first_human_at is None
    assert site.service.postmortems(site.incident) == []
    assert site.kinds(dana) == before


def test_a_form_without_this_sessions_csrf_token_is_refused(site: Site) -> None:
    alice, bob = site.web.person("alice"), site.web.person("bob")
    before = site.kinds(alice)
    path = f"/incidents/{site.incident}"
    r = form_post(alice, f"{path}/action", {"action": "ack"}, token=False)
    refused(r, 403, "CSRF token")
    r = alice.client.post(
        f"{path}/action",
        data={"action": "ack", "csrf_token": bob.csrf},  # valid, but another session's
        follow_redirects=False,
    )
    refused(r, 403, "CSRF token")
    r = form_post(alice, f"{path}/postmortem", {}, token=False)
    refused(r, 403, "CSRF token")
    r = alice.client.post(f"/api/incidents/{site.incident}/ack", json={})
    assert r.status_code == 403 and "CSRF token" in r.json()["error"]
    r = alice.post(f"/api/incidents/{site.incident}/ack", {}, Origin="https://evil.example")
    assert r.status_code == 403
    assert site.status() == "open"
    assert site.service.postmortems(site.incident) == []
    assert site.kinds(alice) == before


# -- the postmortem -------------------------------------------------------------------------
def test_draft_the_postmortem_and_download_it(site: Site) -> None:
    alice = site.web.person("alice")
    md = f"/incidents/{site.incident}/postmortem.md"
    refused(alice.client.get(md), 404, "has no postmortem yet")

    act(alice, site.incident, "ack")
    r = form_post(alice, f"/incidents/{site.incident}/postmortem", {})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/incidents/{site.incident}#postmortem"
    versions = site.service.postmortems(site.incident)
    assert [(p.version, p.author) for p in versions] == [(1, "alice")]
    assert "postmortem.drafted" in site.kinds(alice)

    html = alice.client.get(f"/incidents/{site.incident}").text
    assert "Version 1 by alice" in html
    assert 'class="cite" href="#E' in html  # its claims cite the timeline, linked
    assert f'href="{md}"' in html
    assert SCRIPT not in html

    r = alice.client.get(md)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/markdown")
    assert "attachment" in r.headers["content-disposition"]
    assert f"{site.incident}-postmortem-v1.md" in r.headers["content-disposition"]
    assert r.text == versions[-1].markdown and "[E" in r.text

    # a second draft is a second version, and the download follows the latest
    r = alice.post(f"/api/incidents/{site.incident}/postmortem", {})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["author"] == "alice"
    assert (
        f"{site.incident}-postmortem-v2.md" in alice.client.get(md).headers["content-disposition"]
    )


# -- the JSON API ---------------------------------------------------------------------------
def test_the_api_moves_the_incident_with_the_csrf_header(site: Site) -> None:
    bob = site.web.person("bob")
    base = f"/api/incidents/{site.incident}"
    r = bob.post(f"{base}/ack", None)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged"
    r = bob.post(f"{base}/commander", {"value": "@alice"})
    assert r.status_code == 200 and r.json()["commander"] == "alice"
    r = bob.post(f"{base}/severity", {"value": "high"})
    assert r.status_code == 200 and r.json()["severity"] == "high"
    r = bob.post(f"{base}/mitigate", {})
    assert r.status_code == 200 and r.json()["status"] == "mitigated"
    r = bob.post(f"{base}/ack", {})
    assert r.status_code == 422 and "already mitigated" in r.json()["error"]
    r = bob.post(f"{base}/explode", {})
    assert r.status_code == 422
    assert bob.client.get(base).json()["status"] == "mitigated"
    kinds = site.kinds(bob)
    for kind in ("incident.ack", "incident.commander", "incident.severity", "incident.mitigate"):
        assert kinds.count(kind) == 1, kinds


# -- bad ids --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["INC-999", "nonsense", "INC-" + "9" * 40, "%3Cscript%3E"])
def test_an_unknown_incident_is_a_clear_404(site: Site, bad: str) -> None:
    alice = site.web.person("alice")
    before = site.kinds(alice)
    page = alice.client.get(f"/incidents/{bad}")
    refused(page, 404, "no incident")
    assert "<script>" not in page.text.split("</head>", 1)[1]
    refused(act(alice, bad, "ack"), 404, "no incident")
    refused(form_post(alice, f"/incidents/{bad}/postmortem", {}), 404, "no incident")
    refused(alice.client.get(f"/incidents/{bad}/postmortem.md"), 404, "no incident")
    for r in (
        alice.client.get(f"/api/incidents/{bad}/timeline"),
        alice.post(f"/api/incidents/{bad}/ack", {}),
        alice.post(f"/api/incidents/{bad}/postmortem", {}),
    ):
        assert r.status_code == 404 and "no incident" in r.json()["error"], r.text
    assert site.kinds(alice) == before


def test_edit_the_postmortem_on_the_page(site: Site) -> None:
    alice = site.web.person("alice")
    form_post(alice, f"/incidents/{site.incident}/postmortem", {})
    first = site.service.postmortem(site.incident)
    edited = first.markdown + "\n## Retro notes\n\nThe alert fired late; lower its `for:`.\n" * 1200
    assert len(edited) > 64 * 1024  # above the server's usual body limit
    r = form_post(alice, f"/incidents/{site.incident}/postmortem/edit", {"markdown": edited})
    assert r.status_code == 303, r.text[:300]
    latest = site.service.postmortem(site.incident)
    assert latest.version == 2 and latest.markdown == edited.strip()
    assert latest.draft.edited_by == "alice"
    assert "postmortem.edited" in site.kinds(alice)
    html = alice.client.get(f"/incidents/{site.incident}").text
    assert "Edited by alice" in html and "Retro notes" in html
    dana = site.web.person("dana")
    r = form_post(dana, f"/incidents/{site.incident}/postmortem/edit", {"markdown": "x"})
    refused(r, 403, "dana may not write postmortems")
    empty = form_post(alice, f"/incidents/{site.incident}/postmortem/edit", {"markdown": " "})
    assert empty.status_code in (400, 422) and "Traceback" not in empty.text
    assert site.service.postmortem(site.incident).version == 2
