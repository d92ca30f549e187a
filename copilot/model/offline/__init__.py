"""The embedded default model: a deterministic planner served as a litellm provider.

``copilot/offline-planner`` answers like any chat model: it reads the messages built by
``copilot.model.prompts.build_messages`` (parsing the same ``<untrusted>`` blocks a hosted
model is shown) and the request's ``tools``, and returns an OpenAI-format assistant
message with ``tool_calls`` and a ``<provenance>`` block. What it does:

- a question ("what is the status of checkout", "is search healthy", "which runbook
  applies") is answered from the facts and runbooks, without tool calls (a status question
  about something no fact covers first reads ``sandbox.service_status`` when offered);
- no runbook covers the request (retrieval abstained, or none has a playbook): it says so,
  lists what was gathered and what looks abnormal, and proposes nothing;
- otherwise it follows the best runbook's playbook (``playbook``), and on a repair round
  fixes what the rejection names or gives up.

It cannot reason beyond its runbooks: no diagnosis across services, no free-form chat, no
plans a playbook does not spell out. It never streams.

``planner`` decides what to say, ``playbook`` follows a runbook's steps, ``answers``
words questions and abstentions, ``provider`` serves it all through litellm.
"""

from copilot.model.offline.planner import classify, plan
from copilot.model.offline.provider import (
    OFFLINE_MODEL,
    PROVIDER,
    register_offline_model,
    respond,
    to_message,
)

__all__ = [
    "OFFLINE_MODEL",
    "PROVIDER",
    "classify",
    "plan",
    "register_offline_model",
    "respond",
    "to_message",
]
