"""The runbook index on a real embedded Chroma with the offline model: ingest, search,
abstain, incremental re-ingest, and the public retrieval benchmark's quality floors."""

from __future__ import annotations

import shutil

import pytest

from copilot.bench.retrieval import default_corpora
from copilot.knowledge.index import RunbookIndex, _prefixed
from copilot.knowledge.runbooks import bundled_runbooks_dir
from copilot.settings import Settings

CORPORA = default_corpora()


def test_ingest_search_abstain_and_reingest(tmp_path):
    books = tmp_path / "sandbox"
    shutil.copytree(bundled_runbooks_dir() / "sandbox", books)
    index = RunbookIndex(Settings(data_dir=tmp_path / "data"))
    first = index.ingest([books])
    assert first.runbooks == 12 and first.added > 12 and not first.warnings

    hit = index.search("checkout is returning 500s since the deploy", k=3)
    assert not hit.abstained and hit.hits[0].source == "sandbox/bad-deploy.md"
    named = index.search("SandboxCertificateExpiringSoon api.shop.example.com")
    assert named.hits[0].source == "sandbox/expiring-certificate.md"
    assert index.search("KubeDeploymentRolloutStuck fired for checkout").abstained
    off_topic = index.search("how do I bake sourdough bread at home")
    assert off_topic.abstained and "no runbook matches" in off_topic.reason

    again = index.ingest([books])
    assert again.added == again.updated == again.removed == 0
    assert again.unchanged == first.added
    path = books / "runaway-job.md"
    path.write_text(path.read_text().replace("in a quiet hour", "at night"), encoding="utf-8")
    (books / "memory-leak.md").unlink()
    changed = index.ingest([books])
    assert changed.updated == 1 and changed.added == 0 and changed.removed >= 1

    # a new process re-opens the persisted collection with our model, offline
    reopened = RunbookIndex(Settings(data_dir=tmp_path / "data"))
    assert reopened.count() == index.count()
    assert (
        reopened.search("memory climbs until OOMKilled").hits[0].source != "sandbox/memory-leak.md"
    )


def test_bundled_runbooks_are_ingested_on_first_use_and_kept_current(tmp_path):
    index = RunbookIndex(Settings(data_dir=tmp_path / "data"))
    first = index.ensure_bundled()
    assert first.added == index.count() > 6
    assert index.search("SandboxJobRunaway").hits[0].source == "bundled/sandbox/runaway-job.md"
    # every start checks them again; only what an upgrade changed is embedded again
    again = RunbookIndex(Settings(data_dir=tmp_path / "data")).ensure_bundled()
    assert again.added == again.updated == again.removed == 0
    assert again.unchanged == first.added


def test_kubernetes_states_in_a_message_are_words_not_unknown_alerts(tmp_path):
    index = RunbookIndex(Settings(data_dir=tmp_path / "data"))
    index.ensure_bundled()
    said = index.search("storefront is down, pods in CrashLoopBackOff")
    assert not said.abstained and said.hits[0].source.endswith("crash-loop.md")
    # a real alert name nobody wrote a runbook for still abstains
    assert index.search("KubeDeploymentRolloutStuck fired for storefront").abstained


def test_a_named_alert_finds_its_runbook_first_and_a_component_is_no_unknown_alert(tmp_path):
    books = tmp_path / "sandbox"
    shutil.copytree(bundled_runbooks_dir() / "sandbox", books)
    index = RunbookIndex(Settings(data_dir=tmp_path / "data"))
    index.ingest([books])
    # the words describe a bad deploy; the alert's name (any case) says which runbook
    said = index.search("sandboxcertificateexpiringsoon: checkout returns 500s since the deploy")
    assert not said.abstained
    assert said.hits[0].source == "sandbox/expiring-certificate.md"
    assert said.hits[1].source == "sandbox/bad-deploy.md"  # the words still rank the rest
    # two runbooks list SandboxCrashLooping: both come first
    both = {h.source for h in index.search("SandboxCrashLooping on checkout", k=3).hits[:2]}
    assert both == {"sandbox/crash-loop.md", "sandbox/memory-leak.md"}
    # a component alerts are named after is the subject, not an alert without a runbook
    component = index.search("SandboxReplicationLag is climbing on the orders database")
    assert not component.abstained
    assert component.hits[0].source == "sandbox/replication-lag.md"
    # the rule's name without its prefix, as people say it
    short = index.search("HighErrorRate is firing for checkout", k=3)
    assert not short.abstained
    assert {h.source for h in short.hits[:2]} == {
        "sandbox/bad-deploy.md",
        "sandbox/feature-flag.md",
    }
    # an alert's own name from Alertmanager is searched exactly: another rule set's
    # HighErrorRate is not the sandbox's
    assert index.search("HighErrorRate is firing for checkout", short_names=False).abstained


def test_a_shortened_alert_name_is_a_tail_of_exactly_the_known_name_at_a_word_boundary():
    known = ["SandboxHighErrorRate", "SandboxNoReadyReplicas", "TeamNoReadyReplicas"]
    assert _prefixed("HighErrorRate", known) == ["SandboxHighErrorRate"]
    assert _prefixed("ighErrorRate", known) == []  # not at a capital
    assert _prefixed("ErrorRat", known) == []  # not the tail
    assert _prefixed("Rate", known) == []  # too short to say which
    assert len(_prefixed("NoReadyReplicas", known)) == 2  # two rules: no pin (see _pinned)


@pytest.mark.skipif(
    not (CORPORA / "runbooks").is_dir(), reason="public corpora not beside the checkout"
)
def test_public_retrieval_benchmark_floors():
    from copilot.bench.retrieval import run_retrieval_bench

    # A few hundred distractor chunks keep the test short; the bench pads to 10k.
    f = run_retrieval_bench(CORPORA, distractors=400)
    print(f"\n{f}")
    assert f["matched"] == 112 and f["unmatched"] == 27
    # with the alert name, as Alertmanager sends it: the named runbook comes first
    assert f["recall_at_1"] >= 0.99 and f["recall_at_3"] >= 0.99  # measured 1.0 / 1.0
    assert f["false_abstain_rate"] <= 0.01  # measured 0.0
    assert f["abstain_rate_unmatched"] >= 0.8  # measured 0.852
    desc = f["without_alert_name"]  # measured r@1 0.884, r@3 0.973, false abstention 0.018
    assert desc["recall_at_1"] >= 0.87 and desc["recall_at_3"] >= 0.96
    assert desc["false_abstain_rate"] <= 0.03
    # the human-phrased set (evals/retrieval/people.yaml), before any tuning for it:
    # measured r@1 0.831, r@3 0.938, abstention 4 of 7, false abstention 6 of 65
    people = f["as_people_say_it"]
    assert people["matched"] + people["unmatched"] >= 60 and people["unmatched"] >= 5
    assert people["recall_at_3"] >= 0.9 and people["recall_at_1"] >= 0.8
    padded = f["with_distractors"]
    assert padded["chunks"] >= f["chunks"] + 400
    assert padded["recall_at_3"] >= 0.95 and padded["abstain_rate_unmatched"] >= 0.8
    assert padded["without_alert_name"]["recall_at_3"] >= 0.95


def test_the_human_phrased_set_names_runbooks_that_exist() -> None:
    from copilot.bench.retrieval import people_queries

    queries = people_queries()
    assert len(queries) >= 60 and len({q for _, q, _ in queries}) == len(queries)
    if (CORPORA / "runbooks").is_dir():
        have = {p.stem.lower() for p in (CORPORA / "runbooks").rglob("*.md")}
        assert [t for _, _, t in queries if t != "none" and t not in have] == []
