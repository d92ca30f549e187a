"""What a person's request says, read without a model (pure).

The offline planner matches requests against the tool catalogue word by word, so both sides
are reduced to the same stems: lower case, a few suffixes off, and the synonyms people type
mapped to the words tool catalogues use ("bounce" → restart, "revert" → rollback, "mute" →
silence). Beside the words, a request gives values: counts with units ("5 replicas"),
durations ("for 1 hour" → ``1h``), revisions ("to revision 41", "the previous version"),
a time window ("in the last hour"), on/off ("turn off"), and whether it is a question.

This is only ever applied to what a person typed in the conversation (the request and the
person's earlier turns), never to runbooks, logs, alerts or tool output: data may inform an
answer, it never becomes a request.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# What people type → the word tool names and descriptions use (both sides are mapped).
SYNONYMS: dict[str, str] = {
    "bounce": "restart",
    "reboot": "restart",
    "recycle": "restart",
    "kick": "restart",
    "revert": "rollback",
    "undo": "rollback",
    "downgrade": "rollback",
    "mute": "silence",
    "snooze": "silence",
    "suspend": "pause",
    "halt": "pause",
    "unpause": "resume",
    "promote": "failover",
    "reissue": "renew",
    "disable": "toggle",
    "enable": "toggle",
    "flip": "toggle",
    "firing": "alert",  # "what's firing?"
    "logs": "log",
    "logline": "log",
    "deploy": "change",
    "deployed": "change",
    "happened": "change",
    "modified": "change",
    "pods": "pod",
    "instances": "replica",
    "instance": "replica",
    "copies": "replica",
    "resize": "scale",
    "upscale": "scale",
    "downscale": "scale",
}
# Multi-word phrases, replaced before the words are split.
_PHRASES = (
    (re.compile(r"\broll[\s-]+(?:it\s+|them\s+|\S+\s+)?back\b", re.I), " rollback "),
    (re.compile(r"\bfail[\s-]+(?:it\s+|\S+\s+)?over\b", re.I), " failover "),
    (re.compile(r"\b(?:turn|switch|shut)\s+(?:it\s+|\S+\s+)?(?:off|on)\b", re.I), " toggle "),
    (re.compile(r"\bscale\s+(?:it\s+|\S+\s+)?(?:up|down|out|in)\b", re.I), " scale "),
)
_OFF = re.compile(
    r"\b(?:turn|switch|shut)\s+(?:it\s+|\S+\s+)?off\b|\bdisabl\w*|\bdeactivat\w*", re.I
)
_ON = re.compile(r"\b(?:turn|switch)\s+(?:it\s+|\S+\s+)?on\b|\benabl\w*|\bactivat\w*", re.I)
# Words that carry no meaning for matching a tool.
_STOP = """a an the to of for in on at by with from and or but is are was were be been it its
this that these those me my we our us you your i please can could would should will now just
all any some there here what which who whom how when where why do does did done have has had
get got give show tell let see out up down into over about as than then so if not no yes ok
again right"""
STOPWORDS = frozenset(_STOP.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_QUESTION = re.compile(
    r"\?\s*$|^\s*(?:what|which|who|when|where|why|how|is|are|was|were|did|does|do|can|could|"
    r"show|list|give|get|tell|find|display|print|fetch)\b",
    re.I,
)
# A question that is a request: "can you roll it back?", "should we restart payments?"
_POLITE = re.compile(
    r"^\s*(?:@\S+\s+)?(?:please\s+)?(?:can|could|would|will|should|shall)\s+(?:you|we|i)\b|"
    r"\bplease\b|\b(?:go ahead and|let'?s)\b",
    re.I,
)
_WHY = re.compile(
    r"\bwhy\b|\bwhat(?:'s| is| are)?\s+(?:wrong|going on|happening|up)\s+with\b"
    r"|\b(?:investigate|diagnose|troubleshoot|look into|dig into)\b",
    re.I,
)
# Numbers keep their sign and every digit: "-3 replicas" or "99999999999 replicas" must
# reach the tool's bounds and be refused there, never be read as 3 or as nothing; "1,000"
# is a thousand; "0.5" stays a fraction (refused where a whole number is needed).
_WHOLE = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)"
_NUM = _WHOLE + r"(?:\.\d+)?"
_COUNT = re.compile(
    rf"(?<![\w.,])({_NUM})\s*(replicas?|pods?|instances?|copies|workers?|nodes?)\b", re.I
)
# "to 5" / "= 5"; not a time ("to 10:30"), a version ("to 1.8.5"), a share ("to 40%"),
# a latency or an hour of the day ("to 300ms", "at 10 pm")
_TO_NUMBER = re.compile(
    rf"\b(?:to|=)\s*({_NUM})(?![\d.:,]*\d)(?!\s*(?:%|ms|s\b|m\b|h\b|d\b|min|minutes?|hours?"
    r"|am\b|pm\b|gb|mb|percent))",
    re.I,
)
# A bare whole number ("scale checkout 5"), unless it states a measurement ("p99 is 40",
# "cpu at 40%", "error rate is 0.5")
_BARE_NUMBER = re.compile(
    r"(?<![\w.:/,-])(?<!\bis )(?<!\bat )(?<!\bof )(?<!\bare )(?<!\bwas )"
    rf"({_WHOLE})(?![\w.:/%,-])(?!\s*(?:%|ms\b|am\b|pm\b|percent))",
    re.I,
)
# "by 2", "2 more", "add 3": a change relative to now, which a count to set is not
_RELATIVE = re.compile(
    r"\bby\s+-?\d|\b\d+\s+(?:more|fewer|less|extra|additional)\b|\b(?:add|remove)\s+\d", re.I
)
# A release named by its tag ("to version 1.8.5", "to 1.8.5", "v2.3"): never a revision
# number, and never "the previous one" either
_TAG = r"v?(\d+(?:\.\d+)+(?:-[\w.]+)?)(?![\w.])"
_VERSION_TAG = re.compile(
    rf"\b(?:version|release|tag|image|build|to)\s+{_TAG}|(?<![\w.])v?(\d+\.\d+\.\d+[\w.-]*)",
    re.I,
)
_DURATION = re.compile(
    r"\bfor\s+(?:the\s+next\s+)?(an?|\d{1,4}(?:\.\d+)?)\s*"
    r"(h|hrs?|hours?|m|mins?|minutes?|d|days?|w|weeks?)\b",
    re.I,
)
_WINDOW = re.compile(
    r"\b(?:last|past|previous|since)\s+(?:(an?|\d{1,4})\s*)?"
    r"(h|hrs?|hours?|m|mins?|minutes?|d|days?)\b",
    re.I,
)
_REVISION = re.compile(r"\b(?:revision|rev|version|release)\s*#?\s*v?(\d{1,9})\b(?![.,]\d)", re.I)
_PREVIOUS = re.compile(
    r"\b(?:previous|prior|last\s+(?:good|known[\s-]good|working)|earlier)\s+"
    r"(?:version|revision|release|deploy\w*|build|image)\b",
    re.I,
)
_FORCE = re.compile(r"\bforc(?:e|ed|ing|ibly)\b|--force\b", re.I)
_CAMEL = re.compile(r"\b[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+\b")
_UNITS = {"h": 60, "m": 1, "d": 1440, "w": 10080}


def stem(word: str) -> str:
    """A crude stem both sides share ("changed"/"changes" → "chang", "logs" → "log"); a
    synonym is stemmed as the word it stands for ("revert" → "rollback")."""
    w = word.lower().strip(".-_")
    if w in SYNONYMS:
        return stem(SYNONYMS[w])
    for suffix in ("ing", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            w = w[: -len(suffix)]
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return stem(SYNONYMS[w]) if w in SYNONYMS else w


def _folded(text: str) -> str:
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return text


def words(text: str) -> list[str]:
    """The stems of ``text`` that carry meaning, in order (phrases folded first)."""
    out = []
    for raw in _WORD.findall(_folded(text)):
        for part in re.split(r"[_.]", raw) if "_" in raw else [raw]:
            if part and part.lower() not in STOPWORDS:
                out.append(stem(part))
    return out


def base_verbs(text: str) -> set[str]:
    """Stems of the words in their base form ("restart", not "restarts" / "restarting" /
    "restarted"): an imperative names its verb so; a symptom ("the cert expires", "pods
    keep restarting") does not."""
    out = set()
    for raw in _WORD.findall(_folded(text)):
        w = raw.lower()
        if w in STOPWORDS or "_" in w or "." in w:
            continue
        inflected = w.endswith(("ed", "ing")) or (w.endswith("s") and not w.endswith("ss"))
        if not inflected:
            out.add(stem(w))
    return out


def _unit_minutes(amount: str, unit: str) -> int:
    n = 1.0 if amount.lower() in ("a", "an", "") else float(amount)
    return round(n * _UNITS[unit.lower()[0]])  # "1.5 hours" is 90 minutes


def as_duration(minutes: int) -> str:
    """``90`` → ``"90m"``, ``60`` → ``"1h"``, ``1440`` → ``"1d"`` (Prometheus style)."""
    if minutes <= 0:
        return f"{minutes}m"
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


@dataclass
class Request:
    """A request read for its words and values."""

    text: str
    stems: list[str] = field(default_factory=list)
    verbs: set[str] = field(default_factory=set)  # base-form words: what an imperative names
    question: bool = False
    asks: bool = False  # phrased as a request: an imperative, "can you ...", "please ..."
    why: bool = False
    count: int | float | None = None  # "5 replicas" ("0.5 replicas" is refused)
    count_unit: str = ""
    number: int | float | None = None  # "to 5", or the one bare number
    duration_min: int | None = None  # "for 1 hour"
    window_min: int | None = None  # "in the last hour"
    revision: int | None = None  # "revision 41"
    version_tag: str | None = None  # "version 1.8.5": a release's tag, to find its revision
    relative: bool = False  # "by 2", "2 more": no count to set
    previous: bool = False  # "the previous version"
    on_off: bool | None = None  # "turn off" → False
    force: bool = False
    camel: list[str] = field(default_factory=list)  # CamelCase names: alert names

    @property
    def stem_set(self) -> set[str]:
        return set(self.stems)


def read_request(text: str) -> Request:
    """Everything :class:`Request` holds, from one message a person typed."""
    # "½", "10²": no count is read from a text holding them (see as_shown)
    text = as_shown(text)
    odd_numbers = ODD in text
    req = Request(text=text, stems=words(text), verbs=base_verbs(text))
    req.question = bool(_QUESTION.search(text))
    req.asks = not req.question or bool(_POLITE.search(text))
    req.why = bool(_WHY.search(text))
    if m := _COUNT.search(text):
        req.count, req.count_unit = _number(m.group(1)), stem(m.group(2))
    if m := _DURATION.search(text):
        req.duration_min = _unit_minutes(m.group(1), m.group(2))
    if m := _WINDOW.search(text):
        req.window_min = _unit_minutes(m.group(1) or "1", m.group(2))
    if m := _REVISION.search(text):
        req.revision = int(m.group(1))
    elif m := _VERSION_TAG.search(_without_values(text)):
        req.version_tag = m.group(1) or m.group(2)
    req.relative = bool(_RELATIVE.search(text))
    req.previous = bool(_PREVIOUS.search(text))
    if _OFF.search(text):
        req.on_off = False
    elif _ON.search(text):
        req.on_off = True
    req.force = bool(_FORCE.search(text))
    req.camel = _CAMEL.findall(text)
    used = {req.count, req.revision}
    if m := _TO_NUMBER.search(text):
        req.number = _number(m.group(1))
    else:
        bare = [_number(n) for n in _BARE_NUMBER.findall(_without_values(text))]
        bare = [n for n in bare if n not in used]
        if len(bare) == 1:
            req.number = bare[0]
    if req.number is None and req.count is not None:
        req.number = req.count
    if odd_numbers:
        req.number = req.count = None
    return req


ODD = "\ufffd"  # what as_shown leaves of a fraction or superscript


def as_shown(text: str) -> str:
    """The text as a person sees it: full-width and other compatibility forms
    ("ｃｈｅｃｋｏｕｔ", "５") as plain letters and digits. Fractions and superscripts
    ("½", "10²") are not numbers a count can be read from: NFKC would make "1⁄2" and "102"."""
    text = "".join(ODD if unicodedata.category(c) == "No" else c for c in text)
    return unicodedata.normalize("NFKC", text)


def _number(text: str) -> int | float:
    """A whole number as an int ("3.0" too); "0.5" stays a float, so a tool's integer
    parameter refuses it."""
    clean = text.replace(",", "")
    if "." not in clean:
        return int(clean)
    value = float(clean)
    return int(value) if value.is_integer() else value


def _without_values(text: str) -> str:
    """The text without the spans already read as a duration, window or revision."""
    for pattern in (_DURATION, _WINDOW, _REVISION):
        text = pattern.sub(" ", text)
    return text
