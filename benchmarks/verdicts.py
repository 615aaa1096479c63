"""3. Verdict quality: every claim of the public corpus (``corpus.py`` / ``corpus.json``)
judged by gradcheck and by the checkers people use today, each with its defaults:

- gradcheck: ``gradcheck.check(expr, wrt=, at=, claimed=)``; flagged iff ``not report.ok``.
- PyTorch: ``torch.autograd.gradcheck`` (defaults: eps 1e-6, atol 1e-5, rtol 1e-3) on a
  custom ``autograd.Function`` whose forward is the expression and whose backward returns
  the claim; flagged iff it returns False.
- JAX: ``jax.test_util.check_grads(f, (p,), order=1, modes=["rev"])`` on a ``custom_vjp``
  whose bwd returns the claim (x64 enabled); flagged iff it raises AssertionError.
- autograd: ``autograd.test_util.check_grads(f, modes=["rev"], order=1)`` on a
  ``primitive`` whose VJP returns the claim; flagged iff it raises AssertionError.
- SciPy: ``scipy.optimize.check_grad(f, g, p)`` (forward differences, step sqrt(eps));
  it returns a number, not a verdict. We flag when it exceeds ``1e-6 * max(1, |g|)``: the
  absolute 1e-6 that SciPy's documentation example and most tutorials compare against,
  made relative for gradients larger than 1 (else every large gradient would fail).
- numdifftools: ``nd.Gradient(f)(p)`` compared with the claim by ``np.allclose`` (its
  defaults, rtol 1e-5, atol 1e-8); flagged iff not close.

Peers evaluate the expression and the claim through ``sympy.lambdify`` with their own
math module (torch, jax.numpy, autograd.numpy, numpy), never by evaluating raw text.
A peer that raises on a claim counts as flagging it (it did not pass it) and the error
is counted separately.

Bar: gradcheck flags every wrong claim, the 1e-6 slips included, with no false alarm.
"""

from __future__ import annotations

import gc
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import corpus, peers, report, timing

NAME = "verdicts"
TITLE = "3. Verdict quality"
SCIPY_ABS = 1e-6


# ------------------------------------------------------------------------------------ a case
class Case:
    """One corpus entry turned into SymPy objects shared by every peer adapter."""

    def __init__(self, entry: corpus.Entry):
        import sympy
        self.entry = entry
        names = tuple(entry.point)
        self.symbols = [sympy.Symbol(n, real=True) for n in names]
        self.wrt = list(entry.wrt)
        self.fixed = {n: float(v) for n, v in entry.point.items() if n not in entry.wrt}
        self.p0 = np.array([float(entry.point[w]) for w in self.wrt])
        self.f = _constants_to_floats(corpus.sympy_parse(entry.expression, names))
        self.claims = [_constants_to_floats(corpus.sympy_parse(entry.claim[w], names)) for w in self.wrt]

    def lambdify(self, modules) -> tuple[Callable, list[Callable]]:
        import sympy
        f = sympy.lambdify(self.symbols, self.f, modules=modules)
        return f, [sympy.lambdify(self.symbols, c, modules=modules) for c in self.claims]

    def arguments(self, p, constant: Callable[[float], Any] = float) -> list:
        """Positional arguments in symbol order: parameters from ``p``, the rest fixed."""
        index = {w: i for i, w in enumerate(self.wrt)}
        return [p[index[s.name]] if s.name in index else constant(self.fixed[s.name]) for s in self.symbols]


def _constants_to_floats(expr):
    """Constant subexpressions (pi, sqrt(2), exp(-40)) become floats, so that torch.exp
    and friends, which refuse Python numbers, never see them."""
    import sympy
    return expr.replace(lambda e: isinstance(e, sympy.Expr) and e.is_number and not e.is_Number,
                        lambda e: sympy.Float(e.evalf(30), 30))


# ------------------------------------------------------------------------------------ judges
def judge_gradcheck() -> Callable[[Case], tuple[bool, str]]:
    import gradcheck

    def judge(case: Case) -> tuple[bool, str]:
        e = case.entry
        r = gradcheck.check(e.expression, wrt=list(e.wrt), at=dict(e.point), claimed=dict(e.claim))
        params = r.points[0].params
        detail = "; ".join(f"{p.name}: {p.status}" + (f" (culprit {p.culprit})" if p.culprit else "")
                           for p in params)
        return (not r.ok), detail

    return judge


def judge_torch(torch, dtype: str = "float64", factor: float = 1.0) -> Callable[[Case], tuple[bool, str]]:
    """torch.autograd.gradcheck on an autograd.Function whose backward is the claim (times
    ``factor``), everything in ``dtype``."""
    def judge(case: Case) -> tuple[bool, str]:
        return torch_check(torch, case, dtype, factor)()

    return judge


def torch_check(torch, case: Case, dtype: str = "float64", factor: float = 1.0
                ) -> Callable[[], tuple[bool, str]]:
    """The check of ``judge_torch`` with its functions built (by sympy.lambdify): calling
    it runs torch.autograd.gradcheck and nothing else."""
    dt = getattr(torch, dtype)
    f, claims = case.lambdify("torch")

    def t(x):
        return x if isinstance(x, torch.Tensor) else torch.tensor(float(x), dtype=dt)

    def const(v):
        return torch.tensor(v, dtype=dt)

    class Claimed(torch.autograd.Function):
        @staticmethod
        def forward(ctx, p):
            ctx.save_for_backward(p)
            return t(f(*case.arguments(p, const)))

        @staticmethod
        def backward(ctx, g):
            (p,) = ctx.saved_tensors
            args = case.arguments(p, const)
            return g * torch.stack([t(c(*args)).reshape(()) for c in claims]) * factor

    def check() -> tuple[bool, str]:
        p0 = torch.tensor(case.p0, dtype=dt, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ok = torch.autograd.gradcheck(Claimed.apply, (p0,), raise_exception=False)
        return (not ok), "gradcheck returned " + str(bool(ok))

    return check


def judge_jax(jax, dtype: str = "float64", factor: float = 1.0) -> Callable[[Case], tuple[bool, str]]:
    """jax.test_util.check_grads on a custom_vjp whose bwd is the claim (times ``factor``),
    in ``dtype`` (x64 is enabled, so float64 stays float64)."""
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax.test_util import check_grads
    dt = getattr(jnp, dtype)

    def judge(case: Case) -> tuple[bool, str]:
        f, claims = case.lambdify("jax")

        def args(p):
            return case.arguments(p, lambda v: jnp.asarray(v, dtype=dt))

        @jax.custom_vjp
        def F(p):
            return jnp.asarray(f(*args(p)), dtype=dt)

        def fwd(p):
            return F(p), p

        def bwd(p, g):
            a = args(p)
            return (g * jnp.stack([jnp.asarray(c(*a), dtype=dt).reshape(()) for c in claims]) * factor,)

        F.defvjp(fwd, bwd)
        try:
            check_grads(F, (jnp.asarray(case.p0, dtype=dt),), order=1, modes=["rev"])
        except AssertionError as error:
            return True, str(error).strip().splitlines()[0][:120] if str(error).strip() else "AssertionError"
        return False, "passed"

    return judge


def judge_autograd(autograd) -> Callable[[Case], tuple[bool, str]]:
    import autograd.numpy as anp
    from autograd.extend import defvjp, primitive
    from autograd.test_util import check_grads

    names = ["sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "arcsin", "arccos",
             "arctan", "abs", "power", "pi"]
    namespace = {n: getattr(anp, n) for n in names if hasattr(anp, n)}

    def judge(case: Case) -> tuple[bool, str]:
        f, claims = case.lambdify([namespace, "numpy"])

        @primitive
        def F(p):
            return f(*case.arguments(p))

        def vjp(ans, p):
            a = case.arguments(p)
            return lambda g: g * np.array([float(c(*a)) for c in claims])

        defvjp(F, vjp)
        np.random.seed(0)  # check_vjp draws its random directions from NumPy's global state
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                check_grads(F, modes=["rev"], order=1)(np.array(case.p0))
        except AssertionError as error:
            return True, str(error).strip().splitlines()[0][:120] if str(error).strip() else "AssertionError"
        return False, "passed"

    return judge


def judge_scipy(scipy_optimize) -> Callable[[Case], tuple[bool, str]]:
    def judge(case: Case) -> tuple[bool, str]:
        f, claims = case.lambdify("numpy")

        def func(p):
            return float(f(*case.arguments(p)))

        def grad(p):
            a = case.arguments(p)
            return np.array([float(c(*a)) for c in claims])

        with np.errstate(all="ignore"):
            err = float(scipy_optimize.check_grad(func, grad, case.p0.copy()))
        limit = SCIPY_ABS * max(1.0, float(np.linalg.norm(grad(case.p0))))
        return (not err <= limit), f"check_grad = {err:.3g} (limit {limit:.3g})"

    return judge


def judge_numdifftools(nd) -> Callable[[Case], tuple[bool, str]]:
    def judge(case: Case) -> tuple[bool, str]:
        f, claims = case.lambdify("numpy")

        def func(p):
            return float(f(*case.arguments(np.atleast_1d(p))))

        a = case.arguments(case.p0)
        claim = np.array([float(c(*a)) for c in claims])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            num = np.atleast_1d(np.asarray(nd.Gradient(func)(case.p0.copy()), dtype=float)).reshape(claim.shape)
        close = bool(np.allclose(num, claim))
        return (not close), f"numdifftools {num.tolist()} vs claim {claim.tolist()}"

    return judge


JUDGES: list[tuple[str, str | None, Callable]] = [
    ("gradcheck", None, lambda _: judge_gradcheck()),
    ("torch.autograd.gradcheck", "torch", judge_torch),
    ("jax check_grads", "jax", judge_jax),
    ("autograd check_grads", "autograd", judge_autograd),
    ("scipy check_grad", "scipy", judge_scipy),
    ("numdifftools", "numdifftools", judge_numdifftools),
]


# ------------------------------------------------------------------------------------ the run
def claim_times(cases: list[Case], torch, rounds: int) -> dict[str, float]:
    """Seconds per claim, gradcheck and torch.autograd.gradcheck interleaved claim by claim.
    Each round is a fresh session over the corpus, in its order: SymPy's cache is cleared
    when it starts, so a check reuses only what earlier claims of this round left there,
    as in a test run. gradcheck starts from the claim's text; torch gets functions built
    beforehand (only its check is timed). Each claim's median over the rounds."""
    from sympy.core.cache import clear_cache
    judge = judge_gradcheck()
    checks = [torch_check(torch, case) for case in cases]
    checks[0]()  # torch's first call in a process initialises it
    ours: list[list[float]] = [[] for _ in cases]
    theirs: list[list[float]] = [[] for _ in cases]
    enabled = gc.isenabled()
    gc.disable()  # as timeit; collected between claims, outside the clock
    try:
        for _ in range(rounds):
            clear_cache()
            for k, case in enumerate(cases):
                for run, out in ((lambda: judge(case), ours[k]), (checks[k], theirs[k])):
                    start = timing.clock()
                    run()
                    out.append(timing.clock() - start)
                if k % 16 == 15:
                    gc.collect()
    finally:
        if enabled:
            gc.enable()
    ours_k, theirs_k = [timing.median(v) for v in ours], [timing.median(v) for v in theirs]
    return {"gradcheck": sum(ours_k) / len(cases), "torch": sum(theirs_k) / len(cases),
            "median_ratio": timing.median([a / b for a, b in zip(ours_k, theirs_k)])}


def judge_all(cases: list[Case], judge: Callable) -> tuple[list[dict], float]:
    out = []
    start = time.perf_counter()
    for case in cases:
        try:
            flagged, detail = judge(case)
            error = None
        except Exception as exc:  # a peer that chokes on a claim did not pass it
            flagged, detail, error = True, "", f"{type(exc).__name__}: {exc}"[:200]
        out.append({"id": case.entry.id, "flagged": bool(flagged), "error": error, "detail": detail})
    return out, time.perf_counter() - start


def confusion(cases: list[Case], verdicts: list[dict]) -> dict[str, int]:
    m = {"caught": 0, "missed": 0, "false_alarm": 0, "passed": 0, "errors": 0}
    for case, v in zip(cases, verdicts):
        wrong = case.entry.label == "wrong"
        if v["error"]:
            m["errors"] += 1
        if wrong:
            m["caught" if v["flagged"] else "missed"] += 1
        else:
            m["false_alarm" if v["flagged"] else "passed"] += 1
    return m


def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    entries = corpus.entries()
    mislabelled = corpus.check_labels(entries)
    if mislabelled:
        result["notes"] += ["corpus label disagrees with the 50-digit truth: " + m for m in mislabelled]
    cases = [Case(e) for e in entries]
    n_wrong = sum(e.label == "wrong" for e in entries)
    columns = ["checker", "wrong claims caught", "missed", "false alarms", "correct passed",
               "errors", "seconds"]
    rows, by_tool, kinds = [], {}, sorted({e.mistake or "none" for e in entries}, key=lambda k: (k == "none", k))
    for label, peer, make in JUDGES:
        module = None
        if peer is not None:
            module = peers.load(peer)
            if module is None:
                rows.append([label, peers.skipped(peer), None, None, None, None, None])
                continue
        try:
            judge = make(module)
        except Exception as error:
            rows.append([label, f"skipped: set-up failed ({type(error).__name__}: {error})", None, None, None, None, None])
            traceback.print_exc()
            continue
        verdicts, seconds = judge_all(cases, judge)
        m = confusion(cases, verdicts)
        by_tool[label] = {"confusion": m, "verdicts": verdicts, "seconds": seconds}
        rows.append([label, f"{m['caught']} / {n_wrong}", m["missed"], m["false_alarm"],
                     f"{m['passed']} / {len(entries) - n_wrong}", m["errors"], round(seconds, 1)])
        print(f"   {label}: caught {m['caught']}/{n_wrong}, false alarms {m['false_alarm']}, "
              f"errors {m['errors']} ({seconds:.1f} s)", flush=True)
    report.table(result, f"Confusion matrix over {len(entries)} claims ({n_wrong} wrong, "
                 f"{len(entries) - n_wrong} correct; truth: SymPy + mpmath at 50 digits)", columns, rows)
    # detection by mistake kind, and false alarms by category
    kind_rows = []
    for kind in kinds:
        idx = [i for i, e in enumerate(entries) if (e.mistake or "none") == kind]
        row = [kind if kind != "none" else "none (correct: share passed)", len(idx)]
        for label in by_tool:
            vs = by_tool[label]["verdicts"]
            hits = sum(vs[i]["flagged"] for i in idx)
            row.append(f"{len(idx) - hits}/{len(idx)}" if kind == "none" else f"{hits}/{len(idx)}")
        kind_rows.append(row)
    report.table(result, "Wrong claims flagged, by mistake kind (last row: correct claims passed)",
                 ["mistake", "claims", *by_tool], kind_rows)
    cat_rows = []
    for category in ("realistic", "several", "slip", "hard"):
        idx = [i for i, e in enumerate(entries) if e.category == category]
        wrong_idx = [i for i in idx if entries[i].label == "wrong"]
        right_idx = [i for i in idx if entries[i].label == "correct"]
        row = [category, f"{len(wrong_idx)} wrong, {len(right_idx)} correct"]
        for label in by_tool:
            vs = by_tool[label]["verdicts"]
            row.append(f"{sum(vs[i]['flagged'] for i in wrong_idx)} caught, "
                       f"{sum(vs[i]['flagged'] for i in right_idx)} false")
        cat_rows.append(row)
    report.table(result, "By category", ["category", "claims", *by_tool], cat_rows)
    # the claims each peer got wrong, named (the evidence behind the counts)
    for label, data in by_tool.items():
        missed = [case.entry.id for case, v in zip(cases, data["verdicts"])
                  if case.entry.label == "wrong" and not v["flagged"]]
        alarms = [case.entry.id + (" (error)" if v["error"] else "")
                  for case, v in zip(cases, data["verdicts"])
                  if case.entry.label == "correct" and v["flagged"]]
        if missed or alarms:
            result["notes"].append(f"{label}: missed {len(missed)}" + (f" ({', '.join(missed)})" if missed else "")
                                   + f"; false alarms {len(alarms)}" + (f" ({', '.join(alarms)})" if alarms else ""))
    ours = by_tool.get("gradcheck")
    if ours:
        m = ours["confusion"]
        slips = [i for i, e in enumerate(entries) if e.mistake == "slip-1e-6"]
        caught_slips = sum(ours["verdicts"][i]["flagged"] for i in slips)
        report.bar(result, "gradcheck flags every wrong claim (1e-6 slips included)", m["missed"] == 0,
                   f"{m['caught']}/{n_wrong} caught; 1e-6 slips {caught_slips}/{len(slips)}")
        report.bar(result, "gradcheck raises no false alarm", m["false_alarm"] == 0,
                   f"{m['false_alarm']} false alarms on {len(entries) - n_wrong} correct claims")
        blamed = sum(1 for case, v in zip(cases, ours["verdicts"])
                     if case.entry.label == "wrong" and v["flagged"]
                     and all(f"{p}: mismatch (culprit claimed)" in v["detail"] for p in case.entry.wrong_params))
        result["notes"].append(f"gradcheck named the claim as the culprit for the wrong parameter in "
                               f"{blamed} of {m['caught']} caught claims")
    torch = peers.load("torch")
    if ours and torch is not None:
        times = claim_times(cases, torch, rounds=1 if quick else 3)
        ratio = times["gradcheck"] / times["torch"]
        report.bar(result, "a check costs at most 2x torch.autograd.gradcheck (default mode) per claim",
                   ratio <= 2.0, f"{timing.fmt_seconds(times['gradcheck'])} vs "
                   f"{timing.fmt_seconds(times['torch'])} per claim: {ratio:.2f}x "
                   f"(median over claims {times['median_ratio']:.2f}x)")
        result["data_times"] = times
    result["notes"].append(f"scipy check_grad threshold: {SCIPY_ABS:g} * max(1, |claimed gradient|)")
    result["data"] = {"tools": {k: {"confusion": v["confusion"], "seconds": v["seconds"],
                                    "verdicts": v["verdicts"]} for k, v in by_tool.items()},
                      "corpus_size": len(entries), "wrong": n_wrong}
    return result
