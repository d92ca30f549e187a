"""The incident pages in a real browser: the list with MTTA/MTTR, the incident with its
timeline, acknowledge and resolve by button, and a postmortem drafted from the page whose
citations name events of the timeline on the same page."""

from __future__ import annotations

import re

from fakes.alerts import alert, payload
from fakes.live_web import LiveServer, Person


def test_an_incident_worked_and_written_up_from_the_browser(
    live: LiveServer, people: dict[str, Person]
) -> None:
    got = live.service.receive_webhook("alertmanager", payload(alert(summary="<b>5xx</b> up")))
    incident_id = got.incident.id
    bob = people["bob"]
    page = bob.page
    page.goto(f"{live.url}/incidents")
    row = page.locator(f"text={incident_id}").first
    row.click()
    page.wait_for_selector("#incident-title")
    assert page.locator("#status").inner_text() == "open"
    # the sender's markup is text on the page, not markup
    assert "<b>5xx</b> up" in page.locator("table.timeline").inner_text()
    page.click("button:has-text('Acknowledge')")
    page.wait_for_function("document.querySelector('#status').textContent === 'acknowledged'")
    assert page.locator("#mtta").inner_text() != "–"
    page.click("button:has-text('Resolve')")
    page.wait_for_function("document.querySelector('#status').textContent === 'resolved'")
    page.click("button:has-text('Draft postmortem')")
    page.wait_for_selector(".postmortem-draft")
    assert "Summary" in page.locator(".postmortem-draft").inner_text()
    rows = {r.get_attribute("id") for r in page.locator("table.timeline tbody tr").all()}
    links = page.locator(".postmortem-draft a.cite")
    cited = {str(a.get_attribute("href")).removeprefix("#") for a in links.all()}
    assert cited and cited <= rows, (cited, rows)
    links.first.click()  # a citation leads to its event
    assert page.evaluate("location.hash") == f"#{links.first.inner_text()}"
    markdown = page.request.get(f"{live.url}/incidents/{incident_id}/postmortem.md").text()
    assert markdown.startswith(f"# Postmortem: {incident_id}")
    assert set(re.findall(r"\[(E\d+)\]", markdown)) <= rows
    bob.shot("10-incident-resolved-with-postmortem")
    assert live.service.incident(incident_id).status.value == "resolved"

    dana = people["dana"]  # a viewer: the buttons refuse, nothing changes
    dana.page.goto(f"{live.url}/incidents/{incident_id}")
    dana.page.click("button:has-text('Draft postmortem')")
    dana.page.wait_for_load_state()
    assert len(live.service.postmortems(incident_id)) == 1
