"""Hypothesis strategies that mutate the bundled scenario and strategy documents.

A document is the dict tomllib makes of a bundled file. A mutation picks any node of it
(a table, a list, a leaf) and breaks it the way a half-edited file breaks: a wrong type,
a missing or unknown key, a negative, huge, NaN or infinite number, an empty list, a
duplicated entry (shares then no longer sum to 1, two teams cover one bucket), a shift
moved outside the legal window, unicode keys and values, deep nesting. Shared by the
in-process fuzz tests and the CLI fuzz tests.
"""

from __future__ import annotations

import math
import reprlib
import sys
import tomllib
from typing import Any

from hypothesis import strategies as st

from sim.config import SCENARIO_DIR, bundled_strategies
from sim.errors import ConfigError

SCENARIO_NAMES = ("baseline", "us_reg_f", "recession")
SCENARIO_DOCS = {n: tomllib.loads((SCENARIO_DIR / f"{n}.toml").read_text(encoding="utf-8"))
                 for n in SCENARIO_NAMES}
STRATEGY_DOCS = {n: tomllib.loads(p.read_text(encoding="utf-8"))
                 for n, p in bundled_strategies().items()}

Path_ = tuple[Any, ...]


def paths(doc: Any, prefix: Path_ = (), depth: int = 8) -> list[Path_]:
    """Every node of a document, containers included, as a tuple of keys and indices
    (not below ``depth`` levels: a deeply nested value is mutated whole)."""
    out = [prefix]
    if depth and isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, (*prefix, k), depth - 1)
    elif depth and isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, (*prefix, i), depth - 1)
    return out


def clone(doc: Any, depth: int = 9) -> Any:
    """A copy of a document's tables and lists, much faster than copy.deepcopy. Below
    the depth that ``paths`` reaches nothing is ever changed in place, so a deeply
    nested value is shared rather than copied level by level."""
    if depth and isinstance(doc, dict):
        return {k: clone(v, depth - 1) for k, v in doc.items()}
    if depth and isinstance(doc, list):
        return [clone(v, depth - 1) for v in doc]
    return doc


def leaves(doc: Any) -> list[Any]:
    """Every scalar in a document: values a user might paste in the wrong place."""
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in leaves(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in leaves(v)]
    return [doc]


def _get(doc: Any, path: Path_) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _set(doc: Any, path: Path_, value: Any) -> Any:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _delete(doc: Any, path: Path_) -> Any:
    if not path:
        return {}
    parent = _get(doc, path[:-1])
    if isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent.pop(path[-1])
    return doc


PLAUSIBLE = sorted({repr(x): x for d in (*SCENARIO_DOCS.values(), *STRATEGY_DOCS.values())
                    for x in leaves(d)}.values(), key=repr)

SPECIAL_NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0, -1, 2**31,
                   2**63, 2**64, 10**30, -(10**30), 10**400, 1e-9, 0.5, 24.0, 24.5, 25, 365,
                   20_000_001]
SPECIAL_TEXT = ["", " ", "\u0000", "名前", "ＭＩ", "M1 ", "sms\u200b", "🙂", "é" * 200,
                "cn_2022 ", "US_REG_F", "2025-02-30", "1e999", "nan", "true", "[1, 2]",
                "$(rm -rf /)", "../../etc/passwd", "x" * 5000]


def _text(node: Any) -> str:
    """A node pasted as text, cut to 50 characters. A value nested thousands deep (a
    replacement can be) has no str(): it raises RecursionError, which made the fuzz
    test itself fail now and then; reprlib writes its first levels instead."""
    try:
        return str(node)[:50]
    except RecursionError:
        return reprlib.repr(node)[:50]


def nested(value: Any, depth: int, as_dict: bool) -> Any:
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


scalars = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.sampled_from(SPECIAL_TEXT),
    st.sampled_from(PLAUSIBLE),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-5.0, max_value=30.0),  # around the hours of a day
    st.text(max_size=12),
    st.dates(), st.datetimes(), st.times(),
)
weird = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
    st.builds(nested, scalars, st.integers(1, 3000), st.booleans()),
)

OPS = ("replace", "delete", "unknown_key", "scale", "empty", "duplicate", "nest", "retype",
       "hours", "shares")


@st.composite
def mutated(draw: st.DrawFn, docs: dict[str, dict[str, Any]], max_mutations: int = 4) -> dict:
    """A bundled document with one to ``max_mutations`` mutations applied."""
    name = draw(st.sampled_from(sorted(docs)))
    doc: Any = clone(docs[name])
    for _ in range(draw(st.integers(1, max_mutations))):
        every = paths(doc)
        path = every[draw(st.integers(0, len(every) - 1))]
        node = _get(doc, path)
        op = draw(st.sampled_from(OPS))
        if op == "replace":
            doc = _set(doc, path, draw(weird))
        elif op == "delete":
            doc = _delete(doc, path)
        elif op == "unknown_key" and isinstance(node, dict):
            key = draw(st.one_of(st.text(min_size=1, max_size=10), st.sampled_from(SPECIAL_TEXT)))
            node[key] = draw(weird)
        elif op == "scale" and isinstance(node, int | float) and not isinstance(node, bool):
            k = draw(st.sampled_from([-1, 0, 2, 10, 1e3, 1e6, 1e300, math.nan, math.inf]))
            try:
                v = node * k if not (isinstance(k, float) and math.isnan(k)) else k
            except OverflowError:  # an int scaled up before, now beyond any float
                v = math.inf
            doc = _set(doc, path, int(v) if isinstance(node, int) and math.isfinite(v) else v)
        elif op == "empty" and isinstance(node, dict | list):
            doc = _set(doc, path, type(node)())
        elif op == "duplicate" and isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node, key=str)))
            new = draw(st.one_of(st.just(f"{key}_copy"), st.sampled_from(SPECIAL_TEXT),
                                 st.text(max_size=8)))
            node[new] = clone(node[key])
        elif op == "duplicate" and isinstance(node, list) and node:
            node.append(clone(node[draw(st.integers(0, len(node) - 1))]))
        elif op == "nest":
            doc = _set(doc, path, nested(node, draw(st.integers(1, 50)), draw(st.booleans())))
        elif op == "retype":
            doc = _set(doc, path, draw(st.sampled_from([_text(node), [node], {"value": node}])))
        elif op == "hours":
            # a collector shift or a contact hour moved anywhere in (or around) the day
            hours = [p for p in every if p and p[-1] in ("start_hour", "end_hour", "hour")]
            if hours:
                target = hours[draw(st.integers(0, len(hours) - 1))]
                doc = _set(doc, target, draw(st.floats(-2.0, 26.0) | st.integers(-2, 26)))
        elif op == "shares":
            shares = [p for p in every if p and p[-1] in ("share", "term_shares")]
            if shares:
                target = shares[draw(st.integers(0, len(shares) - 1))]
                old = _get(doc, target)
                new = ([draw(st.floats(0, 1)) for _ in old] if isinstance(old, list)
                       else draw(st.floats(-0.5, 1.5)))
                doc = _set(doc, target, new)
    return doc


def check_config_error(e: ConfigError, source: str) -> str:
    """A ConfigError as the user sees it: a non-empty list of (field, message), rendered
    as ``file: field: message`` lines."""
    assert e.problems, "a ConfigError must say what is wrong"
    for field, msg in e.problems:
        assert isinstance(field, str) and isinstance(msg, str), (field, msg)
        assert msg.strip(), f"empty message for {field!r}"
    text = e.render()
    lines = text.splitlines()
    assert len(lines) >= len(e.problems)
    assert all(line.startswith(f"{source}: ") for line in lines if line), text
    return text


TINY = (("population.accounts", 120), ("horizon.warmup_days", 5),
        ("horizon.window_days", 15), ("horizon.followup_days", 5))


def finite_or_none(kpis: dict[str, Any]) -> list[str]:
    """KPIs that are neither None nor a finite float."""
    return [k for k, v in kpis.items()
            if v is not None and not (isinstance(v, float) and math.isfinite(v))]


__all__ = ["SCENARIO_DOCS", "STRATEGY_DOCS", "TINY", "check_config_error", "finite_or_none",
           "mutated"]


# --------------------------------------------------------------------------- TOML out

def _toml_str(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif o < 32 or o == 127:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(v: Any) -> str | None:
    if v is None:
        return None  # TOML has no null: the key is left out
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, dict):
        items = [(k, _toml_value(x)) for k, x in v.items()]
        return "{" + ", ".join(f"{_toml_str(str(k))} = {x}" for k, x in items
                               if x is not None) + "}"
    if isinstance(v, list | tuple):
        items = [_toml_value(x) for x in v]
        return "[" + ", ".join(x for x in items if x is not None) + "]"
    return v.isoformat()  # date, datetime, time


def to_toml(doc: dict[str, Any]) -> str:
    """A document as TOML text: one ``"key" = value`` line per top-level key, tables inline.
    (Enough to write any mutated document; None values are left out.)"""
    if not isinstance(doc, dict):  # a file is always a table: the value becomes one key
        doc = {"value": doc}
    lines = []
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20_000))  # values may be nested thousands deep
    try:
        for k, v in doc.items():
            text = _toml_value(v)
            if text is not None:
                lines.append(f"{_toml_str(str(k))} = {text}")
    finally:
        sys.setrecursionlimit(limit)
    return "\n".join(lines) + "\n"
