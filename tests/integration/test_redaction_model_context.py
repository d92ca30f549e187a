"""Canary secrets never reach a model: the bytes a (fake, loopback) provider receives."""

from __future__ import annotations

import json

from fakes.openai_server import fake_openai
from packs.testpack import CANARIES, CANARY_AWS_KEY, CANARY_GITHUB, CANARY_PASSWORD

from copilot.model.gateway import ModelGateway
from copilot.redact.ruleset import redactor_for
from copilot.settings import Settings


def test_everything_sent_to_the_model_is_redacted(tmp_path):
    def script(body):
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "rollback", "arguments": '{"service": "checkout"}'},
                }
            ],
        }

    messages = [
        {"role": "system", "content": "You are the incident copilot."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": f"checkout fails; I see key {CANARY_AWS_KEY} in logs"}
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {
                        "name": "read_config",
                        "arguments": json.dumps({"filter": f"password={CANARY_PASSWORD}"}),
                    },
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_0",
            "content": f"<untrusted>\nGITHUB_TOKEN={CANARY_GITHUB}\nreplicas=3\n</untrusted>",
        },
    ]
    with fake_openai(script) as server:
        settings = Settings(
            data_dir=tmp_path,
            model="openai/fake-model",
            model_api_base=server.base_url,
            model_api_key="sk-fake-for-tests",
            model_retries=0,
        )
        reply = ModelGateway(settings, redactor_for(settings)).complete(messages)
    sent = b"".join(server.raw).decode()
    for canary in CANARIES:
        assert canary not in sent, f"canary {canary[:8]}… reached the model"
    assert sent.count("[REDACTED:") >= 3 and "replicas=3" in sent
    assert reply.tool_calls[0].name == "rollback" and reply.usage.prompt_tokens == 11
    # The caller's messages are untouched: only the copy on the wire is redacted.
    assert CANARY_GITHUB in messages[3]["content"]


def test_names_dict_keys_and_every_other_string_are_redacted_too(tmp_path):
    """Not only contents: a message's ``name``, the keys of its parts and tool calls, and
    fields a caller added pass the redactor before the provider sees a byte."""

    def script(body):
        return {"role": "assistant", "content": "ok"}

    messages = [
        {"role": "system", "content": "You are the incident copilot."},
        {"role": "user", "name": f"ops {CANARY_AWS_KEY}", "content": "what now?"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "see", f"password={CANARY_PASSWORD}": "x"}],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "read_config", "arguments": "{}"},
                    f"token {CANARY_GITHUB}": True,
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "done", "name": CANARY_GITHUB},
    ]
    with fake_openai(script) as server:
        settings = Settings(
            data_dir=tmp_path,
            model="openai/fake-model",
            model_api_base=server.base_url,
            model_api_key="sk-fake-for-tests",
            model_retries=0,
        )
        ModelGateway(settings, redactor_for(settings)).complete(messages)
    sent = b"".join(server.raw).decode()
    for canary in CANARIES:
        assert canary not in sent, f"canary {canary[:8]}… reached the model"
    wire = json.loads(sent[sent.index("{") :])["messages"]
    assert wire[1]["name"].startswith("ops [REDACTED:")
    assert any(k.startswith("password=[REDACTED:") for k in wire[2]["content"][0])
    assert [m["role"] for m in wire] == ["system", "user", "user", "assistant", "tool"]
