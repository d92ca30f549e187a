"""The Slack surface inside ``copilot serve``: started by the web app's lifespan when
``[slack]`` has a bot token and a way in, and ``POST /slack/events`` (Events API,
interactivity and the slash command share the one URL, as the manifest says)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

if TYPE_CHECKING:
    from copilot.service import CopilotService
    from copilot.settings import Settings
    from copilot.surfaces.slack.app import SlackSurface

EVENTS_PATH = "/slack/events"
# A button press carries the whole message it was on: up to 50 blocks of 3,000 characters.
MAX_BODY_BYTES = 1024 * 1024


def start(settings: Settings, service: CopilotService) -> SlackSurface | None:
    """The running surface, or None when Slack is off."""
    if not settings.slack.enabled:
        return None
    from copilot.surfaces.slack.app import SlackSurface

    surface = SlackSurface(settings, service)
    surface.start(settings.slack.app_token)
    return surface


def describe(settings: Settings) -> str:
    """One line for ``copilot serve``: which way Slack's events come in, if at all."""
    slack = settings.slack
    if slack.mode == "off":
        return "slack: off (set [slack] bot_token and signing_secret or app_token)"
    if slack.mode == "socket":
        extra = f", and HTTP at {EVENTS_PATH}" if slack.signing_secret else ""
        return f"slack: socket mode{extra}"
    return f"slack: http, events at {EVENTS_PATH}"


def router() -> APIRouter:
    from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response

    routes = APIRouter()

    @routes.post(EVENTS_PATH, include_in_schema=False)
    async def events(request: Request) -> Response:
        surface: SlackSurface | None = getattr(request.app.state, "slack", None)
        if surface is None or surface.mode == "off" or not surface.verifies_http:
            return JSONResponse(
                {"error": "Slack events are not taken here", "hint": "set [slack] signing_secret"},
                status_code=404,
            )
        body = await request.body()
        bolt_request = to_bolt_request(request, body)
        # dispatch returns once the listener acknowledged: the signature check, the ack and
        # the hand-over to a worker, never the turn itself
        answer = await run_in_threadpool(surface.app.dispatch, bolt_request)
        return to_starlette_response(answer)

    return routes
