"""Score the built-in redaction rules on gitleaks' public true/false-positive example strings.

The corpus (``gitleaks-examples.json``, see ``../shared/corpora/README.md``) is scored with
our own rules through the real engine (:class:`copilot.redact.engine.Redactor`). Its strings
were extracted from gitleaks' rule generator, so some "true positives" are not secrets at all
(rule ids, regex sources, file names, bare words) and some strings are listed both as a true
and a false positive. Two views are reported:

* raw: every string as labelled;
* adjudicated: the same corpus minus strings that cannot be judged on their text, by fixed
  mechanical criteria (:func:`adjudicate`); every excluded string is returned with its reason.

A true positive is *caught* when the redactor changed the string and its secret no longer
appears in it: the token carrying the most information (length x entropy), once the names
the string assigns to (``BUNDLE_GEMS__CONTRIBSYS__COM=``, ``key="ClearTextPassword"``) are
set aside (:func:`secret_of`). A false positive is *altered* when the redactor changed it at
all.

Adjudication criteria. A true positive is set aside when it is also listed as a false
positive, when it is regex source text, when it is a bare file name, or when it holds no
token a secret could be (8+ characters of entropy >= 3 with a letter and a digit, or 20+
mixed-case letters that are not a chain of 3+-letter words such as
``AmazonBedrockAPIKeyShortLived``). A false positive is set aside when it is also listed as a
true positive, when it contains a kept true positive, or when it assigns a value a secret
could be (same token test, and no stand-in: EXAMPLE, a run of 5 equal characters, ``$``,
``%``, ``{``, ``<``, ``://``) to a setting whose name says credential (password, pwd, secret,
token, api key, access key, Authorization, credential), as in ``meraki_token = <64 hex>``,
``DATABRICKS_TOKEN=dapi...`` or ``"token1": "xoxp-1234567890"``: gitleaks calls these false
because the value is not that vendor's format, but a redactor must hide a value assigned to
``token`` whatever its format. Bare values with no context (a lone UUID, a lone base64
string) stay counted as true positives although no sound rule can catch them without
redacting request ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.redact.builtin import BUILTIN_RULES
from copilot.redact.engine import Redactor
from copilot.redact.rules import Rule, shannon_entropy

FILE_NAME = "gitleaks-examples.json"


def load_examples(path: Path) -> tuple[list[str], list[str]]:
    """(true positives, false positives) as labelled, in file order. ``path`` is the folder
    holding ``gitleaks-examples.json`` or the file itself."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    data = json.loads(path.read_text(encoding="utf-8"))
    tps = [t for r in data for t in r.get("true_positives", ())]
    fps = [t for r in data for t in r.get("false_positives", ())]
    return tps, fps


# --- what must not survive ----------------------------------------------------------------
_SPLIT = re.compile(r"[\s\"'`=,;()<>{}\[\]|:/?&]+")
_SHAPED = re.compile(r"\d|[a-z][A-Z].*[a-z][A-Z]")
# A name in the text's own syntax: an identifier at a token boundary followed by an
# assignment (``NAME=v``, ``name = "v"``, ``name := v``, ``name => v``, ``"name": v``,
# ``Name: v``), or the value of a ``key=``/``name=`` attribute (``<add key="Name" .../>``).
_NAME = re.compile(
    r"(?<![^\s\"'{,;(\[])([A-Za-z_][\w.-]{0,49})[\"']?[ \t]*"
    r"(?::=|=>|=(?=[ \t]*[\"']?[^\s\"'=])|:(?=[\s\"'\\]|$))"
)
_ATTR_NAME = re.compile(r"\b(?:key|name)\s*=\s*[\"']([^\"']+)[\"']")


def names_in(text: str) -> set[str]:
    """Setting names that ``text`` assigns a value to (these are never the secret)."""
    return {m.group(1) for m in _NAME.finditer(text)} | {
        m.group(1) for m in _ATTR_NAME.finditer(text)
    }


def secret_of(text: str) -> str:
    """What must not survive: the token with the most information (length x entropy), once
    URLs and key=value pairs are split and the names being assigned (:func:`names_in`:
    ``BUNDLE_GEMS__CONTRIBSYS__COM=...``, ``key="ClearTextPassword"``) are set aside;
    tokens with a digit or mixed case first (key names such as ``X-Octopus-ApiKey`` or
    ``sumologic.accessId`` are words)."""
    tokens = [t for t in _SPLIT.split(text) if t]
    names = names_in(text)
    values = [t for t in tokens if t not in names] or tokens
    shaped = [t for t in values if _SHAPED.search(t) and len(t) >= 8]
    return max(shaped or values, key=lambda t: len(t) * shannon_entropy(t), default=text)


def caught(text: str, redactor: Redactor) -> bool:
    """The redactor changed ``text`` and its secret (:func:`secret_of`) is gone."""
    out = redactor.text(text)
    return out != text and secret_of(text) not in out


def altered(text: str, redactor: Redactor) -> bool:
    """The redactor changed ``text`` at all (what counts against a false positive)."""
    return redactor.text(text) != text


# --- which strings can be judged on their text ---------------------------------------------
_REGEX_SOURCE = re.compile(r"\\[sdwbSDWz.+\\]|\(\?|\]\{|\[[a-zA-Z]-[a-zA-Z]")
_FILE = re.compile(r"^[\w./-]+\.(?:ya?ml|json|xml|config|php|hcl|js|html|p12|pfx|sh)$", re.I)
_CANDIDATE = re.compile(r"[^\s\"'`=,;()<>{}\[\]|]{8,}")


# The pieces of an identifier: "AmazonBedrockAPIKey" -> Amazon, Bedrock, API, Key.
_PIECE = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|[A-Z]")


def _words(token: str) -> bool:
    """Letters that are a chain of words (camelCase, kebab-case, dotted): every piece has
    3+ letters. Random letters almost always hold 1- or 2-letter pieces."""
    return all(len(p) >= 3 for p in _PIECE.findall(token))


def has_candidate(text: str) -> bool:
    """A token a secret could be: 8+ characters, entropy >= 3, a letter and a digit, or
    20+ characters of mixed case (letters-only tokens such as hf_...) that are not a chain
    of words (``AmazonBedrockAPIKeyShortLived``, ``Content-Type:application/json``)."""
    for t in _CANDIDATE.findall(text):
        if shannon_entropy(t) < 3.0 or not re.search(r"[A-Za-z]", t):
            continue
        if re.search(r"\d", t):
            return True
        mixed = re.search(r"[a-z]", t) and re.search(r"[A-Z]", t)
        if len(t) >= 20 and mixed and not _words(t):
            return True
    return False


# A value assigned to a credential-named setting: ``NAME=v``, ``name: v``, ``"name": "v"``,
# ``name := v``, ``f(token: v)``, ``Authorization: Basic v``, ``<add key="Name" value="v"/>``.
_CREDENTIAL_NAME = (
    r"[\w.-]*(?:passw(?:or)?d|pwd|secret|token|api[_.-]?key|access[_.-]?key|authorization"
    r"|credential)[\w.-]*"
)
_VALUE = r"[\"']?(?P<v>[^\s\"'`,;()<>{}\[\]]+)"
_CREDENTIAL_VALUE = (
    re.compile(
        r"(?i)(?<![\w.-])" + _CREDENTIAL_NAME + r"[\"']?[ \t]*(?::=|=>|=|:)[ \t]*"
        r"(?:(?:basic|bearer|token)[ \t]+)?" + _VALUE
    ),
    re.compile(r"(?i)\bkey\s*=\s*[\"']" + _CREDENTIAL_NAME + r"[\"']\s+value\s*=\s*" + _VALUE),
)
# What documentation writes instead of a value: EXAMPLE, runs (xxxxx, *****, 00000, ####),
# references ($VAR, ${...}, %VAR%, {{...}}, <...>) and URLs.
_STAND_IN = re.compile(r"(?i)example|(.)\1{4}|[$%{<]|://")


def credential_value(text: str) -> str | None:
    """The value ``text`` assigns to a credential-named setting (password, secret, token,
    API/access key, Authorization, credential), when that value could be a secret
    (:func:`has_candidate`) and is no stand-in (EXAMPLE, xxxxx, ${VAR}, <...>, a URL)."""
    for pattern in _CREDENTIAL_VALUE:
        for m in pattern.finditer(text):
            v = m.group("v")
            if has_candidate(v) and not _STAND_IN.search(v):
                return v
    return None


@dataclass
class Adjudication:
    true_positives: list[str]
    false_positives: list[str]
    # reason -> excluded strings
    excluded: dict[str, list[str]] = field(default_factory=dict)


def adjudicate(tps: Sequence[str], fps: Sequence[str]) -> Adjudication:
    """Drop the strings that cannot be judged on their text, by fixed criteria:

    * ``both``: listed both as a true and as a false positive;
    * ``regex``: a "true positive" that is regex source text;
    * ``filename``: a "true positive" that is a bare file name;
    * ``no-candidate``: a "true positive" with no token a secret could be
      (:func:`has_candidate`);
    * ``fp-holds-tp``: a false positive that contains a kept true positive (8+ characters);
    * ``fp-credential-value``: a false positive that assigns a value a secret could be to a
      credential-named setting (:func:`credential_value`). gitleaks labels these false
      because the value is not *that vendor's* format (``meraki_token = <64 hex>``,
      ``DATABRICKS_TOKEN=dapi<non-hex>``, ``"token1": "xoxp-1234567890"``); a redactor
      must hide a value assigned to ``token`` / ``api-key`` / ``password`` whatever its
      format, so these strings cannot count against it.
    """
    tp_set, fp_set = set(tps), set(fps)
    why: dict[str, list[str]] = {
        "both": [],
        "regex": [],
        "filename": [],
        "no-candidate": [],
        "fp-holds-tp": [],
        "fp-credential-value": [],
    }
    keep_tp = []
    for t in tps:
        if t in fp_set:
            why["both"].append(t)
        elif _REGEX_SOURCE.search(t):
            why["regex"].append(t)
        elif _FILE.match(t.strip()):
            why["filename"].append(t)
        elif not has_candidate(t):
            why["no-candidate"].append(t)
        else:
            keep_tp.append(t)
    secrets = [t for t in keep_tp if len(t) >= 8]
    keep_fp = []
    for f in fps:
        if f in tp_set:
            why["both"].append(f)
        elif any(s in f for s in secrets):
            why["fp-holds-tp"].append(f)
        elif credential_value(f) is not None:
            why["fp-credential-value"].append(f)
        else:
            keep_fp.append(f)
    return Adjudication(keep_tp, keep_fp, why)


def _ratio(n: int, d: int) -> float:
    return n / d if d else 0.0


def corpus_figures(path: Path, rules: Sequence[Rule] = BUILTIN_RULES) -> dict[str, Any]:
    """Recall and false-positive figures, raw and adjudicated, with what was missed/altered.

    Keys: ``recall``, ``fp_altered``, ``recall_adjudicated``, ``fp_altered_adjudicated``,
    ``n_true_positives``, ``n_false_positives``, ``n_true_positives_adjudicated``,
    ``n_false_positives_adjudicated``, ``n_caught``, ``n_altered``, ``n_caught_adjudicated``,
    ``n_altered_adjudicated``, ``n_rules``; lists ``missed``, ``altered``,
    ``missed_adjudicated``, ``altered_adjudicated`` (strings) and ``excluded``
    (reason -> strings).
    """
    tps, fps = load_examples(path)
    redactor = Redactor(rules)
    missed = [t for t in tps if not caught(t, redactor)]
    changed = [f for f in fps if altered(f, redactor)]
    adj = adjudicate(tps, fps)
    missed_set, changed_set = set(missed), set(changed)
    adj_missed = [t for t in adj.true_positives if t in missed_set]
    adj_changed = [f for f in adj.false_positives if f in changed_set]
    n_tp, n_fp = len(tps), len(fps)
    n_atp, n_afp = len(adj.true_positives), len(adj.false_positives)
    return {
        "n_rules": len(rules),
        "recall": 1 - _ratio(len(missed), n_tp),
        "fp_altered": _ratio(len(changed), n_fp),
        "recall_adjudicated": 1 - _ratio(len(adj_missed), n_atp),
        "fp_altered_adjudicated": _ratio(len(adj_changed), n_afp),
        "n_true_positives": n_tp,
        "n_false_positives": n_fp,
        "n_true_positives_adjudicated": n_atp,
        "n_false_positives_adjudicated": n_afp,
        "n_caught": n_tp - len(missed),
        "n_altered": len(changed),
        "n_caught_adjudicated": n_atp - len(adj_missed),
        "n_altered_adjudicated": len(adj_changed),
        "missed": missed,
        "altered": changed,
        "missed_adjudicated": adj_missed,
        "altered_adjudicated": adj_changed,
        "excluded": adj.excluded,
    }


def report(figures: dict[str, Any], redactor: Redactor | None = None) -> str:
    """A plain-text report of :func:`corpus_figures` (what the corpus test prints)."""
    f = figures
    lines = [
        f"rules: {f['n_rules']} built-in secret rules",
        f"raw:         recall {f['recall']:.4f} ({f['n_caught']}/{f['n_true_positives']})"
        f"  fp_altered {f['fp_altered']:.4f} ({f['n_altered']}/{f['n_false_positives']})",
        f"adjudicated: recall {f['recall_adjudicated']:.4f}"
        f" ({f['n_caught_adjudicated']}/{f['n_true_positives_adjudicated']})"
        f"  fp_altered {f['fp_altered_adjudicated']:.4f}"
        f" ({f['n_altered_adjudicated']}/{f['n_false_positives_adjudicated']})",
    ]
    for reason, items in f["excluded"].items():
        lines.append(f"  excluded [{reason}] {len(items)}: {[i[:60] for i in items]}")
    for t in f["missed_adjudicated"]:
        lines.append(f"  MISSED  {t[:140]!r}")
    for s in f["altered_adjudicated"]:
        after = f" -> {redactor.text(s)[:140]!r}" if redactor is not None else ""
        lines.append(f"  ALTERED {s[:140]!r}{after}")
    return "\n".join(lines)
