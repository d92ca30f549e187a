"""Requests at once: a slow turn in one conversation holds up neither the probes nor another
conversation, and an approval sent twice (one after the other, or at the same moment from
two browsers) runs the call exactly once. No timing is measured: each test waits on events
with generous timeouts, and asserts only what happened."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from webapp import ASK, Person, Web, events_of, proposed_card, serve, web_settings

from copilot.service.wiring import default_gateway

WAIT_S = 120  # generous: a loaded two-core machine runs these next to other suites
SLOW = "tortoise"  # a turn whose request holds this word waits at the model


class Gate:
    """The real (offline) model, except that a request naming ``SLOW`` waits until the
    test opens the gate; ``entered`` tells the test it is waiting there."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.opened = threading.Event()

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> Any:
        if SLOW in str(messages):
            self.entered.set()
            assert self.opened.wait(WAIT_S), "the test never opened the gate"
        return self.inner.complete(messages, tools)


def test_a_slow_turn_holds_up_neither_the_probes_nor_another_conversation(
    tmp_path: Path,
) -> None:
    """Every request runs on the app's one event loop (as under uvicorn), so a turn that
    blocked it, or a lock held across conversations, would keep B from finishing."""
    gates: list[Gate] = []

    def gateway(settings: Any, redactor: Any) -> Gate:
        gates.append(Gate(default_gateway(settings, redactor)))
        return gates[-1]

    with serve(web_settings(tmp_path / "data"), gateway=gateway) as web:
        alice, bob = web.person("alice"), web.person("bob")
        web.service.inject_fault("bad_deploy", "checkout")
        slow = _in_thread(lambda: alice.say("inc-slow", f"{SLOW}: {ASK}"))
        try:
            assert gates and gates[0].entered.wait(WAIT_S), "the slow turn never reached the model"

            def meanwhile() -> dict[str, Any]:
                return {
                    "healthz": web.lifespan.get("/healthz").status_code,
                    "readyz": web.lifespan.get("/readyz").status_code,
                    "reply": bob.say("inc-fast", "is the search service healthy?"),
                    # the slow one's conversation can be read: the question, no answer yet
                    "slow view": bob.view("inc-slow"),
                }

            other = _in_thread(meanwhile)
            other.join(WAIT_S)
            assert not other.is_alive(), "conversation B waited for conversation A's turn"
            assert slow.is_alive() and not slow.done, "A was not waiting any more"
        finally:
            gates[0].opened.set()
            slow.join(WAIT_S)
        assert not slow.is_alive()

        seen = other.result()
        assert (seen["healthz"], seen["readyz"]) == (200, 200)
        assert seen["reply"].status_code == 200, seen["reply"].text
        assert [m["role"] for m in seen["slow view"]["messages"]] == ["user"]
        assert [m["role"] for m in bob.view("inc-fast")["messages"]] == ["user", "copilot"]

        r = slow.result()
        assert r.status_code == 200, r.text
        assert [c["tool"] for c in r.json()["cards"]] == ["sandbox.rollback_deployment"]
        assert [m["role"] for m in bob.view("inc-slow")["messages"]] == ["user", "copilot"]


class _Call(threading.Thread):
    """``fn`` in a thread of its own; ``result()`` returns what it returned or raises."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.fn = fn
        self.done = False
        self._out: list[Any] = []
        self._err: list[BaseException] = []

    def run(self) -> None:
        try:
            self._out.append(self.fn())
        except BaseException as exc:  # handed to the test's thread by result()
            self._err.append(exc)
        finally:
            self.done = True

    def result(self) -> Any:
        assert self.done, "still running"
        if self._err:
            raise self._err[0]
        return self._out[0]


def _in_thread(fn: Callable[[], Any]) -> _Call:
    call = _Call(fn)
    call.start()
    return call


def _one_run(web: Web, reader: Person, card: str) -> dict[str, Any]:
    """The card, after checking that its call ran exactly once."""
    audit = reader.audit()
    assert len(events_of(audit, card, "execution.started")) == 1, events_of(
        audit, card, "execution.started"
    )
    assert len(events_of(audit, card, "execution.succeeded")) == 1
    found = reader.card(card)
    assert found["state"] == "succeeded" and found["result"] is not None
    assert web.error_rate() < 0.05
    return found


def test_an_approval_sent_twice_runs_once(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        alice, bob, carol = web.person("alice"), web.person("bob"), web.person("carol")
        card = proposed_card(web, alice, "inc-twice")
        first = bob.decide(card)
        assert first.status_code == 200, first.text
        # the button pressed again (a slow page, a double click), by bob and by carol
        again = bob.decide(card)
        assert again.status_code == 409, again.text
        by_page = carol.client.post(
            f"/c/inc-twice/cards/{card}",
            data={"verdict": "approve"},
            headers={"X-CSRF-Token": carol.csrf, "HX-Request": "true"},
        )
        assert by_page.status_code == 409, by_page.text
        found = _one_run(web, alice, card)
        assert [v["approver"] for v in found["votes"]] == ["bob"]
        # the conversation tells it once too
        events = [m for m in alice.view("inc-twice")["messages"] if m["role"] == "event"]
        assert len(events) == 1


def test_two_approvals_at_the_same_moment_run_once(tmp_path: Path) -> None:
    with serve(web_settings(tmp_path / "data")) as web:
        alice, bob, carol = web.person("alice"), web.person("bob"), web.person("carol")
        card = proposed_card(web, alice, "inc-race")
        start = threading.Barrier(3)
        answers: dict[str, httpx.Response] = {}

        def press(who: Person, by_page: bool) -> None:
            start.wait(WAIT_S)
            if by_page:
                answers[who.name] = who.client.post(
                    f"/c/inc-race/cards/{card}",
                    data={"verdict": "approve"},
                    headers={"X-CSRF-Token": who.csrf, "HX-Request": "true"},
                )
            else:
                answers[who.name] = who.decide(card)

        threads = [
            threading.Thread(target=press, args=(bob, False), daemon=True),
            threading.Thread(target=press, args=(carol, True), daemon=True),
        ]
        for t in threads:
            t.start()
        start.wait(WAIT_S)
        for t in threads:
            t.join(WAIT_S)
        assert not any(t.is_alive() for t in threads)
        statuses = sorted(r.status_code for r in answers.values())
        told = {name: (r.status_code, r.text[:200]) for name, r in answers.items()}
        assert statuses == [200, 409], told
        found = _one_run(web, alice, card)
        winner = next(name for name, r in answers.items() if r.status_code == 200)
        assert [v["approver"] for v in found["votes"]] == [winner]
