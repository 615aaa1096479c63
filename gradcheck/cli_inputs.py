"""Turning the command line's text options (--at, --data, --data-file, --claim) into values.

Every problem is a CLIError naming the option or file (and line) and what to write instead.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

from gradcheck.errors import GradcheckError

__all__ = ["CLIError", "parse_at", "parse_data", "parse_claims", "read_data_file"]

MAX_MESSAGE = 400  # characters of an error message shown (inputs can be huge)


class CLIError(GradcheckError):
    """Bad input detected by the CLI itself (malformed option, unreadable file)."""


# --------------------------------------------------------------------------- option parsing

def _printable(text: str) -> str:
    """``text`` made safe for a terminal: control characters escaped, length capped."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return out if len(out) <= MAX_MESSAGE else out[:MAX_MESSAGE - 3] + "..."


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise CLIError(f"{where}: {text!r} is not a finite number")
    return value


def _name(text: str, where: str) -> str:
    name = text.strip()
    if not name:
        raise CLIError(f"{where}: missing the variable name before '='")
    if not name.isidentifier():
        raise CLIError(f"{where}: {name!r} is not a variable name")
    return name


def _split_list(items: Sequence[str]) -> list[str] | None:
    """``("w1,w2", "b")`` -> ``["w1", "w2", "b"]``; None when the option was not given."""
    if not items:
        return None
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def _assignment(text: str, where: str, expected: str, seen: dict, duplicate: str) -> tuple[str, str]:
    """``name=value`` split at the first ``=``, the name checked and not ``seen`` before."""
    if "=" not in text:
        raise CLIError(f"{where}: expected {expected}")
    name, value = text.split("=", 1)
    name = _name(name, where)
    if name in seen:
        raise CLIError(duplicate.format(name=repr(name)))
    return name, value


def parse_at(items: Sequence[str]) -> dict[str, float]:
    """``("x=2", "w1=1,w2=3")`` -> ``{"x": 2.0, "w1": 1.0, "w2": 3.0}``; duplicates are errors."""
    at: dict[str, float] = {}
    for item in items:
        for part in item.split(","):
            where = f"--at {item}"
            name, value = _assignment(part, where, f"name=value, got {part.strip()!r}", at,
                                      "--at: {name} is given twice")
            at[name] = _number(value.strip(), f"{where}: value of {name!r}")
    return at


def parse_data(items: Sequence[str]) -> dict[str, list[float]]:
    """``("x=1,2,3", "y=2,4,6")`` -> columns; duplicates and empty columns are errors."""
    data: dict[str, list[float]] = {}
    for item in items:
        where = f"--data {item}"
        name, values = _assignment(item, where, "name=v1,v2,..., e.g. --data x=1,2,3", data,
                                   "--data: column {name} is given twice")
        parts = values.split(",")
        if not values.strip():
            raise CLIError(f"{where}: column {name!r} has no values")
        data[name] = [_number(v.strip(), f"{where}: value {i} of {name!r}")
                      for i, v in enumerate(parts, 1)]
    return data


def parse_claims(items: Sequence[str], pairs: bool = False) -> dict[str, str]:
    """``("w1=2*x*w1",)`` -> ``{"w1": "2*x*w1"}`` (the text is parsed by the library);
    with ``pairs`` (a Hessian), ``("w1,w2=x**2",)`` -> ``{"w1,w2": "x**2"}``."""
    claims: dict[str, str] = {}
    for item in items:
        where = f"--claim {item}"
        if pairs:
            name, _, text = item.partition("=")
            parts = [p.strip() for p in name.split(",")]
            if len(parts) != 2 or not all(parts) or not text.strip():
                raise CLIError(f"{where}: expected row,column=expression, e.g. --claim w1,w2='x**2'")
            key = ",".join(_name(p, where) for p in parts)
            if key in claims:
                raise CLIError(f"--claim: {key} is given twice")
            claims[key] = text
            continue
        name, text = _assignment(item, where, "parameter=expression, e.g. --claim w='2*x*(w*x - y)'",
                                 claims, "--claim: {name} is given twice")
        if not text.strip():
            raise CLIError(f"{where}: the claimed gradient of {name!r} is empty")
        claims[name] = text
    return claims


# A data file larger than this is refused, read line by line (/dev/zero never ends).
MAX_DATA_BYTES = 128 * 2**20
MAX_JSON_BYTES = 32 * 2**20  # JSON is parsed whole
MAX_LINE = 8 * 2**20  # characters of one CSV line (a header of 40,000 columns is 300 k)
# Digits of a number in a data file; Python's int() of a 5,000-digit string is refused.
MAX_NUMBER_LENGTH = 400


def read_data_file(path: str) -> dict[str, list[float]]:
    """Columns from a CSV file with a header row, or a JSON object ``{column: [values]}``.

    Errors name the file and, for CSV, the line. A CSV file is read a line at a time,
    never whole; every limit is checked as it is read.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            if path.lower().endswith(".json"):
                text = f.read(MAX_JSON_BYTES + 1)
                if len(text) > MAX_JSON_BYTES:
                    raise CLIError(f"{path}: larger than {MAX_JSON_BYTES // 2**20} MiB; "
                                   "give the data as CSV, or a sample of its rows")
                return _data_from_json(text, path)
            return _data_from_csv(_bounded_lines(f, path), path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such data file") from None
    except IsADirectoryError:
        raise CLIError(f"{path}: is a directory, not a data file") from None
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a UTF-8 text file") from None
    except OSError as error:
        raise CLIError(f"{path}: cannot read: {error.strerror or error}") from None


def _bounded_lines(f: Any, path: str) -> Any:
    """The file's lines, refusing one longer than MAX_LINE or a total over MAX_DATA_BYTES."""
    total = 0
    while True:
        line = f.readline(MAX_LINE + 1)
        if not line:
            return
        total += len(line)
        if len(line) > MAX_LINE and not line.endswith(("\n", "\r")):
            raise CLIError(f"{path}: a line longer than {MAX_LINE // 2**20} MiB; not a CSV "
                           "data file")
        if total > MAX_DATA_BYTES:
            raise CLIError(f"{path}: larger than {MAX_DATA_BYTES // 2**20} MiB; give a "
                           "smaller data file (or a sample of its rows)")
        yield line


def _data_from_json(text: str, path: str) -> dict[str, list[float]]:
    import json  # data files only: start-up time

    try:
        obj = json.loads(text, parse_int=_json_number, parse_float=_json_number)
    except json.JSONDecodeError as error:
        raise CLIError(f"{path}:{error.lineno}: invalid JSON: {error.msg}") from None
    except RecursionError:
        raise CLIError(f"{path}: JSON nested too deeply") from None
    except ValueError as error:  # a number too long to be one
        raise CLIError(f"{path}: {error}") from None
    if not isinstance(obj, dict) or not obj:
        raise CLIError(f'{path}: expected a JSON object of columns, e.g. {{"x": [1, 2], "y": [2, 4]}}')
    data = {}
    for name, column in obj.items():
        name = _name(name, f"{path}: column {name!r}")
        if not isinstance(column, list) or not column:
            raise CLIError(f"{path}: column {name!r} must be a non-empty list of numbers")
        values = []
        for i, v in enumerate(column, 1):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise CLIError(f"{path}: column {name!r}, item {i}: {v!r} is not a number")
            values.append(_number(str(v), f"{path}: column {name!r}, item {i}"))
        data[name] = values
    return data


def _json_number(text: str) -> float:
    if len(text) > MAX_NUMBER_LENGTH:
        raise ValueError(f"a number of {len(text):,} digits is not a float64 value "
                         f"(at most {MAX_NUMBER_LENGTH} characters)")
    return float(text)


def _data_from_csv(lines: Any, path: str) -> dict[str, list[float]]:
    import csv  # data files only: start-up time

    lines = iter(lines)
    head = []
    for line in lines:  # the first non-blank line decides the delimiter
        head.append(line)
        if line.strip():
            break
    first = head[-1] if head else ""
    delimiter = max(",;\t", key=first.count) if any(d in first for d in ",;\t") else ","
    rows = _numbered_rows(itertools.chain(head, lines), delimiter)
    try:
        header_line, header = next(rows, (0, None))
        if header is None:
            raise CLIError(f"{path}: empty file; expected a header row naming the columns, e.g. x,y")
        names: list[str] = []
        seen: set[str] = set()  # a set: a header of 40,000 columns must not cost n**2
        for name in header:
            name = _name(name, f"{path}:{header_line}: header")
            if name in seen:
                raise CLIError(f"{path}:{header_line}: column {name!r} appears twice in the header")
            names.append(name)
            seen.add(name)
        data: dict[str, list[float]] = {n: [] for n in names}
        for line, row in rows:
            if len(row) != len(names):
                raise CLIError(f"{path}:{line}: {len(row)} value(s), but the header has "
                               f"{len(names)} column(s) ({', '.join(names)})")
            for name, cell in zip(names, row):
                data[name].append(_number(cell.strip(), f"{path}:{line}: column {name!r}"))
    except csv.Error as error:
        raise CLIError(f"{path}: not valid CSV: {error}") from None
    if not data[names[0]]:
        raise CLIError(f"{path}: no data rows after the header")
    return data


def _numbered_rows(lines: Any, delimiter: str):
    """(line number, cells) for every non-blank CSV row."""
    import csv

    reader = csv.reader(lines, delimiter=delimiter)
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row
