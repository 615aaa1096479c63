"""The public entry points: ``check`` and ``assert_gradients``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence, Union

from .options import check_options, check_seed
from .pipeline import run_check
from .budget import DEFAULT_TIMEOUT, Budget
from .cotangent import note as weighted_note, weighted
from .defaults import DEFAULT_ATOL, DEFAULT_POINTS, DEFAULT_RTOL, DEFAULT_SEED
from .errors import InputError
from .points import check_points
from .precision import dtype as resolve_dtype
from .problem import make_problem
from .report import Report
from .sources import prepare_claims
from .symbolic import SYMBOLIC_LIMIT

if TYPE_CHECKING:  # annotations only: sympy is imported when a check needs it
    import sympy
    from typing_extensions import TypedDict, Unpack

    class GradOptions(TypedDict, total=False):
        """check_grad's ``**options``: check's keywords but the point, the claim and order."""
        wrt: Sequence[str] | str | None
        data: Mapping[str, Any] | None
        reduce: Reduce
        points: int
        seed: int
        rtol: float
        atol: float
        method: Method
        inputs: Sequence[str] | None
        per_element: bool
        projections: int | None
        symbolic_limit: int
        timeout: float | None
        dtype: DType

    class CheckOptions(GradOptions, total=False):
        """The keyword arguments of check, for assert_gradients' ``**kwargs``."""
        at: Mapping[str, Any] | None
        claimed: Claim | None
        order: Literal[1, 2]

__all__ = ["check", "check_grad", "assert_gradients", "GradientMismatch", "DEFAULT_RTOL",
           "DEFAULT_ATOL", "Method", "Reduce", "DType", "Model", "Claim"]

Method = Literal["auto", "central", "richardson", "complex"]
Reduce = Literal["sum", "mean"]
DType = Literal["float64", "float32", "float16", "bfloat16"]
# What can be checked: text, a SymPy expression, or a Python function of named arguments.
Model = Union[str, "sympy.Basic", Callable[..., Any]]
# A claimed gradient per parameter (text, callable or value), or one gradient function.
Claim = Union[Mapping[str, Any], Callable[..., Any]]


class GradientMismatch(AssertionError):
    """Raised by assert_gradients; ``report`` holds the full Report."""

    def __init__(self, report: Report):
        super().__init__(str(report))
        self.report = report


def check(expression: Model, wrt: Sequence[str] | str | None = None,
          at: Mapping[str, Any] | None = None, *, data: Mapping[str, Any] | None = None,
          reduce: Reduce | None = None, claimed: Claim | None = None, points: int = DEFAULT_POINTS,
          seed: int = DEFAULT_SEED, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
          method: Method = "auto", inputs: Sequence[str] | None = None, per_element: bool = False,
          projections: int | None = None, symbolic_limit: int = SYMBOLIC_LIMIT,
          timeout: float | None = DEFAULT_TIMEOUT, dtype: DType = "float64",
          order: Literal[1, 2] = 1) -> Report:
    """Compute every partial derivative symbolically, on the tape and numerically; compare.

    Args:
        expression: text such as ``"w1*x**2 + w2*x + b"`` (parsed safely), a SymPy
            expression (its printed text, parsed safely), or a Python function taking
            its arguments by name, whose parameters may be arrays of any shape.
        wrt: parameters to differentiate; default every variable that is not an input
            or a data column (and, for a function, has no default).
        at: values for some or all variables; the rest get seeded values in the domain.
        data: a data set. For text, columns over whose rows the loss is the expression
            summed (``reduce="sum"``) or averaged (``"mean"``); a function gets them as
            given and its output is summed or averaged. A function with an array output
            and no data or claim (reduce left None) is checked as sum(g * output) for a
            seeded random g, which the report notes; ``reduce="sum"`` checks the plain sum.
        claimed: the user's own gradients, per parameter: text, a callable taking
            variables by name, or a value; or one gradient function (see check_grad).
        points, seed: how many seeded points, and
            the seed that makes them reproducible.
        rtol, atol: tolerances added to each source's own error bound.
        method: finite-difference scheme: ``auto`` (complex step where an expression is
            analytic, else Richardson), ``central``, ``richardson`` or ``complex``.
        inputs: variables held fixed (not differentiated).
        per_element: keep every element's values in the Report (``to_dict`` includes them).
        projections: random directions per tensor parameter instead of elements; None
            (default) uses them above 2,000 elements only.
        symbolic_limit: parameter elements above which SymPy is skipped (by default, an
            expression that is a smooth sum of 64 terms or more is differentiated by the
            shapes of its terms at any size).
        timeout: seconds the check may take (None: no limit). SymPy gets half of it; a
            source that cannot finish is skipped with the reason, points left unchecked
            are named in the notes, and the check answers with what finished.
        dtype: what the user's code runs in: the tape and callable (or value) claims run
            in float32, float16 or bfloat16 (ml_dtypes), the reference stays exact, and
            the allowed difference is a rounding bound in that dtype ("within float32
            rounding (3 ulps)", or "wrong: n times the rounding bound").
        order: 1 checks gradients; 2 checks every second derivative (see
            gradcheck.check_hessian; ``claimed`` is then the Hessian). Anything else is an
            InputError, so a Hessian check never quietly runs the gradient check.

    Raises:
        ExpressionError: the text was refused by the parser.
        InputError: a name, value, data column, claim or option is malformed.

    >>> r = check("w1*x**2 + w2*x + b", wrt=["w1", "w2", "b"],
    ...           at={"x": 2.0, "w1": 1.0, "w2": 1.0, "b": 1.0})
    >>> r.ok, r.derivatives["w1"]
    (True, 'x**2')
    """
    # anything but 1 or 2 is refused, so a Hessian check never quietly runs the gradient one
    if isinstance(order, bool) or not isinstance(order, int) or order not in (1, 2):
        raise InputError(f"order must be 1 (gradients) or 2 (Hessians), got {order!r}")
    if order == 2:  # the Hessian machinery is imported only when asked for
        return _second_order(expression, wrt, at, data=data, reduce="sum" if reduce is None else reduce, claimed=claimed,
                             points=points, seed=seed, rtol=rtol, atol=atol, method=method,
                             inputs=inputs, per_element=per_element, projections=projections,
                             symbolic_limit=symbolic_limit, timeout=timeout, dtype=dtype)
    budget = Budget(timeout)
    dt = resolve_dtype(dtype)
    check_options(rtol, atol, method)
    if not isinstance(per_element, bool):
        raise InputError(f"per_element must be True or False, got {per_element!r}")
    seed = check_seed(seed)
    seen: dict = {}
    weigh = claimed is None
    if reduce is None and data is None and _is_function(expression):
        expression, seen = weighted(expression, seed, weigh)
    problem = make_problem(expression, wrt, at, data, "sum" if reduce is None else reduce, inputs)
    count = check_points(points)
    claims = prepare_claims(claimed, problem, dt)
    report = run_check(problem, claims, count, seed, rtol, atol, method, per_element,
                       projections, symbolic_limit, budget, dt)
    report.notes += filter(None, [weighted_note(seen, seed, weigh)])
    return report


def _is_function(model: Any) -> bool:
    return callable(model) and not type(model).__module__.startswith("sympy")


def _second_order(expression: Any, wrt: Any, at: Any, *, claimed: Any, projections: Any,
                  symbolic_limit: int, dtype: Any, **options: Any) -> Report:
    from .hessian import HESSIAN_SYMBOLIC_LIMIT, check_hessian

    if resolve_dtype(dtype) != resolve_dtype("float64"):
        raise InputError("order=2 checks in float64; dtype applies to gradients (order=1)")
    if projections is not None:
        raise InputError("projections apply to gradients; for a big Hessian use "
                         "gradcheck.check_hvp (Hessian-vector products)")
    limit = HESSIAN_SYMBOLIC_LIMIT if symbolic_limit == SYMBOLIC_LIMIT else symbolic_limit
    return check_hessian(expression, claimed, wrt, at, symbolic_limit=limit, **options)


def check_grad(function: Callable[..., Any], grad_function: Callable[..., Any],
               at: Mapping[str, Any] | None = None, **options: Unpack[GradOptions]) -> Report:
    """Check a hand-written gradient function against every source that can run.

    ``grad_function`` takes the same arguments as ``function`` (by name; it may take
    fewer) and returns a dict {parameter: array}, a tuple in ``wrt`` order, or one array
    when there is one parameter. Its values become the "claimed" source.

    >>> import numpy as np
    >>> def loss(w, x):
    ...     return np.sum((w * x - 1.0) ** 2)
    >>> def grad_loss(w, x):
    ...     return np.sum(2 * x * (w * x - 1.0))
    >>> check_grad(loss, grad_loss, at={"w": 0.5, "x": [1.0, 2.0]}, inputs=["x"]).ok
    True
    """
    if not callable(grad_function):
        raise InputError(f"check_grad needs a gradient function, got {type(grad_function).__name__}")
    return check(function, options.pop("wrt", None), at, claimed=grad_function, **options)


def assert_gradients(expression: Model, *args: Any, allow_kinks: bool = False,
                     **kwargs: Unpack[CheckOptions]) -> Report:
    """``check`` that raises GradientMismatch (an AssertionError) with the report's table.

    >>> assert_gradients("(w*x - y)**2", data={"x": [1, 2], "y": [2, 4]}, claimed={"w": "2*x*(w*x - y)"}).ok
    True
    """
    report = check(expression, *args, **kwargs)
    if report.exit_code(allow_kinks) != 0:
        raise GradientMismatch(report)
    return report
