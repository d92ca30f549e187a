"""Lexical retrieval: identifiers kept whole and split, BM25 ranking, rank fusion."""

from __future__ import annotations

from copilot.knowledge.lexical import LexicalIndex, reciprocal_rank_fusion, tokens


def test_identifiers_are_kept_whole_and_split():
    assert tokens("KubePodCrashLooping fired") == [
        "kubepodcrashlooping",
        "kube",
        "pod",
        "crash",
        "looping",
        "fired",
    ]
    assert tokens("etcdNoLeader") == ["etcdnoleader", "etcd", "no", "leader"]
    assert tokens("CPUThrottlingHigh") == ["cputhrottlinghigh", "cpu", "throttling", "high"]
    assert tokens("the pod is down") == ["pod", "down"]


def test_an_exact_alert_name_beats_its_parts():
    index = LexicalIndex(
        ["crashloop", "podnotready", "cert"],
        [
            "KubePodCrashLooping: a pod is restarting repeatedly",
            "KubePodNotReady: a pod has been in a non-ready state; the pod may be crash looping",
            "certificate expires soon",
        ],
    )
    hits = index.search("KubePodCrashLooping")
    assert hits[0][0] == "crashloop" and hits[0][1] > 1.5 * hits[1][1]
    assert index.search("nothing relevant here xyz") == []
    assert LexicalIndex([], []).search("anything") == []


def test_fusion_rewards_agreement():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]])
    assert [d for d, _ in fused][:2] in (["a", "b"], ["b", "a"])
    assert dict(fused)["c"] == dict(fused)["d"] < dict(fused)["b"]
    weighted = reciprocal_rank_fusion([["a", "b"], ["b", "a"]], weights=[1.0, 2.0])
    assert weighted[0][0] == "b"


def test_redaction_placeholders_are_not_words() -> None:
    from copilot.knowledge.lexical import tokens

    # a query and a runbook that both held a token must not match on "redacted github token"
    assert tokens("deploy token [REDACTED:github-token:1] failed") == ["deploy", "token", "failed"]
    assert tokens("[REDACTED:aws-access-key-id:2]") == []
