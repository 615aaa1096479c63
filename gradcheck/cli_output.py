"""What the ``gradcheck`` command writes besides the table: colour, progress on stderr,
one-line error messages, the tape's recording and the --graph file.

Like cli.py, it imports nothing heavy at load: gradcheck.trace only inside the functions
that record or draw the tape.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from gradcheck.cli_inputs import _printable
from gradcheck.errors import ExpressionError, GradcheckError

__all__ = ["GRAPH_FORMATS", "STATUS_COLORS"]

GRAPH_FORMATS = {".dot": None, ".gv": None, ".svg": "svg", ".png": "png", ".pdf": "pdf"}
STATUS_COLORS = {"ok": "green", "mismatch": "red", "nondifferentiable": "yellow",
                 "undefined": "yellow"}


def _is_terminal(name: str) -> bool:
    """Whether sys.stdout/sys.stderr is a terminal (click's get_text_stream is deprecated)."""
    return bool(getattr(getattr(sys, name), "isatty", lambda: False)())


def _styler(color: bool):
    def style(text: str, status: str) -> str:
        fg = STATUS_COLORS.get(status)
        return click.style(text, fg=fg, bold=status == "mismatch") if color and fg else text
    return style


def _error(message: str, *extra: str) -> None:
    click.echo(f"error: {_printable(message)}", err=True)
    for line in extra:
        if line:
            click.echo(line, err=True)


class _Progress:
    """Prints to stderr when the block takes longer than ``after`` seconds.

    On a terminal it keeps an elapsed-time counter on one line; elsewhere it prints one
    line when the wait starts and one when it ends. Never writes to stdout.
    """

    def __init__(self, message: str, after: float):
        self.message, self.after = message, after
        self.done = threading.Event()
        self.shown = False
        self.start = time.monotonic()
        self.tty = _is_terminal("stderr")
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "_Progress":
        self.thread.start()
        return self

    def _run(self) -> None:
        if self.done.wait(self.after):
            return
        with self.lock:
            if self.done.is_set():
                return
            self.shown = True
            click.echo(f"{self.message}" + ("" if self.tty else " (this may take a while)"),
                       err=True, nl=not self.tty)
        while self.tty and not self.done.wait(0.5):
            with self.lock:
                if not self.done.is_set():
                    elapsed = time.monotonic() - self.start
                    click.echo(f"\r{self.message} {elapsed:.0f}s", err=True, nl=False)

    def __exit__(self, *exc: Any) -> None:
        with self.lock:
            self.done.set()
        self.thread.join()
        if self.shown:
            elapsed = time.monotonic() - self.start
            click.echo(f"{chr(13) if self.tty else ''}{self.message} done in {elapsed:.1f}s", err=True)


def _report_gradcheck_error(e: GradcheckError) -> None:
    caret = getattr(e, "caret", "") if isinstance(e, ExpressionError) else ""
    message = getattr(e, "message", None) or str(e)
    if caret and all(c.isprintable() for c in caret.replace("\n", "")):
        _error(message, caret)
    else:
        _error(message)


def _error_internal(e: BaseException) -> None:
    click.echo(f"internal error: {type(e).__name__}: {_printable(str(e))} "
               "(a bug in gradcheck: please report it with the command you ran; "
               "GRADCHECK_DEBUG=1 shows the traceback)", err=True)


def _record(report, data, option: str):
    """The tape's recording at the first checked point, or None (with a message)."""
    from gradcheck.trace import record

    if "tape" in report.skipped:
        _error(f"{option}: the tape cannot run this expression: {report.skipped['tape']}")
        return None
    try:
        return record(report.expression, report.wrt, report.points[0].at, data or None,
                      report.settings.get("reduce", "sum"))
    except GradcheckError as e:
        _error(f"{option}: cannot record the tape: {e}")
        return None


def check_writable(path: str, option: str) -> None:
    """Fail before the check runs if ``path`` cannot be written (a CLIError naming it).

    Opening for append creates nothing that was not there, and the empty file a new
    path gets is removed at once, so a refused run leaves no trace.
    """
    from gradcheck.cli_inputs import CLIError

    target = Path(path)
    if target.is_dir():
        raise CLIError(f"{option} {path}: is a directory; give a file name")
    existed = target.exists()
    try:
        with open(target, "a", encoding="utf-8"):
            pass
    except OSError as error:
        raise CLIError(f"{option} {path}: cannot write: {error.strerror or error}") from None
    if not existed:
        target.unlink()


def _write_graph(recording, statuses: dict[str, str], path: str, fmt: str | None) -> bool:
    from gradcheck.explain import dot_install
    from gradcheck.trace import render_dot

    dot_text = render_dot(recording, statuses)
    target = Path(path)
    try:
        if fmt is None:
            target.write_text(dot_text, encoding="utf-8")
            click.echo(f"graph written to {path}", err=True)
            return True
        program = shutil.which("dot")
        if program is None:
            fallback = target.with_suffix(".dot")
            if fallback.exists():  # never replace a file the user did not name
                kept = f"{fallback.name} exists, so the DOT text was not written either"
            else:
                fallback.write_text(dot_text, encoding="utf-8")
                kept = f"the DOT text is in {fallback}"
            _error(f"Graphviz 'dot' not found, so {path} was not written (install it: "
                   f"{dot_install()}, or use a .dot file); {kept}")
            return False
        result = subprocess.run([program, f"-T{fmt}", "-o", str(target)], input=dot_text.encode(),
                                capture_output=True, timeout=60)
    except OSError as error:
        _error(f"--graph {path}: cannot write: {error.strerror or error}")
        return False
    except subprocess.TimeoutExpired:
        _error(f"--graph {path}: Graphviz 'dot' took longer than 60 s; try a .dot file")
        return False
    if result.returncode != 0:
        why = result.stderr.decode(errors="replace").strip().splitlines()
        _error(f"--graph {path}: Graphviz 'dot' failed: {why[0] if why else result.returncode}")
        return False
    click.echo(f"graph written to {path}", err=True)
    return True
