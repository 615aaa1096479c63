"""4. Numeric accuracy: relative error of finite-difference derivatives against the
50-digit truth, over every distinct (expression, point, parameter) of the corpus.

Contenders: gradcheck's numeric source as ``check`` uses it (``method="auto"``: complex
step where the expression is analytic) and its real-step Richardson scheme, plain central
differences (h = cbrt(eps) * max(1, |x|), the textbook step), numdifftools
(``nd.Derivative``, its defaults), SciPy's ``approx_fprime`` (forward differences, the
step ``check_grad`` uses) and, where SciPy has it, ``scipy.differentiate.derivative``.
A method that returns nan or inf counts as an infinite error.

Also: the error-vs-step curve of central differences on three of the corpus' functions
(the classic V: truncation error falls with h, rounding error grows as h shrinks).

Bar: the median relative error of our finite-difference source below 1e-11.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from . import corpus, peers, report

NAME = "numeric_accuracy"
TITLE = "4. Numeric accuracy"
EPS = np.finfo(float).eps
BAR = 1e-11


def targets() -> list[dict]:
    """Distinct derivatives of the corpus: expression, point, parameter, 50-digit truth."""
    seen, out = set(), []
    for e in corpus.entries():
        for p in e.wrt:
            key = (e.expression, tuple(sorted(e.point.items())), p)
            if key in seen:
                continue
            seen.add(key)
            out.append({"id": f"{e.id.split('/')[0] if e.category != 'hard' else e.id}:{p}",
                        "expression": e.expression, "point": dict(e.point), "param": p,
                        "wrt": list(e.wrt), "hard": e.category == "hard",
                        "truth": float(corpus.derivative(e.expression, e.point, p))})
    return out


def _partial(t: dict) -> Callable[[float], float]:
    """f as a function of the one parameter, others fixed; NumPy via sympy.lambdify."""
    import sympy
    names = tuple(t["point"])
    symbols = [sympy.Symbol(n, real=True) for n in names]
    f = sympy.lambdify(symbols, corpus.sympy_parse(t["expression"], names), modules="numpy")
    index = names.index(t["param"])
    base = [float(t["point"][n]) for n in names]

    def g(x):
        args = list(base)
        args[index] = x
        with np.errstate(all="ignore"):
            return f(*args)

    return g


def central(g: Callable, x: float, h: float | None = None) -> float:
    h = np.cbrt(EPS) * max(1.0, abs(x)) if h is None else h
    return float((g(x + h) - g(x - h)) / (2 * h))


def gradcheck_estimates(group: list[dict], method: str) -> dict[str, float]:
    import gradcheck
    first = group[0]
    r = gradcheck.check(first["expression"], wrt=first["wrt"], at=first["point"], method=method)
    params = {p.name: p for p in r.points[0].params}
    return {t["param"]: (float(params[t["param"]].numeric) if params[t["param"]].numeric is not None
                         else math.nan, float(params[t["param"]].numeric_error or math.nan))
            for t in group}


def _rel(estimate: float, truth: float) -> float:
    if estimate is None or not math.isfinite(estimate):
        return math.inf
    return abs(estimate - truth) / abs(truth) if truth != 0 else abs(estimate)


def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    ts = targets()
    groups: dict[tuple, list[dict]] = {}
    for t in ts:
        groups.setdefault((t["expression"], tuple(sorted(t["point"].items()))), []).append(t)
    estimates: dict[str, list[float]] = {}
    bounds_ok: list[bool] = []
    bound_misses: list[str] = []

    def add(name: str, values: list[float]) -> None:
        estimates[name] = values

    # ours, as check() runs it, and the real-step scheme
    for method, label in (("auto", "gradcheck numeric (auto: complex step if analytic)"),
                          ("richardson", "gradcheck numeric (richardson, real steps)")):
        values = {}
        for group in groups.values():
            got = gradcheck_estimates(group, method)
            for t in group:
                value, bound = got[t["param"]]
                values[id(t)] = value
                if method == "auto":
                    held = abs(value - t["truth"]) <= bound if math.isfinite(value) else False
                    bounds_ok.append(held)
                    if not held:
                        bound_misses.append(f"{t['id']} (error {abs(value - t['truth']):.1e}, "
                                            f"bound {bound:.1e})")
        add(label, [values[id(t)] for t in ts])
    partials = [_partial(t) for t in ts]
    add("central differences, h = cbrt(eps)·max(1,|x|)",
        [central(g, float(t["point"][t["param"]])) for g, t in zip(partials, ts)])
    nd = peers.load("numdifftools")
    if nd is not None:
        vals = []
        for g, t in zip(partials, ts):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    vals.append(float(nd.Derivative(g)(float(t["point"][t["param"]]))))
                except Exception:
                    vals.append(math.nan)
        add("numdifftools Derivative (defaults)", vals)
    else:
        result["notes"].append(peers.skipped("numdifftools"))
    so = peers.load("scipy")
    if so is not None:
        vals = []
        for g, t in zip(partials, ts):
            x0 = np.array([float(t["point"][t["param"]])])
            vals.append(float(so.approx_fprime(x0, lambda v: float(g(v[0])))[0]))
        add("scipy approx_fprime (forward, as check_grad)", vals)
        try:
            from scipy.differentiate import derivative as scipy_derivative
        except ImportError:
            scipy_derivative = None
        if scipy_derivative is not None:
            vals = []
            for g, t in zip(partials, ts):
                try:
                    r = scipy_derivative(lambda v: g(v), float(t["point"][t["param"]]))
                    vals.append(float(r.df))
                except Exception:
                    vals.append(math.nan)
            add("scipy.differentiate.derivative (adaptive)", vals)
    else:
        result["notes"].append(peers.skipped("scipy"))

    rows, summary = [], {}
    hard = [t["hard"] for t in ts]
    for name, vals in estimates.items():
        errors = [_rel(v, t["truth"]) for v, t in zip(vals, ts)]
        ordinary = [e for e, h in zip(errors, hard) if not h]
        tough = [e for e, h in zip(errors, hard) if h]
        worst_i = int(np.argmax([e if math.isfinite(e) else 1e300 for e in errors]))
        summary[name] = {"median": float(np.median(errors)), "worst": max(errors),
                         "worst_target": ts[worst_i]["id"], "errors": errors}
        rows.append([name, float(np.median(errors)), max(errors), ts[worst_i]["id"],
                     float(np.median(ordinary)) if ordinary else None,
                     float(np.median(tough)) if tough else None,
                     sum(e < 1e-8 for e in errors)])
    report.table(result, f"Relative error against the 50-digit truth over {len(ts)} derivatives "
                 f"({sum(hard)} from the hard cases)",
                 ["method", "median", "worst", "worst at", "median (ordinary)", "median (hard)",
                  "within 1e-8"], rows)
    ours = summary["gradcheck numeric (auto: complex step if analytic)"]
    plain = summary["central differences, h = cbrt(eps)·max(1,|x|)"]
    report.bar(result, f"median relative error of our finite-difference source < {BAR:g}",
               ours["median"] < BAR,
               f"median {ours['median']:.1e} (worst {ours['worst']:.1e}); plain central differences "
               f"{plain['median']:.1e}, i.e. {plain['median'] / max(ours['median'], 1e-300):.1e}x ours")
    result["notes"].append(f"our error bound held (|estimate - truth| <= the reported numeric_error) "
                           f"for {sum(bounds_ok)} of {len(bounds_ok)} derivatives"
                           + (f"; it was too small at {', '.join(bound_misses)}" if bound_misses else ""))
    rich = summary["gradcheck numeric (richardson, real steps)"]
    result["notes"].append(f"the real-step Richardson scheme (used where the expression has kinks): "
                           f"median {rich['median']:.1e}, worst {rich['worst']:.1e}")
    _plot_error_vs_step(result, out, ts)
    result["data"] = {"targets": [{k: v for k, v in t.items() if k != "wrt"} for t in ts],
                      "summary": summary}
    return result


STEP_CASES = ("hard/sin-1e4:w", "hard/pole:w", "sin:w", "hard/exp-50:w")


def _plot_error_vs_step(result: dict, out: Path | None, ts: list[dict]) -> None:
    chosen = [t for t in ts if t["id"] in STEP_CASES]
    steps = np.logspace(-1, -15, 71)
    curves = {}
    for t in chosen:
        g = _partial(t)
        x = float(t["point"][t["param"]])
        curves[t["id"]] = [_rel(central(g, x, h), t["truth"]) for h in steps]
    ours = {t["id"]: _rel(gradcheck_estimates([t], "auto")[t["param"]][0], t["truth"]) for t in chosen}
    result["data"]["error_vs_step"] = {"steps": steps.tolist(), "central": curves, "gradcheck": ours}
    if out is None:
        return
    fig_ax, path = report.figure("error_vs_step.png", out)
    if fig_ax is None:
        result["notes"].append("plots skipped: matplotlib not installed")
        return
    fig, ax = fig_ax
    floor = 1e-17
    for k, (name, errs) in enumerate(curves.items()):
        color = f"C{k}"
        t = next(t for t in chosen if t["id"] == name)
        label = f"{t['expression']} at {t['param']}={t['point'][t['param']]:g}"
        ax.loglog(steps, [max(e, floor) if math.isfinite(e) else 1e3 for e in errs], color=color, label=label)
        ax.axhline(max(ours[name], floor), color=color, linestyle="--", linewidth=1)
    ax.axvline(np.cbrt(EPS), color="grey", linestyle=":", linewidth=1)
    ax.text(np.cbrt(EPS), 1e-16, " cbrt(eps)", color="grey", fontsize=8)
    ax.set_xlabel("step h of the central difference")
    ax.set_ylabel("relative error vs 50-digit truth")
    ax.set_title("Central differences: error vs step (dashed: gradcheck's numeric source)")
    ax.set_ylim(floor / 2, 1e3)
    ax.legend(fontsize=8, loc="upper left")
    report.save(fig_ax, path, result)
