"""The web surface: the chat, its cards and the JSON API, served by ``copilot serve``.

Parse, authenticate, call ``CopilotService``, render: nothing here touches the store, the
door or the agent. ``create_app(settings)`` builds everything; nothing is built at import.
"""

from copilot.surfaces.web.app import create_app

__all__ = ["create_app"]
