"""What the pytest plugin adds around the checks themselves: the ``--gradcheck-html``
page, the run's options as defaults of direct ``gradcheck.check`` /
``assert_gradients`` calls, and tracebacks that end at the user's call.

Imports nothing heavy at load (the plugin is loaded by every pytest run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Recorder", "use_run_defaults", "restore_defaults", "hide_library_frames"]

PACKAGE_DIR = str(Path(__file__).resolve().parent) + os.sep


class Recorder:
    """Collects (test id, Report) pairs of a run and writes them as one HTML page."""

    def __init__(self, directory: str):
        self.directory = Path(directory)
        self.entries: list[Any] = []

    def add(self, title: str, report: Any, data: Any = None, allow_kinks: bool = False,
            error: str | None = None) -> None:
        from .page import Entry

        extra = {"test failure": error} if error else {}
        self.entries.append(Entry(title, report, data, allow_kinks, extra))

    def write(self, worker: str | None = None) -> Path:
        """DIR/gradcheck.html (DIR/gradcheck-gw0.html from a pytest-xdist worker)."""
        from .page import write_page

        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"gradcheck-{worker}.html" if worker else "gradcheck.html"
        return write_page(self.directory / name, self.entries, title="gradcheck: gradient checks of "
                          + (f"pytest worker {worker}" if worker else "the test run"))


# Keyword defaults of gradcheck.check that a run's options replace, and their old values.
_SAVED: dict[str, Any] = {}


def use_run_defaults(values: dict[str, Any]) -> None:
    """Make the run's --gradcheck-seed/-points/-rtol/-atol the defaults of every check
    that does not pass its own, direct ``gradcheck.check`` and ``assert_gradients``
    calls included (the fixture passes them explicitly anyway)."""
    from . import api  # only when an option was given: the import costs SymPy

    defaults = api.check.__kwdefaults__
    for name, value in values.items():
        if name in defaults:
            _SAVED.setdefault(name, defaults[name])
            defaults[name] = value


def restore_defaults() -> None:
    if _SAVED and "gradcheck.api" in sys.modules:
        sys.modules["gradcheck.api"].check.__kwdefaults__.update(_SAVED)
    _SAVED.clear()


def hide_library_frames(error: BaseException) -> None:
    """Cut gradcheck's own frames off the end of ``error``'s traceback, in place, as
    ``__tracebackhide__`` would: the report then ends at the user's call."""
    tb: TracebackType | None = error.__traceback__
    last_user = None
    while tb is not None:
        inside = tb.tb_frame.f_code.co_filename.startswith(PACKAGE_DIR)
        if inside and last_user is not None:
            last_user.tb_next = None
            return
        if not inside:
            last_user = tb
        tb = tb.tb_next
