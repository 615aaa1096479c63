"""Gradient spec files: cases listed in TOML, checked without writing Python.

A spec file holds ``[[case]]`` tables (and optionally one ``[defaults]`` table whose
keys every case inherits)::

    [[case]]
    name = "linear model, hand-derived"
    expression = "(w*x - y)**2"
    wrt = ["w"]
    data = { x = [1, 2, 3, 4], y = [2, 4, 6, 8] }
    claimed = { w = "2*x*(w*x - y)" }

Keys are the arguments of ``gradcheck.check`` (expression, wrt, at, data, reduce,
claimed, points, seed, rtol, atol, method, inputs) plus ``name``, ``allow_kinks`` and
``expect`` (``"ok"``, the default, or a status that must occur, e.g. ``"mismatch"`` for a
case demonstrating a wrong claim). Only the file's shape and the types of its values are
checked here; the names and values themselves are checked by ``check`` when a case runs.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import GradcheckError

try:
    import tomllib
except ImportError:  # Python 3.10
    try:
        import tomli as tomllib  # type: ignore[no-redef]
    except ImportError:
        tomllib = None  # type: ignore[assignment]

__all__ = ["Case", "SpecError", "load_spec", "parse_spec", "CASE_KEYS", "EXPECTATIONS"]

EXPECTATIONS = ("ok", "mismatch", "undefined", "nondifferentiable")
# The arguments passed on to gradcheck.check.
CHECK_KEYS = ("expression", "wrt", "at", "data", "reduce", "claimed", "points", "seed",
              "rtol", "atol", "method", "inputs")
CASE_KEYS = ("name",) + CHECK_KEYS + ("expect", "allow_kinks")
DEFAULT_KEYS = tuple(k for k in CASE_KEYS if k != "name")
TOP_KEYS = ("case", "defaults")


class SpecError(GradcheckError, ValueError):
    """A spec file is malformed; the message names the file, the case and the key."""


@dataclass(frozen=True)
class Case:
    """One case of a spec file: ``arguments`` go to ``gradcheck.check`` as keywords."""

    name: str
    index: int  # 1-based position in the file
    line: int | None  # 1-based line of its [[case]] header, when found
    arguments: dict[str, Any] = field(default_factory=dict)
    expect: str = "ok"
    allow_kinks: bool = False


# --- value checkers: each returns an error text, or None when the value is fine ---------

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _kind(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(v), type(v).__name__)


def _text(v: Any) -> str | None:
    if not isinstance(v, str) or not v.strip():
        return f"must be a non-empty string, got {_kind(v)}"
    return None


def _names(v: Any) -> str | None:
    if isinstance(v, str):
        return None
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return None
    return 'must be a list of variable names such as ["w", "b"] (or one "w, b" string)'


def _numbers_table(v: Any) -> str | None:
    if not isinstance(v, dict):
        return f"must be a table such as {{ x = 2.0, w = 1.5 }}, got {_kind(v)}"
    for name, value in v.items():
        if not _is_number(value):
            return f"value of {name!r} must be a number, got {_kind(value)}"
    return None


def _columns_table(v: Any) -> str | None:
    if not isinstance(v, dict) or not v:
        return f"must be a table of columns such as {{ x = [1, 2], y = [2, 4] }}, got {_kind(v)}"
    for name, column in v.items():
        if not isinstance(column, list) or not column or not all(map(_is_number, column)):
            return f"column {name!r} must be a non-empty array of numbers"
    return None


def _claims_table(v: Any) -> str | None:
    if not isinstance(v, dict):
        return f'must be a table such as {{ w = "2*x*(w*x - y)" }}, got {_kind(v)}'
    for name, claim in v.items():
        if not (isinstance(claim, str) and claim.strip()) and not _is_number(claim):
            return f"claim for {name!r} must be an expression string or a number, got {_kind(claim)}"
    return None


def _whole(low: int) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            return f"must be a whole number >= {low}, got {v!r}"
        return None
    return check


def _tolerance(v: Any) -> str | None:
    if not _is_number(v) or not math.isfinite(v) or v < 0:
        return f"must be a finite number >= 0, got {v!r}"
    return None


def _expect(v: Any) -> str | None:
    if v not in EXPECTATIONS:
        return f"must be one of {', '.join(map(repr, EXPECTATIONS))}, got {v!r}"
    return None


def _flag(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"must be true or false, got {v!r}"


_CHECKERS: dict[str, Callable[[Any], str | None]] = {
    "name": _text, "expression": _text, "wrt": _names, "inputs": _names,
    "at": _numbers_table, "data": _columns_table, "claimed": _claims_table,
    "reduce": _text, "method": _text, "points": _whole(1), "seed": _whole(0),
    "rtol": _tolerance, "atol": _tolerance, "expect": _expect, "allow_kinks": _flag,
}


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key {key!r}; {hint}"


def _case_lines(text: str) -> list[int]:
    """1-based line numbers of the ``[[case]]`` headers, in order."""
    return [i for i, line in enumerate(text.splitlines(), 1)
            if re.match(r"\s*\[\[\s*case\s*\]\]", line)]


def _key_line(text: str, start: int | None, key: str) -> int | None:
    """1-based line of ``key = ...`` in the table whose header is on line ``start``
    (up to the next header), so an error points at the bad key itself."""
    if start is None:
        return None
    pattern = re.compile(rf"""\s*(["']?){re.escape(key)}\1\s*=""")
    lines = text.splitlines()
    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        if line.lstrip().startswith("["):
            return None
        if pattern.match(line):
            return number
    return None


def _validate(table: dict[str, Any], known: tuple[str, ...],
              fail: Callable[[str, str | None], SpecError]) -> None:
    for key, value in table.items():
        if key not in known:
            raise fail(_unknown_key(key, known), key)
        problem = _CHECKERS[key](value)
        if problem:
            raise fail(f"key {key!r} {problem}", key)


def parse_spec(text: str, filename: str = "<spec>") -> list[Case]:
    """Validate a spec file's text and return its cases; raise SpecError if malformed."""
    if tomllib is None:
        raise SpecError(f"{filename}: reading spec files needs Python 3.11+ or the tomli package")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = re.search(r"at line (\d+)", str(error))
        where = f"{filename}:{line.group(1)}" if line else filename
        raise SpecError(f"{where}: invalid TOML: {error}") from None
    except RecursionError:  # tomllib recurses once per level of [[[...]]]
        raise SpecError(f"{filename}: nested too deeply to be a spec file") from None
    for key in document:
        if key not in TOP_KEYS:
            raise SpecError(f"{filename}: top level: {_unknown_key(key, TOP_KEYS)} "
                            "(a spec file holds [[case]] tables and an optional [defaults] table)")
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise SpecError(f"{filename}: 'defaults' must be a table: write [defaults]")
    header = next((i for i, line in enumerate(text.splitlines(), 1)
                   if re.match(r"\s*\[\s*defaults\s*\]", line)), None)

    def fail_default(message: str, key: str | None = None) -> SpecError:
        line = _key_line(text, header, key) if key else header
        return SpecError(f"{filename}{f':{line}' if line else ''}: [defaults]: {message}")

    _validate(defaults, DEFAULT_KEYS, fail_default)
    tables = document.get("case")
    if tables is None:
        raise SpecError(f"{filename}: no cases: add at least one [[case]] table")
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise SpecError(f"{filename}: 'case' must be an array of tables: write [[case]], not [case]")
    lines = _case_lines(text)
    lines = lines if len(lines) == len(tables) else []
    cases, seen = [], {}
    for index, table in enumerate(tables, 1):
        line = lines[index - 1] if lines else None
        raw_name = table.get("name")
        label = f"case {index}" + (f" ({raw_name!r})" if isinstance(raw_name, str) else "")
        where = f"{filename}:{line}" if line else filename

        def fail(message: str, key: str | None = None, where: str = where, label: str = label,
                 line: int | None = line) -> SpecError:
            at = _key_line(text, line, key) if key else None
            return SpecError(f"{filename}:{at}: {label}: {message}" if at else f"{where}: {label}: {message}")

        _validate(table, CASE_KEYS, fail)
        merged = {**defaults, **table}
        if "expression" not in merged:
            raise fail("missing required key 'expression'")
        name = merged.pop("name", f"case{index}").strip()
        if name in seen:
            raise fail(f"duplicate name {name!r} (also case {seen[name]}); names must be unique")
        seen[name] = index
        expect = merged.pop("expect", "ok")
        allow_kinks = merged.pop("allow_kinks", False)
        if "at" in merged and "data" in merged:
            both = set(merged["at"]) & set(merged["data"])
            if both:
                raise fail(f"{sorted(both)[0]!r} is in both 'at' and 'data'; give it in one")
        cases.append(Case(name, index, line, merged, expect, allow_kinks))
    return cases


def load_spec(path: str | Path, display: str | None = None) -> list[Case]:
    """Read and validate a spec file; errors name it as ``display`` (default: the path)."""
    path = Path(path)
    filename = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{filename}: cannot read: {error}") from None
    return parse_spec(text, filename)
