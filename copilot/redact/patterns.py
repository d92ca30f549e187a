"""What the engine can learn from a rule's pattern text, to scan less without finding less.

Each answer is derived from the parse tree of Python's own ``re`` parser (``regex``-only
syntax such as ``\\G`` is not understood, and then nothing is assumed):

* :func:`literal_prefixes` -- strings one of which starts every match, so the engine tries
  the pattern only where one starts (found by its Aho-Corasick pass);
* :func:`anchored_cost` -- a bound on the work of one anchored match, so a cheap one needs
  no per-call timer (``regex`` reads a CPU clock for each timed call, ~1.5 us);
* :func:`single_line` -- whether a match (and what it looks at) stays on one line.

Every "unsure" answers on the safe side: no prefixes, no bound, not one line.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

_MIN_PREFIX = 2
_MAX_PREFIXES = 64


def _parse(pattern: str, flags: int) -> Any:
    """Python's ``re`` parse tree of a ``regex`` pattern, or None when ``re`` cannot read it
    (``regex``-only syntax such as ``\\G``): callers then assume nothing about it."""
    from re import _parser  # type: ignore[attr-defined]

    flags &= re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII
    try:
        return _parser.parse(pattern, flags)
    except Exception:  # duplicate group names (a ``regex`` feature): analyse without names
        try:
            return _parser.parse(re.sub(r"(?<!\\)\(\?P<\w+>", "(", pattern), flags)
        except Exception:
            return None


@lru_cache(maxsize=4096)
def literal_prefixes(pattern: str, flags: int = 0) -> tuple[str, ...]:
    """Lower-case strings one of which starts every match of ``pattern`` (after
    :func:`fold`), or ``()`` when that cannot be shown. Derived from the parse tree of
    Python's own ``re`` parser: literals, groups, alternations and optional literal parts
    extend a prefix; zero-width assertions are skipped; anything else ends it."""
    tree = _parse(pattern, flags)
    if tree is None:
        return ()
    heads, _ = _extend(list(tree), frozenset({""}))
    if not heads or min(len(h) for h in heads) < _MIN_PREFIX:
        return ()
    # "pass" already finds every "password": keep only the shortest of nested prefixes
    return tuple(h for h in sorted(heads) if not any(o != h and h.startswith(o) for o in heads))


# Steps of one anchored match that need no time limit (a few milliseconds at worst): the
# engine checks its clock between such matches instead, so a window still ends on time.
CHEAP = 1_000_000
# The most characters an anchored match may read for :func:`anchored_cost` to hold: an
# unbounded quantifier over something at least one character wide repeats at most this often.
SPAN = 4096


@lru_cache(maxsize=4096)
def anchored_cost(pattern: str, flags: int = 0) -> int | None:
    """An upper bound on the steps of one anchored match of ``pattern`` reading at most
    ``SPAN`` characters, with every backtracking path explored; None when unknown (a
    back-reference, an unbounded repeat of something that can be empty) or above ``CHEAP``.

    Along a sequence each path of an item continues with the rest; alternatives add;
    ``{m,n}`` of one character costs its consumption and its give-backs, of more, every
    count; possessive, atomic and lookaround parts are explored once, never re-entered."""
    tree = _parse(pattern, flags)
    if tree is None:
        return None
    cost = _cost(list(tree), bool(tree.state.flags & re.IGNORECASE))
    return None if cost is None else cost[1]


def _cost(items: list[Any], ci: bool = False, follow: Any = None) -> tuple[int, int] | None:
    """(paths, steps to explore them all) of a sequence, None when unbounded or too dear;
    ``follow``: the class items that can start what comes after it (None: unknown).

    A repeat of one character class followed by something that cannot start with such a
    character (``\\s*:``, ``[\\w.-]{0,25}?\\s*=``) has one useful count: giving back or
    taking one more character fails at once, so it costs steps, not paths. Likewise only one
    of several alternatives that cannot start alike gets past its first character."""
    from re import _constants as c  # type: ignore[attr-defined]

    parts: list[tuple[int, int]] = []
    for at, (op, av) in enumerate(items):
        after = cache(lambda at=at: _first(items[at + 1 :], ci, follow))
        if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY, c.AT, c.CATEGORY):
            parts.append((1, 1))
            continue
        if op in (c.ASSERT, c.ASSERT_NOT, c.ATOMIC_GROUP):
            inner = _cost(list(av if op is c.ATOMIC_GROUP else av[-1]), ci)
            if inner is None:
                return None
            parts.append((1, inner[1]))
        elif op is c.SUBPATTERN:
            inner = _cost(list(av[-1]), _ci(ci, av), after())
            if inner is None:
                return None
            parts.append(inner)
        elif op is c.BRANCH:
            alts = [x for x in (_cost(list(alt), ci, after()) for alt in av[1]) if x is not None]
            if len(alts) != len(av[1]):
                return None
            one = _one_way(av[1], ci, after())
            paths = max(x[0] for x in alts) if one else sum(x[0] for x in alts)
            parts.append((paths, sum(x[1] for x in alts)))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            again = _first(list(sub), ci) if hi != 1 else []  # another pass may follow
            nxt = after()
            then = None if again is None or nxt is None else [*again, *nxt]
            inner = _cost(list(sub), ci, then)
            if inner is None or (hi is c.MAXREPEAT and sub.getwidth()[0] == 0):
                return None
            hi = min(hi, SPAN)
            lo = min(lo, hi)
            ip, ie = inner
            if ip == 1:
                paths, steps = hi - lo + 1, hi * ie + (hi - lo)
            else:
                paths = sum(ip**k for k in range(lo, hi + 1))
                steps = sum(ie * (ip**k - 1) // (ip - 1) for k in range(lo, hi + 1))
            item = _cased(sub[0], ci) if len(sub) == 1 else None
            if op is c.POSSESSIVE_REPEAT or (item is not None and _apart(item, nxt)):
                paths, steps = 1, steps + (hi - lo)
            parts.append((paths, steps))
        else:
            return None
        if parts[-1][0] > CHEAP or parts[-1][1] > CHEAP:
            return None
    paths, steps = 1, 0
    for p, e in reversed(parts):
        paths, steps = paths * p, e + p * steps
        if steps > CHEAP:
            return None
    return paths, steps


def _ci(ci: bool, group: Any) -> bool:
    """Case-insensitivity inside a group ``(?i:...)`` / ``(?-i:...)``."""
    return (ci or bool(group[1] & re.IGNORECASE)) and not group[2] & re.IGNORECASE


# Class algebra for the repeat rule in _cost, on ``re`` parse items: a class is a list of
# atoms -- a character range (a literal is a range of one) or a category -- maybe negated.
_DISJOINT_CATEGORIES = {("space", "word"), ("space", "digit"), ("digit", "not_digit")}
_DISJOINT_CATEGORIES |= {("word", "not_word"), ("space", "not_space")}
_DISJOINT_CATEGORIES |= {(b, a) for a, b in _DISJOINT_CATEGORIES}
_SPACE = " \t\n\r\f\v\x1c\x1d\x1e\x1f"  # generous: Python and regex differ on 1c-1f
_FOLDS = {"k": "\u212a", "s": "\u017f", "i": "\u0130"}  # what (?i) adds to k, s, i


def _atoms(item: Any) -> tuple[bool, list[tuple[Any, ...]]] | None:
    """(negated, atoms) of a LITERAL or IN item: ("range", lo, hi) or ("cat", name)."""
    from re import _constants as c  # type: ignore[attr-defined]

    op, av = item
    if op is c.LITERAL:
        return False, [("range", av, av)]
    if op is not c.IN:
        return None
    negate, out = False, list[tuple[Any, ...]]()
    for sop, sav in av:
        if sop is c.NEGATE:
            negate = True
        elif sop is c.LITERAL:
            out.append(("range", sav, sav))
        elif sop is c.RANGE:
            out.append(("range", sav[0], sav[1]))
        elif sop is c.CATEGORY:
            out.append(("cat", str(sav).removeprefix("CATEGORY_").lower()))
        else:
            return None
    return negate, out


def _caseless(item: Any, ci: bool) -> bool:
    """A class item that ``(?i)`` leaves as it is (no letter in it), or ``ci`` is off."""
    atoms = _atoms(item)
    if not ci:
        return True
    return atoms is not None and all(
        a[1] in ("digit", "space", "not_word")
        if a[0] == "cat"
        else a[2] < 128 and not any(chr(x).isalpha() for x in range(a[1], a[2] + 1))
        for a in atoms[1]
    )


def _cased(item: Any, ci: bool) -> Any:
    """The class item as ``(?i)`` widens it: ASCII letters in both cases, and the non-ASCII
    letters that match k, s and i (None when it holds a category that has letters)."""
    from re import _constants as c  # type: ignore[attr-defined]

    atoms = _atoms(item)
    if not ci or _caseless(item, ci) or atoms is None or atoms[0]:
        return item if not ci or _caseless(item, ci) else None
    codes: set[int] = set()
    for a in atoms[1]:
        if a[0] == "cat" or a[2] >= 128:
            return None
        for ch in map(chr, range(a[1], a[2] + 1)):
            codes.update(
                ord(x) for x in (ch, ch.lower(), ch.upper(), _FOLDS.get(ch.lower(), "")) if x
            )
    return (c.IN, [(c.LITERAL, x) for x in sorted(codes)])


def _in_cat(code: int, cat: str, generous: bool = True) -> bool:
    """Whether ``code`` is in category ``cat``: erring towards yes when ``generous``,
    towards no when not (\\x1c-\\x1f and non-ASCII characters are where that matters)."""
    ch, base = chr(code), cat.removeprefix("not_")
    if base not in ("digit", "space", "word"):
        return generous
    if code < 128 and ch not in _SPACE[6:]:
        hit = {"digit": ch in "0123456789", "word": ch.isalnum() or ch == "_"}.get(base)
        return (ch in _SPACE if hit is None else hit) == (base == cat)
    maybe = {"digit": ch.isnumeric(), "space": ch.isspace(), "word": not ch.isspace()}[base]
    surely = False  # outside ASCII, never count on a character being in a category
    if base != cat:
        maybe, surely = not surely, not maybe
    return maybe if generous else surely


def _atom_apart(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    if a[0] == "cat" and b[0] == "cat":
        return (a[1], b[1]) in _DISJOINT_CATEGORIES
    if a[0] == "cat":
        a, b = b, a
    if b[0] == "range":
        return bool(a[2] < b[1] or b[2] < a[1])
    if a[2] - a[1] > 512:
        return False
    return not any(_in_cat(code, b[1]) for code in range(a[1], a[2] + 1))


def _covered(a: tuple[Any, ...], atoms: list[tuple[Any, ...]]) -> bool:
    """Atom ``a`` lies inside the union of ``atoms``."""
    if a[0] == "cat":
        return a in atoms
    if any(b[0] == "range" and b[1] <= a[1] and a[2] <= b[2] for b in atoms):
        return True
    return a[2] < 128 and all(
        any(
            b[1] <= code <= b[2] if b[0] == "range" else _in_cat(code, b[1], generous=False)
            for b in atoms
        )
        for code in range(a[1], a[2] + 1)
    )


def _classes_apart(x: Any, y: Any) -> bool:
    """No character matches both class items ``x`` and ``y`` (False when unsure)."""
    ax, ay = _atoms(x), _atoms(y)
    if ax is None or ay is None:
        return False
    (nx, xs), (ny, ys) = ax, ay
    if not nx and not ny:
        return all(_atom_apart(a, b) for a in xs for b in ys)
    if ny and not nx:  # x inside what y lists
        return all(_covered(a, ys) for a in xs)
    if nx and not ny:
        return all(_covered(b, xs) for b in ys)
    return False


def _one_way(alts: list[Any], ci: bool, follow: Any) -> bool:
    """No two of ``alts`` can start with the same character."""
    firsts = [_first(list(alt), ci, follow) for alt in alts]
    if any(f is None for f in firsts):
        return False
    return all(
        _classes_apart(x, y)
        for i, fi in enumerate(firsts)
        for fj in firsts[i + 1 :]
        for x in fi  # type: ignore[union-attr]
        for y in fj  # type: ignore[union-attr]
    )


def _apart(item: Any, first: list[Any] | None) -> bool:
    """No character of class ``item`` can start what follows it (``first`` starts it)."""
    return first is not None and all(_classes_apart(item, f) for f in first)


def _first(items: list[Any], ci: bool, follow: Any = None) -> list[Any] | None:
    """The class items one of which starts every match of ``items`` followed by what
    ``follow`` starts -- None when that is unknown (anything not understood)."""
    from re import _constants as c  # type: ignore[attr-defined]

    out: list[Any] = []
    for at, (op, av) in enumerate(items):
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        if op is c.LITERAL or op is c.IN:
            return None if (item := _cased((op, av), ci)) is None else [*out, item]
        rest = cache(lambda at=at: _first(items[at + 1 :], ci, follow))
        if op in (c.SUBPATTERN, c.ATOMIC_GROUP):
            sub = list(av[-1] if op is c.SUBPATTERN else av)
            inner = _first(sub, _ci(ci, av) if op is c.SUBPATTERN else ci, rest())
            return None if inner is None else [*out, *inner]
        if op is c.BRANCH:
            alts = [_first(list(alt), ci, rest()) for alt in av[1]]
            if any(a is None for a in alts):
                return None
            return [*out, *(x for a in alts for x in a)]  # type: ignore[union-attr]
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            inner = _first(list(av[2]), ci)
            if inner is None:
                return None
            out += inner
            if av[0] > 0:
                return out
            continue  # may repeat zero times: what follows may start the match too
        return None
    return None if follow is None else [*out, *follow]


@lru_cache(maxsize=4096)
def single_line(pattern: str, flags: int = 0) -> bool:
    """True when nothing in ``pattern`` (lookarounds included) can match a line break, so a
    match and everything it looks at lie on one line; False when unsure."""
    tree = _parse(pattern, flags)
    return tree is not None and not _breaks(list(tree), bool(tree.state.flags & re.DOTALL))


def _breaks(items: list[Any], dotall: bool) -> bool:
    """Whether some item may match ``\\n`` (True when unsure)."""
    from re import _constants as c  # type: ignore[attr-defined]

    for op, av in items:
        if op is c.SUBPATTERN:
            inner = (dotall or bool(av[1] & re.DOTALL)) and not av[2] & re.DOTALL
            hit = _breaks(list(av[-1]), inner)
        elif op is c.BRANCH:
            hit = any(_breaks(list(alt), dotall) for alt in av[1])
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT, c.ASSERT, c.ASSERT_NOT):
            hit = _breaks(list(av[-1]), dotall)
        elif op in (c.ATOMIC_GROUP, c.AT, c.NOT_LITERAL, c.ANY):
            hit = {c.AT: False, c.NOT_LITERAL: av != 10, c.ANY: dotall}.get(op, True)
            hit = _breaks(list(av), dotall) if op is c.ATOMIC_GROUP else hit
        else:  # a literal or class: apart from "\\n"? (anything else: assume it breaks)
            hit = not _classes_apart((op, av), (c.LITERAL, 10))
        if hit:
            return True
    return False


def _extend(items: list[Any], heads: frozenset[str]) -> tuple[frozenset[str], bool]:
    """(prefixes after ``items``, whether ``items`` were literal text to the end)."""
    from re import _constants as c  # type: ignore[attr-defined]

    for op, av in items:
        if op is c.LITERAL:
            ch = chr(av)
            if not ch.isascii():
                return heads, False
            heads = frozenset(h + ch.lower() for h in heads)
        elif op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue  # zero-width
        elif op is c.IN and len(av) <= 8 and all(x is c.LITERAL and y < 128 for x, y in av):
            wider = frozenset(h + chr(y).lower() for h in heads for _, y in av)  # gh[pousr]_
            if len(wider) > _MAX_PREFIXES:
                return heads, False
            heads = wider
        elif op is c.SUBPATTERN or op is c.ATOMIC_GROUP:
            heads, whole = _extend(list(av[-1] if op is c.SUBPATTERN else av), heads)
            if not whole:
                return heads, False
        elif op is c.BRANCH:
            results = [_extend(list(alt), heads) for alt in av[1]]
            joined = frozenset().union(*(r[0] for r in results))
            if len(joined) > _MAX_PREFIXES:
                return heads, False
            heads = joined
            if not all(r[1] for r in results):
                return heads, False
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            lo, hi, sub = av
            inner, whole = _extend(list(sub), heads)
            if len(inner) > _MAX_PREFIXES:
                return heads, False
            if lo == 0 and hi == 1 and whole:  # optional literal text: with or without it
                heads = heads | inner
            elif lo == 0:
                return heads, False
            elif lo == hi == 1 and whole:
                heads = inner
            else:  # at least one pass through ``sub``
                return inner, False
        else:
            return heads, False
    return heads, True
