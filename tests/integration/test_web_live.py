"""The live stream of a conversation: the messages after the one the page has, every card
once, and the end of the stream when its session ends (a stream outlives its request)."""

from __future__ import annotations

from pathlib import Path

import pytest
from webapp import ASK, serve, web_settings

from copilot.surfaces.web import live


def events(lines: list[str]) -> list[str]:
    return [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]


def test_a_stream_sends_what_came_after_and_ends_with_its_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "SESSION_RECHECK_S", 0.0)
    with serve(web_settings(tmp_path / "data")) as web:
        web.service.inject_fault("bad_deploy", "checkout")
        alice = web.person("alice")
        assert alice.say("web-live", ASK).status_code == 200
        view = alice.view("web-live")
        first = view["messages"][0]["id"]
        aid = next(iter(view["cards"]))
        bob = web.person("bob")
        seen: list[str] = []
        with bob.client.stream("GET", f"/c/web-live/events?after={first}") as stream:
            for line in stream.iter_lines():
                seen.append(line)
                if line.startswith("data:") and f'id="card-{aid}"' in line:
                    # the page has everything now: end bob's sessions; the stream must end
                    web.service.end_sessions("bob")
        kinds = events(seen)
        assert kinds[0] == "message"  # the reply, after the message the page already had
        assert kinds.count("message") == 1
        assert kinds.count("card") == 1  # every card once, as it is now
        sent = "\n".join(seen)
        assert f'id="card-{aid}"' in sent and 'hx-swap-oob="true"' in sent
        assert any(f"id: {first + 1}" in line for line in seen)
        assert not bob.signed_in()


def test_a_change_proposed_outside_the_chat_shows_in_its_conversation(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        service = web.service
        alice = web.person("alice")
        assert alice.say("web-cli", "what is the status of checkout").status_code == 200
        before, _ = service.call(
            service.principal("alice"),
            "sandbox.restart_service",
            {"service": "search"},
            conversation="web-cli",
        )
        page = alice.client.get("/c/web-cli").text
        assert f'id="card-{before.approval.id}"' in page.split('id="elsewhere"', 1)[1]
        last = alice.view("web-cli")["messages"][-1]["id"]
        seen: list[str] = []
        with alice.client.stream("GET", f"/c/web-cli/events?after={last}") as stream:
            for line in stream.iter_lines():
                seen.append(line)
                if line.startswith("data:") and f'id="card-{before.approval.id}"' in line:
                    later, _ = service.call(
                        service.principal("bob"),
                        "sandbox.restart_service",
                        {"service": "checkout"},
                        conversation="web-cli",
                    )
                    web.app.state.web.hub.notify("web-cli")
                if "event: elsewhere" in seen and line == "":  # the event ended
                    break
        data = seen[seen.index("event: elsewhere") + 1 :]
        assert any(f'id="card-{later.approval.id}"' in line for line in data)
        # reads the conversation made are not listed as changes
        assert all("sandbox.get_metrics" not in line for line in data)
