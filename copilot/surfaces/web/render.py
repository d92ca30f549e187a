"""HTML fragments of messages and cards for one viewer (their buttons depend on policy),
shared by the pages and the live stream so both draw a card the same way."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from copilot.domain import Card, Principal
from copilot.domain.conversations import ConversationView, Message
from copilot.errors import CopilotError
from copilot.surfaces import card_words as views
from copilot.surfaces.web.auth import csrf_token
from copilot.surfaces.web.context import web


class Renderer:
    def __init__(self, request: Request, me: Principal) -> None:
        self.request = request
        self.me = me
        self.ctx = web(request)
        self._may: dict[str, bool] = {}
        self._titles: dict[str, str] = {}

    async def prepare(self, view: ConversationView) -> None:
        """Ask policy, once per card, whether this viewer gets Approve and Reject, and
        look up the title of each runbook chunk a card cites."""
        service = self.ctx.service
        for aid, card in view.cards.items():
            if aid not in self._may:
                self._may[aid] = await self.ctx.call(service.may_approve, self.me, aid)
            chunk = str(card.provenance.get("runbook") or "")
            if chunk and chunk not in self._titles:
                try:
                    hit = await self.ctx.call(service.runbook_chunk, chunk)
                    self._titles[chunk] = str(hit.title)
                except CopilotError:  # re-ingested since: the id still says which runbook
                    self._titles[chunk] = chunk

    def base(self, view: ConversationView) -> dict[str, Any]:
        return {
            "request": self.request,
            "me": self.me,
            "conversation": view.id,
            "csrf": csrf_token(self.request),
            "v": views,
            "may": self._may,
            "titles": self._titles,
            "view": view,
        }

    def message(self, view: ConversationView, message: Message) -> str:
        tpl = self.ctx.templates.get_template("partials/message.html")
        return tpl.render(self.base(view) | {"m": message, "charts": _charts(message)})

    def card(self, view: ConversationView, card: Card, *, oob: bool = False) -> str:
        """A card; ``oob``: as an update that replaces the card of the same id wherever
        it is on the page."""
        tpl = self.ctx.templates.get_template("partials/card.html")
        facts_msg = view.first_mention.get(card.approval_id)
        return tpl.render(self.base(view) | {"card": card, "facts_msg": facts_msg, "oob": oob})


def _charts(message: Message) -> list[Any]:
    """Inline charts of the facts behind a reply (``charts.py``), when there are any."""
    from copilot.surfaces.web.chart_svg import svg
    from copilot.surfaces.web.charts import fact_charts, values_table

    facts = [f.model_dump(mode="json") for f in message.facts]
    return [(c, svg(c), values_table(c)) for c in fact_charts(facts)]
