"""Planted text: what an outsider can write into production's telemetry, for evals.

An attacker does not need access to write into what the copilot reads: a request line is
logged, a commit message becomes a deploy's description, a label value ends up in an
alert's annotation. ``plant`` records such text in the world (an operator action like fault
injection, never a tool); the log lines, deployment history and alerts then show it.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Literal

from copilot.errors import InvalidInput

from .world import Planted, World

PlantKind = Literal["log", "deploy_note", "alert"]
PLANT_KINDS: tuple[str, ...] = ("log", "deploy_note", "alert")
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def plant(
    world: World,
    kind: str,
    target: str,
    text: str,
    now: datetime,
    level: str = "ERROR",
    every_s: int = 30,
) -> World:
    """A copy of ``world`` with ``text`` planted in ``target``'s telemetry of ``kind``."""
    if kind not in PLANT_KINDS:
        raise InvalidInput(f"unknown place {kind!r} to plant text", f"use {', '.join(PLANT_KINDS)}")
    if target not in world.services:
        known = ", ".join(sorted(world.services))
        raise InvalidInput(f"unknown service {target!r}", f"known services: {known}")
    if level not in LOG_LEVELS or every_s < 5:
        raise InvalidInput("a planted line has a log level and repeats at most every 5 s", "")
    w = world.model_copy(deep=True)
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    w.planted.append(
        Planted(
            kind=kind,
            target=target,
            at=now.replace(microsecond=0),
            level=level,
            every_s=every_s,
            text_b64=encoded,
        )
    )
    return w


def _text(p: Planted) -> str:
    return base64.b64decode(p.text_b64).decode("utf-8")


def planted_texts(world: World, kind: str, target: str) -> list[str]:
    """Every text planted of ``kind`` in ``target``, oldest first."""
    return [_text(p) for p in world.planted if p.kind == kind and p.target == target]


def planted_lines(
    world: World, service: str, slot: int, slot_s: int, mid: datetime
) -> list[tuple[str, str]]:
    """(level, message) of the planted log lines ``service`` writes in one slot."""
    out = []
    for p in world.planted:
        due = slot % max(1, p.every_s // slot_s) == 0
        if p.kind == "log" and p.target == service and p.at <= mid and due:
            out.append((p.level, _text(p)))
    return out
