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
                if f"card-{aid}" in line:
                    # the page has everything now: end bob's sessions; the stream must end
                    web.service.end_sessions("bob")
        kinds = events(seen)
        assert kinds[0] == "message"  # the reply, after the message the page already had
        assert kinds.count("message") == 1
        assert kinds.count(f"card-{aid}") == 1  # every card once, as it is now
        assert any(f"id: {first + 1}" in line for line in seen)
        assert not bob.signed_in()
