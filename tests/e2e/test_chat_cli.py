"""`copilot chat`: a terminal conversation through the same service as every surface."""

from __future__ import annotations

import os
import subprocess
import sys


def chat(user: str, lines: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "copilot", "chat", "--as", user, "--conversation", "term-1"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "LITELLM_OFFLINE_MODE": "true"},
        timeout=180,
    )


def test_chat_answers_proposes_and_reports_a_bad_id_in_one_session():
    reset = subprocess.run(
        [sys.executable, "-m", "copilot", "sandbox", "inject", "bad_deploy", "--target=checkout"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert reset.returncode == 0, reset.stderr
    out = chat(
        "alice",
        [
            "what is the status of checkout?",
            "checkout is returning 500s",
            "which runbook applies?",
            "/approve apr_doesnotexist",
            "/quit",
        ],
    )
    assert out.returncode == 0, out.stderr
    assert "conversation term-1 as alice" in out.stdout
    assert "checkout" in out.stdout and "card apr_" in out.stdout
    assert "sandbox.rollback_deployment" in out.stdout
    # a follow-up is read in the light of the conversation: the runbook, with its playbook
    assert "Its playbook:" in out.stdout and "No runbook covers" not in out.stdout
    # a bad id is one clear error line and the session goes on to /quit
    assert "error: no proposal with id 'apr_doesnotexist'" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr
