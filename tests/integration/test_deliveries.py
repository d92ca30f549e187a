"""A retried event is answered once: the first delivery is recorded in the store, so a
retry finds it in another replica or after a restart, and racing deliveries agree."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from copilot.errors import InvalidInput
from copilot.service import CopilotService
from copilot.settings import Settings
from copilot.settings_slack import SlackSettings


def test_one_delivery_wins_across_replicas_and_restarts(db_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    one, two = CopilotService.open(settings), CopilotService.open(settings)
    try:
        assert one.first_delivery("slack", "Ev01") is True
        assert two.first_delivery("slack", "Ev01") is False  # the other replica
        assert one.first_delivery("alertmanager", "Ev01") is True  # another sender's id
        wins: list[bool] = []
        barrier = threading.Barrier(8)

        def deliver(service: CopilotService) -> None:
            barrier.wait()
            wins.append(service.first_delivery("slack", "Ev02"))

        threads = [threading.Thread(target=deliver, args=((one, two)[i % 2],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(wins) == [False] * 7 + [True]
    finally:
        one.close()
        two.close()
    again = CopilotService.open(settings)  # after a restart
    try:
        assert again.first_delivery("slack", "Ev01") is False
        with pytest.raises(InvalidInput):
            again.first_delivery("slack", "")
    finally:
        again.close()


def test_slack_is_off_until_a_token_and_a_way_in_are_set() -> None:
    assert SlackSettings().mode == "off"
    assert SlackSettings(bot_token="xoxb-1").mode == "off"
    assert SlackSettings(bot_token="xoxb-1", signing_secret="s").mode == "http"
    assert (
        SlackSettings(bot_token="xoxb-1", signing_secret="s", app_token="xapp-1").mode == "socket"
    )
    assert "xoxb" not in repr(SlackSettings(bot_token="xoxb-secret"))
