"""``check_rule``: check a backward rule as it is written, for a function of any output
shape: its VJP under seeded random cotangents (never all ones) and, for small outputs,
every row of the Jacobian; its JVP under random tangents; the dot test between them; and
the properties a rule must have (a gradient for every parameter, of the right shape and
dtype, linear in the cotangent, repeatable, leaving its inputs alone).

>>> import numpy as np
>>> f = lambda x, W: x @ W
>>> vjp = lambda g, x, W: {"x": g @ W.T, "W": x.T @ g}
>>> check_rule(f, vjp, at={"x": np.ones((2, 3)), "W": np.arange(12.0).reshape(3, 4)}).ok
True
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .budget import Budget
from .defaults import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_SEED, DEFAULT_TIMEOUT
from .errors import GradcheckError, InputError
from .options import check_options, check_seed, whole_number
from .rule_checks import Checker
from .rule_claims import Claimed, Problem, written_into
from .rule_report import RuleReport
from .rule_sources import Rule, check_output, fresh_copy

__all__ = ["check_rule", "assert_rule", "RuleMismatch"]


class RuleMismatch(AssertionError):
    """Raised by assert_rule; ``report`` holds the RuleReport."""

    def __init__(self, report: RuleReport):
        super().__init__(str(report))
        self.report = report


def _names(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) for n in names):
        raise InputError(f"{what} must be a name or a list of names, got {value!r}")
    return names


def _arguments(at: Any, wrt: Any, inputs: Any
               ) -> tuple[dict[str, Any], list[str], list[str], list[str], dict[str, np.dtype]]:
    """Copies of the arguments, the parameters, the inputs, notes on what was decided, and
    the float arguments' dtypes as given (they are checked in float64)."""
    if not isinstance(at, Mapping) or not at:
        raise InputError("at must map every argument name of f to its value, e.g. "
                         "at={'x': x, 'W': W}")
    wrt, inputs = _names(wrt, "wrt"), _names(inputs, "inputs") or []
    for n in [*(wrt or []), *inputs]:
        if n not in at:
            raise InputError(f"{n!r} is not in at (which has {', '.join(map(str, at))})")
    arguments, automatic, widened, notes = {}, [], [], []
    dtypes: dict[str, np.dtype] = {}
    for name, value in at.items():
        if not isinstance(name, str):
            raise InputError(f"argument names in at must be strings, got {name!r}")
        try:
            array = np.array(value) if not callable(value) else None
        except (TypeError, ValueError):  # a ragged list: passed as it is, an input
            array = None
        kind = array.dtype.kind if array is not None else "O"
        if name in (wrt or ()) and kind != "f":
            raise InputError(f"{name} holds {array.dtype if array is not None else 'a callable'} "
                             "values: only floating arrays can be differentiated")
        if kind == "f" and name not in inputs and (wrt is None or name in wrt):
            dtypes[name] = array.dtype
            if array.dtype != np.float64:
                widened.append(name)
            arguments[name] = array.astype(np.float64)
        else:
            # integer arrays as arrays; Python numbers and other objects as they were given
            arguments[name] = array if kind in "iub" and np.ndim(value) > 0 else fresh_copy(value)
            if kind in "iub" and name not in inputs:
                automatic.append(name)
    if widened:
        notes.append(f"{', '.join(widened)}: checked in float64 (the rule's math); gradients "
                     "returned in a lower precision are judged to that precision's rounding")
    if automatic:
        notes.append(f"{', '.join(automatic)}: integer or boolean, so inputs (not differentiated)")
    params = wrt if wrt is not None else list(dtypes)  # every float argument taken as one
    if not params:
        raise InputError("nothing to differentiate: give float arguments in at (or name them in wrt)")
    others = [n for n in arguments if n not in params]
    return arguments, params, others, notes, dtypes


def check_rule(f: Callable[..., Any], vjp: Callable[..., Any] | None = None,
               jvp: Callable[..., Any] | None = None, *, at: Mapping[str, Any],
               wrt: Sequence[str] | str | None = None, inputs: Sequence[str] | None = None,
               cotangents: int = 3, seed: int = DEFAULT_SEED, rtol: float = DEFAULT_RTOL,
               atol: float = DEFAULT_ATOL, method: str = "auto",
               timeout: float | None = DEFAULT_TIMEOUT,
               autodiff: tuple[str, Callable[[np.ndarray], np.ndarray] | None,
                               Callable[[np.ndarray], np.ndarray] | None] | None = None,
               foreign: str | None = None) -> RuleReport:
    """Check ``vjp`` (and ``jvp``) of ``f`` at ``at``; the RuleReport has a row per check.

    Args:
        f: takes its arguments by name; returns an array of any shape or a tuple of arrays.
        vjp: ``vjp(g, **arguments)``, the gradient of ``sum(g * f(...))`` for every name in
            ``wrt``: a dict, a tuple in ``wrt`` order, or one array for one name. ``g`` has
            the output's shape (a tuple of arrays for a tuple output).
        jvp: ``jvp(tangents, **arguments)``, the output's tangent for ``tangents`` (a dict
            of arrays shaped like the ``wrt`` arguments).
        at: every argument's value. Integer and boolean arrays are inputs, not parameters.
        wrt: the parameters (default: every float argument not in ``inputs``).
        inputs: float arguments that are not differentiated (labels, an upstream constant).
        cotangents: seeded random cotangents (and tangents) to try; for outputs of at most
            16 elements every row of the Jacobian is checked too.
        seed, rtol, atol, method, timeout: as in ``check``.
        autodiff: for the framework adapters, ``(name, vjp, jvp)`` of the framework's own
            differentiation of ``f``: an extra exact source (flat vectors in, flat out).
        foreign: the framework ``f`` is written in, if not NumPy (the tape and SymPy skip).
    """
    if not callable(f):
        raise InputError(f"f must be a function of named arguments, got {type(f).__name__}")
    for name, fn in (("vjp", vjp), ("jvp", jvp)):
        if fn is not None and not callable(fn):
            raise InputError(f"{name} must be a function, got {type(fn).__name__}")
    check_options(rtol, atol, method)
    seed = check_seed(seed)
    count = whole_number(cotangents, "cotangents", 1)
    budget = Budget(timeout)
    arguments, params, others, notes, dtypes = _arguments(at, wrt, inputs)
    rule = Rule(f, arguments, params, others, dtypes=dtypes)
    given = rule.copies()
    try:
        with np.errstate(all="ignore"):
            out = f(**given)
    except GradcheckError:
        raise
    except Exception as error:
        raise InputError(f"f raised {type(error).__name__} on the values in at: {error}") from None
    check_output(rule, out)
    parts = rule.outputs(out)
    rule.out_shapes, rule.is_tuple = [np.shape(p) for p in parts], isinstance(out, (tuple, list))
    claimed = Claimed(rule, vjp, jvp)
    for name in written_into(given, arguments):
        claimed.problems.append(Problem("no mutation", name, f"f wrote into its argument {name}"))
    checker = Checker(rule, claimed, count, seed, rtol, atol, method, budget, autodiff)
    if foreign:
        why = f"f runs {foreign} code, which the tape and SymPy cannot follow"
        checker.skipped.update({"symbolic": why, "tape": why, "tape forward mode": why})
    with np.errstate(all="ignore"):  # non-finite values are reported, not warned about
        rows = checker.run(rule.flat_output(out))
    settings = {"vjp": vjp is not None, "jvp": jvp is not None,
                "rtol": rtol, "atol": atol, "seed": seed, "cotangents": count,
                "method": checker.numeric_method, "timeout": budget.timeout}
    return RuleReport(getattr(f, "__qualname__", type(f).__name__), params, others,
                      rule.out_shapes, rows, checker.sources(), dict(checker.skipped),
                      notes + checker.notes, settings)


def assert_rule(f: Callable[..., Any], vjp: Callable[..., Any] | None = None,
                jvp: Callable[..., Any] | None = None, **kwargs: Any) -> RuleReport:
    """``check_rule``, raising RuleMismatch (an AssertionError) with the table on a failure."""
    report = check_rule(f, vjp, jvp, **kwargs)
    if not report.ok:
        raise RuleMismatch(report)
    return report
