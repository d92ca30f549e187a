"""The Slack surface's small parts: Slack's markup back to what a person typed, one
conversation per thread, settings from Slack's own variable names, who a Slack user is
(by id or by the e-mail ``users.info`` gives), and one message per second per channel,
all against the fake Slack on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.bench.slack_fake import BOT_TOKEN, BOT_USER, FakeSlack
from copilot.service import CopilotService
from copilot.settings import Settings, UserConfig
from copilot.settings_slack import SlackSettings
from copilot.surfaces.slack.handlers import conversation_of, plain
from copilot.surfaces.slack.mount import describe
from copilot.surfaces.slack.outbox import Outbox, web_client
from copilot.surfaces.slack.people import People


def test_plain_text_from_slack_markup() -> None:
    said = f"<@{BOT_USER}> is <https://shop.example.com/x|checkout> down? see <#C123|incidents>"
    assert plain(said, BOT_USER) == "is checkout down? see incidents"
    assert plain("a &lt;b&gt; &amp; c <https://x.example>", None) == "a <b> & c https://x.example"
    assert plain("<!channel> help", None) == "channel help"  # no mention survives


def test_one_conversation_per_thread() -> None:
    assert conversation_of("C1", "1700000000.000100") == "slack-C1-1700000000.000100"
    assert conversation_of("C1", "1.1") != conversation_of("C2", "1.1")


def test_slack_names_in_the_environment_fill_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SlackSettings().mode == "off"
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3")
    assert SlackSettings().mode == "http"
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert SlackSettings().mode == "socket"
    assert SlackSettings(bot_token="xoxb-from-config").bot_token == "xoxb-from-config"
    shown = repr(SlackSettings())
    assert "xoxb-1" not in shown and "s3" not in shown and "xapp-1" not in shown


def test_serve_says_which_way_slack_comes_in() -> None:
    assert describe(Settings()).startswith("slack: off")
    http = Settings(slack=SlackSettings(bot_token="xoxb-1", signing_secret="s"))
    assert describe(http) == "slack: http, events at /slack/events"
    socket = Settings(slack=SlackSettings(bot_token="xoxb-1", app_token="xapp-1"))
    assert describe(socket) == "slack: socket mode"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    found = FakeSlack(emails={"UCAROL": "Carol@Example.com", "UERIN": "erin@example.com"}).start()
    yield found
    found.stop()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[CopilotService]:
    users = {"alice": UserConfig(roles=["responder"]), "carol": UserConfig(roles=["oncall-lead"])}
    found = CopilotService.open(Settings(data_dir=tmp_path, users=users))
    yield found
    found.close()


def test_people_by_id_by_email_and_nobody(fake: FakeSlack, service: CopilotService) -> None:
    mapping = {"UALICE": "alice", "carol@example.com": "carol", "erin@example.com": "erin"}
    people = People(service, mapping, web_client(BOT_TOKEN, fake.url))
    alice = people.principal("UALICE")
    assert alice is not None and alice.id == "alice"
    assert fake.of("users.info") == []  # an id in the mapping needs no lookup
    carol = people.principal("UCAROL")  # the e-mail's case does not matter
    assert carol is not None and carol.id == "carol" and "oncall-lead" in carol.roles
    people.principal("UCAROL")
    assert len(fake.of("users.info")) == 1  # remembered
    assert people.principal("UERIN") is None  # mapped, but no such copilot user
    assert people.principal("UNKNOWN") is None  # Slack does not know them either


def test_new_messages_keep_to_the_channel_rate(fake: FakeSlack, service: CopilotService) -> None:
    outbox = Outbox(web_client(BOT_TOKEN, fake.url), service, "1/second")
    for n in range(3):
        assert outbox.post("CRATE", f"message {n}")
    assert outbox.post("COTHER", "another channel is not held up")
    posted = [c for c in fake.of("chat.postMessage") if c.args["channel"] == "CRATE"]
    gaps = [b.at - a.at for a, b in itertools.pairwise(posted)]
    assert len(gaps) == 2 and all(gap >= 0.9 for gap in gaps), gaps


def test_the_outbox_redacts_and_survives_slack_refusing(
    fake: FakeSlack, service: CopilotService
) -> None:
    from fakes import canaries

    outbox = Outbox(web_client(BOT_TOKEN, fake.url), service, "50/second")
    assert outbox.post("CX", f"pasted: {canaries.PASTE}")
    assert canaries.leaks(str(fake.of("chat.postMessage")[-1].args)) == []
    wrong = Outbox(web_client("xoxb-wrong", fake.url), service, "50/second")
    assert wrong.post("CX", "hello") is None  # invalid_auth: logged by its code, no raise


def test_the_manifest_asks_for_what_the_app_listens_to() -> None:
    import yaml

    manifest = yaml.safe_load((Path(__file__).parents[2] / "slack" / "manifest.yaml").read_text())
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/copilot"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= scopes
    assert {"users:read", "users:read.email"} <= scopes  # who pressed: users.info
