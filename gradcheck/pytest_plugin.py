"""The gradcheck pytest plugin: hooks and fixtures only, the checking lives in the library.

Registered through the ``pytest11`` entry point, so it is active wherever gradcheck is
installed. It provides

* the ``gradcheck`` fixture: ``gradcheck(expression, wrt, at, data=..., claimed=...)``
  takes the arguments of :func:`gradcheck.check` and fails the test with the report's
  table when a source disagrees; it returns the Report otherwise;
* the ``gradcheck`` marker, added to every test using the fixture (``-m gradcheck``);
* options ``--gradcheck-points/-seed/-rtol/-atol`` and ini keys ``gradcheck_points``,
  ``gradcheck_seed``, ``gradcheck_rtol``, ``gradcheck_atol``: defaults for every check
  that does not pass its own; the run's header line shows them for replay;
* collection of ``test_*.grad.toml`` spec files, one test item per ``[[case]]``;
* ``--gradcheck-html=DIR``: every check of the fixture and of spec files, passed or
  failed, on one self-contained page ``DIR/gradcheck.html`` (table, trace, graph).

The options are also the defaults of direct ``gradcheck.check``/``assert_gradients``
calls in tests, and a failing ``assert_gradients`` shows no frames of gradcheck's own.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from .pytest_support import Recorder, hide_library_frames, restore_defaults, use_run_defaults
from .spec import Case, SpecError, load_spec

__all__ = ["GradcheckSettings", "GradcheckFixture", "GradSpecFile", "GradSpecItem"]

OPTIONS = ("points", "seed", "rtol", "atol")
MARKER = "gradcheck: a gradient check (tests using the gradcheck fixture, *.grad.toml cases)"


@dataclass(frozen=True)
class GradcheckSettings:
    """The run-wide defaults of every check; explicit arguments override them."""

    points: int
    seed: int
    rtol: float
    atol: float

    def apply(self, arguments: dict[str, Any]) -> dict[str, Any]:
        return {**{name: getattr(self, name) for name in OPTIONS}, **arguments}

    def header(self) -> str:
        return (f"gradcheck: seed={self.seed} points={self.points} rtol={self.rtol:g} "
                f"atol={self.atol:g} (replay with --gradcheck-seed={self.seed})")


_SETTINGS = pytest.StashKey[GradcheckSettings]()


# --- typed option values (used for the command line and the ini file alike) ----------

def _whole(text: Any, low: int) -> int:
    if isinstance(text, bool):
        raise ValueError(f"expected a whole number >= {low}, got {text!r}")
    try:
        value = int(str(text).strip())
    except ValueError:
        raise ValueError(f"expected a whole number >= {low}, got {text!r}") from None
    if value < low:
        raise ValueError(f"expected a whole number >= {low}, got {text!r}")
    return value


def _points(text: Any) -> int:
    return _whole(text, 1)


def _seed(text: Any) -> int | str:
    if str(text).strip().lower() == "random":
        return "random"
    try:
        return _whole(text, 0)
    except ValueError:
        raise ValueError(f"expected a whole number >= 0 or 'random', got {text!r}") from None


def _tolerance(text: Any) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or isinstance(text, bool):
        raise ValueError(f"expected a finite number >= 0, got {text!r}")
    return value


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "points": _points, "seed": _seed, "rtol": _tolerance, "atol": _tolerance}


def _argparse_type(name: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return _PARSERS[name](text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = name  # argparse names the type in its messages
    return convert


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcheck", "gradient checks (gradcheck)")
    helps = {
        "points": "seeded points per check (default 1, or ini gradcheck_points)",
        "seed": "seed of the checked points, or 'random' (default 0, or ini gradcheck_seed); "
                "the header line shows it for replay",
        "rtol": "relative tolerance of every check (default gradcheck.DEFAULT_RTOL, "
                "or ini gradcheck_rtol)",
        "atol": "absolute tolerance of every check (default gradcheck.DEFAULT_ATOL, "
                "or ini gradcheck_atol)",
    }
    for name in OPTIONS:
        group.addoption(f"--gradcheck-{name}", dest=f"gradcheck_{name}", default=None,
                        type=_argparse_type(name), metavar=name.upper(), help=helps[name])
        parser.addini(f"gradcheck_{name}", f"default of --gradcheck-{name}", default="")
    group.addoption("--gradcheck-html", dest="gradcheck_html", default=None, metavar="DIR",
                    help="write every gradient check (table, trace, graph) to DIR/gradcheck.html, "
                         "a self-contained page for CI artifacts")


def _chosen(config: pytest.Config) -> dict[str, Any]:
    """The options given on the command line or in the ini file, type-checked."""
    values: dict[str, Any] = {}
    for name in OPTIONS:
        option = config.getoption(f"gradcheck_{name}")
        raw = config.getini(f"gradcheck_{name}") if option is None else None
        if option is not None:
            values[name] = option
        elif raw not in ("", None):
            try:
                values[name] = _PARSERS[name](raw)
            except ValueError as error:
                raise pytest.UsageError(f"ini option gradcheck_{name}: {error}") from None
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "gradcheck_seed" in workerinput:
        values["seed"] = workerinput["gradcheck_seed"]  # pytest-xdist: the controller's seed
    elif values.get("seed") == "random":
        values["seed"] = random.SystemRandom().randrange(1_000_000)
    return values


_CHOSEN = pytest.StashKey[dict]()


def _settings(config: pytest.Config) -> GradcheckSettings:
    """The run's settings; library defaults are looked up on first use (imports SymPy)."""
    settings = config.stash.get(_SETTINGS, None)
    if settings is None:
        from .defaults import DEFAULT_ATOL, DEFAULT_RTOL

        values = {"points": 1, "seed": 0, "rtol": DEFAULT_RTOL, "atol": DEFAULT_ATOL,
                  **config.stash[_CHOSEN]}
        settings = config.stash[_SETTINGS] = GradcheckSettings(
            int(values["points"]), int(values["seed"]), float(values["rtol"]), float(values["atol"]))
    return settings


_RECORDER = pytest.StashKey[Recorder]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    config.stash[_CHOSEN] = _chosen(config)
    if config.stash[_CHOSEN]:
        settings = _settings(config)
        use_run_defaults({name: getattr(settings, name) for name in config.stash[_CHOSEN]})
    directory = config.getoption("gradcheck_html", None)
    if directory:
        config.stash[_RECORDER] = Recorder(directory)


def pytest_unconfigure(config: pytest.Config) -> None:
    restore_defaults()


def pytest_sessionfinish(session: pytest.Session) -> None:
    recorder = session.config.stash.get(_RECORDER, None)
    if recorder is None:
        return
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    try:
        path = recorder.write(worker)
    except Exception as error:  # never turn a finished run into a crash
        sys.stderr.write(f"gradcheck: cannot write the HTML report: {error}\n")
        return
    if worker is None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"gradcheck: HTML report written to {path}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A failing direct ``assert_gradients`` call: its traceback ends at the user's line."""
    outcome = yield
    if outcome.excinfo is not None and "gradcheck.api" in sys.modules:
        from .api import GradientMismatch
        from .errors import GradcheckError

        if isinstance(outcome.excinfo[1], (GradientMismatch, GradcheckError)):
            hide_library_frames(outcome.excinfo[1])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker checks the controller's points (its seed, even if random)."""
    node.workerinput["gradcheck_seed"] = _settings(node.config).seed


def pytest_report_header(config: pytest.Config) -> str:
    return _settings(config).header()


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "gradcheck" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("gradcheck"):
            item.add_marker("gradcheck")


class GradcheckFixture:
    """What the ``gradcheck`` fixture returns: ``gradcheck.check`` that fails the test."""

    def __init__(self, settings: GradcheckSettings, recorder: Recorder | None = None,
                 title: str = "gradcheck"):
        self.settings = settings
        self.recorder, self.title = recorder, title

    def __call__(self, expression: Any, *args: Any, **kwargs: Any) -> Any:
        """Check gradients; fail the test with the report's table if a source disagrees.

        Takes the arguments of ``gradcheck.check`` (plus ``allow_kinks``); ``points``,
        ``seed``, ``rtol`` and ``atol`` default to the run's options. Returns the Report.
        """
        __tracebackhide__ = True
        from .api import GradientMismatch, assert_gradients
        from .errors import GradcheckError

        try:
            report = assert_gradients(expression, *args, **self.settings.apply(kwargs))
        except (GradientMismatch, GradcheckError) as error:
            if self.recorder is not None and isinstance(error, GradientMismatch):
                self.recorder.add(self.title, error.report, kwargs.get("data"),
                                  kwargs.get("allow_kinks", False))
            # Drop the library's frames: the traceback ends at the user's call.
            raise error.with_traceback(None) from None
        if self.recorder is not None:
            self.recorder.add(self.title, report, kwargs.get("data"), kwargs.get("allow_kinks", False))
        return report

    def rule(self, f: Any, vjp: Any = None, jvp: Any = None, **kwargs: Any) -> Any:
        """``gradcheck.check_rule`` that fails the test with the report's table; ``seed``,
        ``rtol`` and ``atol`` default to the run's options. Returns the RuleReport."""
        __tracebackhide__ = True
        from .errors import GradcheckError
        from .rule import RuleMismatch, assert_rule

        s = self.settings
        options = {"seed": s.seed, "rtol": s.rtol, "atol": s.atol, **kwargs}
        try:
            return assert_rule(f, vjp, jvp, **options)
        except (RuleMismatch, GradcheckError) as error:
            raise error.with_traceback(None) from None

    def __repr__(self) -> str:
        s = self.settings
        return f"<gradcheck fixture: seed={s.seed} points={s.points} rtol={s.rtol:g} atol={s.atol:g}>"


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> GradcheckFixture:
    """Check gradients like ``gradcheck.check``; fail the test if any source disagrees.

    ``gradcheck(expression, wrt, at, data=..., claimed=..., points=..., ...)`` returns the
    Report; on a disagreement the failure message is the report's table.
    """
    return GradcheckFixture(_settings(request.config), request.config.stash.get(_RECORDER, None),
                            request.node.nodeid)


def _summary(report: Any) -> str:
    """One line for pytest's short summary: the status of each failing parameter."""
    bad = [f"{name}: {r.status}" + (f" ({r.culprit})" if r.culprit else "")
           for name, (_, r) in report.worst().items() if r.status != "ok"]
    return "GradientMismatch: " + ("; ".join(bad) or "failed")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A failed check's summary line names parameters and culprits, not the whole table."""
    outcome = yield
    rep = outcome.get_result()
    if call.excinfo is None or not rep.failed or "gradcheck.api" not in sys.modules:
        return
    from .api import GradientMismatch
    crash = getattr(rep.longrepr, "reprcrash", None)
    if isinstance(call.excinfo.value, GradientMismatch) and crash is not None:
        crash.message = _summary(call.excinfo.value.report)


# --- spec files ------------------------------------------------------------------------

def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    name = file_path.name
    if name.startswith("test_") and name.endswith(".grad.toml"):
        return GradSpecFile.from_parent(parent, path=file_path)
    return None


class GradSpecFile(pytest.File):
    """A ``test_*.grad.toml`` file: one item per ``[[case]]``."""

    def collect(self):
        try:
            display = self.path.relative_to(self.config.rootpath)
        except ValueError:
            display = self.path
        try:
            cases = load_spec(self.path, str(display))
        except SpecError as error:
            raise self.CollectError(str(error)) from None
        for case in cases:
            yield GradSpecItem.from_parent(self, name=case.name, case=case)


class CaseFailed(AssertionError):
    """A case did not turn out as its ``expect`` says, or could not run."""


class GradSpecItem(pytest.Item):
    """One case of a spec file, checked like the fixture would."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.add_marker("gradcheck")

    def runtest(self) -> None:
        from .api import GradientMismatch, assert_gradients, check
        from .errors import ExpressionError, GradcheckError

        arguments = _settings(self.config).apply(self.case.arguments)
        recorder = self.config.stash.get(_RECORDER, None)
        try:
            if self.case.expect == "ok":
                try:
                    report = assert_gradients(allow_kinks=self.case.allow_kinks, **arguments)
                except GradientMismatch as error:
                    if recorder is not None:
                        recorder.add(self.nodeid, error.report, arguments.get("data"), self.case.allow_kinks)
                    raise
                if recorder is not None:
                    recorder.add(self.nodeid, report, arguments.get("data"), self.case.allow_kinks)
                return
            report = check(**arguments)
            if recorder is not None:
                recorder.add(self.nodeid, report, arguments.get("data"), self.case.allow_kinks)
        except GradcheckError as error:
            kind = "invalid expression" if isinstance(error, ExpressionError) else "invalid case"
            caret = getattr(error, "caret", "")
            raise CaseFailed(f"{self._where()}: {kind}: {error}" + (f"\n{caret}" if caret else "")) from None
        if not report.counts()[self.case.expect]:
            raise CaseFailed(f"{self._where()}: expected {self.case.expect!r}, but no check "
                             f"had that status\n{report}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None):
        from .api import GradientMismatch

        error = excinfo.value
        if not isinstance(error, (GradientMismatch, CaseFailed)):
            return super().repr_failure(excinfo, style=style)
        # Just the message (the table), no traceback; a one-line crash message for the summary.
        representation = excinfo.getrepr(style="value", chain=False)
        crash = getattr(representation, "reprcrash", None)
        if crash is not None:
            crash.message = (_summary(error.report) if isinstance(error, GradientMismatch)
                             else str(error).splitlines()[0])
        return representation

    def _where(self) -> str:
        return f"{self.path.name}:{self.case.line}" if self.case.line else self.path.name

    def reportinfo(self):
        line = self.case.line - 1 if self.case.line else None
        # pytest turns dots of a domain that ends the node id into '::' in `-v` lines.
        name = self.case.name
        return self.path, line, name if "." not in name else f"{name} (case {self.case.index})"
