"""5. Scaling: time of a full check against the number of parameters (10, 100, 1,000,
10,000), beside ``torch.autograd.gradcheck`` in its default and its fast mode.

Two problems:

- ``sum``: f = sum_i sin(w_i * x_i), the w_i differentiated, the x_i fixed inputs. For
  gradcheck a SymPy expression built directly (its text would exceed the parser's
  10,000-character limit), checked with ``check(expr, wrt=w, at=...)``; for PyTorch
  ``torch.sin(w * x).sum()`` with w one tensor of n elements.
- ``mlp``: f(W) = sum(tanh(X @ W)) with W a (n/10, 10) weight matrix and X 8 rows of data.
  gradcheck checks it as a Python function with a tensor parameter
  (``check(f, at={"W": W})``, issue 5); until ``check`` accepts callables this case is
  reported as skipped for gradcheck.

Each gradcheck size runs in a fresh child process (warmed up on the smallest size) that
is stopped after a time limit per size (300 s; 6 s with --quick); a size whose time,
extrapolated from the sizes before it, exceeds 20x that limit is not attempted and the
prediction is reported instead. The checkers are interleaved size by size (gradcheck's
child, then torch's two modes in this process), so each ratio compares runs made seconds
apart. SymPy's cache is cleared before every timed check, so a
repeat pays what a first call pays. At a moderate size the full check is profiled (cProfile) and
the time split by phase.

Bars: growth no worse than linear, and faster than torch's default mode at 1,000
parameters. Plotted (log-log) with a slope-1 reference.
"""

from __future__ import annotations

import cProfile
import math
import pstats
from pathlib import Path
from typing import Callable

import numpy as np

from . import peers, report, timing
from .timing import clock, fmt_ratio, fmt_seconds, median

NAME = "scaling"
TITLE = "5. Scaling"
SIZES = (10, 100, 1_000, 10_000)
MLP_ROWS, MLP_OUT = 8, 10


# ------------------------------------------------------------------------------------ problems
def sum_problem(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"w": rng.uniform(-1.5, 1.5, n), "x": rng.uniform(0.2, 2.0, n)}


def mlp_problem(n: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    d = max(1, n // MLP_OUT)
    return {"W": rng.standard_normal((d, MLP_OUT)) / math.sqrt(d), "X": rng.standard_normal((MLP_ROWS, d))}


def _sympy_sum(p: dict):
    import sympy
    n = len(p["w"])
    w = sympy.symbols(f"w0:{n}", real=True)
    x = sympy.symbols(f"x0:{n}", real=True)
    expr = sympy.Add(*[sympy.sin(w[i] * x[i]) for i in range(n)])
    at = {f"w{i}": float(p["w"][i]) for i in range(n)}
    at.update({f"x{i}": float(p["x"][i]) for i in range(n)})
    return expr, [f"w{i}" for i in range(n)], at


def _clear_sympy_cache() -> None:
    try:
        from sympy.core.cache import clear_cache
        clear_cache()
    except Exception:
        pass


# ------------------------------------------------------------------------------------ runners
def gradcheck_sum(n: int) -> Callable[[], dict]:
    import gradcheck
    expr, wrt, at = _sympy_sum(sum_problem(n))

    def run() -> dict:
        _clear_sympy_cache()
        t0 = clock()
        r = gradcheck.check(expr, wrt=wrt, at=at)
        return {"seconds": clock() - t0, "ok": bool(r.ok), "skipped": dict(r.skipped),
                "notes": [str(x) for x in getattr(r, "notes", [])][:3]}

    return run


def mlp_function(X: np.ndarray) -> Callable:
    def f(W):
        return np.sum(np.tanh(X @ W))
    return f


def callables_supported() -> str | None:
    """None if ``gradcheck.check`` accepts a Python function with an array parameter, else why not."""
    import gradcheck
    try:
        r = gradcheck.check(lambda W: np.sum(np.tanh(W)), at={"W": np.array([[0.3, -0.2], [0.1, 0.5]])})
        if not hasattr(r, "ok"):
            return "check(f, at={'W': array}) returned no report"
        return None
    except Exception as error:
        return f"gradcheck.check does not accept a Python function yet (issue 5): {type(error).__name__}: {error}"


def gradcheck_mlp(n: int) -> Callable[[], dict]:
    import gradcheck
    p = mlp_problem(n)
    f = mlp_function(p["X"])

    def run() -> dict:
        t0 = clock()
        r = gradcheck.check(f, at={"W": p["W"]})
        return {"seconds": clock() - t0, "ok": bool(r.ok), "skipped": dict(r.skipped),
                "notes": [str(x) for x in getattr(r, "notes", [])][:3]}

    return run


def torch_runner(torch, case: str, n: int, fast: bool) -> Callable[[], dict]:
    if case == "sum":
        p = sum_problem(n)
        x = torch.tensor(p["x"], dtype=torch.float64)

        def f(w):
            return torch.sin(w * x).sum()

        start = p["w"]
    else:
        p = mlp_problem(n)
        X = torch.tensor(p["X"], dtype=torch.float64)

        def f(W):
            return torch.tanh(X @ W).sum()

        start = p["W"]

    def run() -> dict:
        w = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        t0 = clock()
        ok = torch.autograd.gradcheck(f, (w,), fast_mode=fast, raise_exception=False)
        return {"seconds": clock() - t0, "ok": bool(ok)}

    return run


# ------------------------------------------------------------------------------------ measuring
MAKERS = {"sum": lambda n: gradcheck_sum(n), "mlp": lambda n: gradcheck_mlp(n)}


def repeat_runs(run: Callable[[], dict], repeat: int, budget: float) -> dict:
    """Median of up to ``repeat`` runs; a slow size is run once."""
    times, oks, out = [], [], {}
    for _ in range(repeat):
        out = run()
        times.append(out["seconds"])
        oks.append(out["ok"])
        if sum(times) > budget / 8:
            break
    return {"seconds": median(times), "samples": times, "ok": all(oks), "skipped": out.get("skipped") or {},
            "notes": out.get("notes") or [], "peak_mib": out.get("peak_mib")}


def child_main(case: str, n: int, repeat: int, budget: float) -> dict:
    """In a fresh process: warm up on the smallest size (imports, SymPy's lazy imports),
    then time the check at size n."""
    MAKERS[case](SIZES[0])()
    out = repeat_runs(MAKERS[case](n), repeat, budget)
    out["peak_mib"] = peak_mib()
    return out


def peak_mib() -> float | None:
    """This process's peak resident memory (the problem, a SymPy sum of n terms, included).
    Linux's VmHWM: getrusage's ru_maxrss would carry over the parent's size through exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def in_child(case: str, repeat: int, budget: float, timeout: float) -> Callable[[int], dict]:
    """Measure gradcheck's check at one size in a child process, stopped after ``timeout``:
    a size that would take far too long costs the suite no more than that."""
    def measure(n: int) -> dict:
        got, why = timing.in_child("scaling", f"child_main({case!r}, {n}, {repeat}, {budget!r})", timeout)
        if why == "timeout":
            return {"seconds": None, "timeout": timeout, "ok": None,
                    "note": f"stopped after {fmt_seconds(timeout)} (the time limit per size)"}
        return got if why is None else {"seconds": None, "ok": None, "note": why}
    return measure


def _prediction(series: list[dict], n: int) -> float | None:
    """This size's time, extrapolated (at least linearly) from the sizes measured before."""
    known = [s for s in series if s.get("seconds") or s.get("timeout")]
    if not known:
        return None
    prev = known[-1]
    t_prev = prev.get("seconds") or prev["timeout"]
    slope = 1.0
    if len(known) >= 2:
        before = known[-2]
        t_before = before.get("seconds") or before["timeout"]
        slope = max(1.0, math.log(t_prev / t_before) / math.log(prev["n"] / before["n"]))
    return t_prev * (n / prev["n"]) ** slope


def _measure_one(measure: Callable[[int], dict], n: int) -> dict:
    try:
        return {"n": n, **measure(n)}
    except MemoryError:
        return {"n": n, "seconds": None, "ok": None, "note": "failed: out of memory"}
    except Exception as error:
        return {"n": n, "seconds": None, "ok": None, "note": f"failed: {type(error).__name__}: {error}"}


def measure_interleaved(measures: dict[str, tuple[Callable[[int], dict], list[int]]], limit: float,
                        attempt: float = 20.0) -> dict[str, list[dict]]:
    """Every checker at a size, then every checker at the next size (so a ratio compares
    runs minutes apart, not a whole series apart). A size whose predicted time exceeds
    ``attempt`` times the per-size limit is not attempted and its prediction is reported;
    later sizes are still tried (a checker may switch strategy and get faster)."""
    series: dict[str, list[dict]] = {label: [] for label in measures}
    for n in sorted({n for _, sizes in measures.values() for n in sizes}):
        for label, (measure, sizes) in measures.items():
            if n not in sizes:
                continue
            predicted = _prediction(series[label], n)
            if predicted is not None and predicted > attempt * limit:
                series[label].append({"n": n, "seconds": None, "predicted": predicted, "ok": None,
                                      "note": f"not run: predicted {fmt_seconds(predicted)}"})
                continue
            series[label].append(_measure_one(measure, n))
    return series


def slopes(series: list[dict]) -> list[tuple[int, int, float]]:
    """log-log slope between each pair of consecutive measured sizes."""
    done = [s for s in series if s.get("seconds")]
    return [(a["n"], b["n"], math.log(b["seconds"] / a["seconds"]) / math.log(b["n"] / a["n"]))
            for a, b in zip(done, done[1:])]


def growth(series: list[dict]) -> float | None:
    """The steepest of those slopes (1 = linear, 2 = quadratic)."""
    found = slopes(series)
    return max(s for _, _, s in found) if found else None


PHASES = [  # (label, file, function): cumulative time of that function; absent ones are left out
    ("symbolic source: trace, differentiate, compile (build_symbolic)", "gradcheck/symbolic.py", "build_symbolic"),
    ("· differentiate by element", "gradcheck/symbolic.py", "_differentiate"),
    ("sympy diff (every call)", "core/function.py", "diff"),
    ("sympy lambdify, compiling to NumPy (every call)", "utilities/lambdify.py", "lambdify"),
    ("· of which common subexpressions (sympy tree_cse)", "simplify/cse_main.py", "tree_cse"),
    ("numeric source (finite differences)", "gradcheck/pipeline.py", "_numeric"),
    ("tape source", "gradcheck/pipeline.py", "_tape"),
    ("choosing points", "gradcheck/points.py", "choose_points"),
]


def _where(filename: str) -> str:
    parts = Path(filename).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else filename


def profile_check(thunk: Callable[[], object], n: int) -> dict:
    """cProfile one full check; cumulative seconds by phase, and the top functions."""
    _clear_sympy_cache()
    profiler = cProfile.Profile()
    t0 = clock()
    profiler.enable()
    thunk()
    profiler.disable()
    total = clock() - t0
    stats = pstats.Stats(profiler)
    cumulative: dict[tuple[str, str], float] = {}
    for (filename, _line, function), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        key = (_where(filename), function)
        cumulative[key] = max(cumulative.get(key, 0.0), ct)
    phases = {label: cumulative[(file, function)] for label, file, function in PHASES
              if cumulative.get((file, function))}
    heaviest = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)
    top = [f"{_where(filename)}:{line}({function}) {ct:.2f} s, {calls} calls"
           for (filename, line, function), (_cc, calls, _tt, ct, _callers) in heaviest[:40]]
    return {"n": n, "seconds_profiled": total, "phases": phases, "top_cumulative": top}


def profile_sum(n: int) -> dict:
    import gradcheck
    expr, wrt, at = _sympy_sum(sum_problem(n))
    return profile_check(lambda: gradcheck.check(expr, wrt=wrt, at=at), n)


def profile_mlp(n: int) -> dict:
    import gradcheck
    p = mlp_problem(n)
    f = mlp_function(p["X"])
    return profile_check(lambda: gradcheck.check(f, at={"W": p["W"]}), n)


# ------------------------------------------------------------------------------------ the run
def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    limit = 6.0 if quick else 300.0  # seconds per size, per checker
    repeat = 1 if quick else 3
    sizes = SIZES[:2] if quick else SIZES  # --quick: 10 and 100 parameters (1,000 for torch)
    attempt = 3.0 if quick else 20.0
    series: dict[str, dict[str, list[dict]]] = {"sum": {}, "mlp": {}}
    why_not = callables_supported()
    if why_not is not None:
        result["notes"].append(f"mlp case, gradcheck: skipped: {why_not}")
    torch = peers.load("torch")
    if torch is None:
        result["notes"].append(peers.skipped("torch"))
    for case in ("sum", "mlp"):
        measures: dict[str, tuple[Callable[[int], dict], list[int]]] = {}
        if case == "sum" or why_not is None:
            measures["gradcheck check"] = (in_child(case, repeat, limit, limit), list(sizes))
        if torch is not None:
            for fast, label in ((False, "torch gradcheck (default)"), (True, "torch gradcheck (fast_mode)")):
                def measure(n, c=case, f=fast):
                    run = torch_runner(torch, c, n, f)
                    run()  # warm-up
                    return repeat_runs(run, 3, limit)
                measures[label] = (measure, list(SIZES[:3] if quick else SIZES))
        # gradcheck's per-size attempt limit applies to every checker alike
        series[case] = measure_interleaved(measures, limit, attempt)
    result["notes"].append("checkers are interleaved size by size: at each size gradcheck (in a fresh "
                           "child process) then torch's two modes, so each ratio compares runs made "
                           "seconds apart")

    rows = []
    for case, tools in series.items():
        for tool, points in tools.items():
            for s in points:
                rows.append([case, tool, s["n"], fmt_seconds(s["seconds"]) if s.get("seconds") else s.get("note", "—"),
                             {True: "pass", False: "FAIL", None: "—"}[s.get("ok")]])
    report.table(result, "Full check, seconds (median of up to 3 runs; SymPy cache cleared before each)",
                 ["problem", "checker", "parameters", "time", "verdict"], rows)
    for case, tools in series.items():
        for s in tools.get("gradcheck check", []):
            for source, why in (s.get("skipped") or {}).items():
                result["notes"].append(f"{case}, n={s['n']:,}: gradcheck skipped its {source} source ({why})")
            for note in s.get("notes") or []:
                if "random" in note or "projection" in note:
                    result["notes"].append(f"{case}, n={s['n']:,}: gradcheck's note: {note}")
    ratio_rows = []
    for case, tools in series.items():
        ours = {s["n"]: s.get("seconds") for s in tools.get("gradcheck check", [])}
        for label in ("torch gradcheck (default)", "torch gradcheck (fast_mode)"):
            theirs = {s["n"]: s.get("seconds") for s in tools.get(label, [])}
            for n in sizes:
                if ours.get(n) and theirs.get(n):
                    ratio_rows.append([case, label, n, fmt_ratio(ours[n] / theirs[n])])
    if ratio_rows:
        report.table(result, "Our time ÷ torch's (same run)", ["problem", "peer", "parameters", "ours ÷ theirs"],
                     ratio_rows)
    slope_rows = []
    for case, tools in series.items():
        for tool, points in tools.items():
            slope_rows.append([case, tool, ", ".join(f"{a:,}→{b:,}: {g:.2f}" for a, b, g in slopes(points)) or "—"])
    report.table(result, "Growth: log-log slope between consecutive sizes measured (1 = linear, 2 = quadratic)",
                 ["problem", "checker", "slopes"], slope_rows)

    for case, label in (("sum", "sum of n terms"), ("mlp", "MLP weight matrix")):
        points = series[case].get("gradcheck check")
        if points is None:
            report.bar(result, f"growth no worse than linear ({label}, 10 to 10,000 parameters)", None,
                       f"skipped: {why_not}")
            continue
        g = growth(points)
        unreached = [s for s in points if not s.get("seconds")]
        figure = f"steepest slope {g:.2f}" if g is not None else "not enough sizes measured"
        if unreached:
            figure += "; " + "; ".join(f"n={u['n']:,} {u.get('note', 'not run')}" for u in unreached)
        met = g is not None and g <= 1.15 and not unreached
        if len(sizes) < len(SIZES):
            figure += f" (--quick tries {', '.join(map(str, sizes))} parameters only)"
            met = False if (g is not None and g > 1.15) else None
        report.bar(result, f"growth no worse than linear ({label}, 10 to 10,000 parameters)", met, figure)
    if torch is not None:
        for case in series:
            ours_points = series[case].get("gradcheck check")
            if ours_points is None:
                continue
            theirs = {s["n"]: s.get("seconds") for s in series[case]["torch gradcheck (default)"]}
            mine = {s["n"]: s.get("seconds") for s in ours_points}
            ratios = {n: mine[n] / theirs[n] for n in sizes if n >= 100 and mine.get(n) and theirs.get(n)}
            met = bool(ratios) and all(r <= (0.5 if n >= 1000 else 1.0) for n, r in ratios.items())
            report.bar(result, f"at most torch's default mode at every n >= 100, at most half of it at "
                       f"n >= 1,000 ({case})", met if len(ratios) == len([n for n in sizes if n >= 100]) else
                       (False if not met and ratios else None),
                       ", ".join(f"n={n:,}: {fmt_ratio(r)}" for n, r in ratios.items()) or "not measured")
    else:
        report.bar(result, "at most torch's default mode at every n >= 100", None, peers.skipped("torch"))
    for case in series:
        big = {s["n"]: s for s in series[case].get("gradcheck check", [])}.get(10_000, {})
        if big.get("peak_mib"):
            report.bar(result, f"peak memory under 300 MiB at 10,000 parameters ({case}; the child "
                       "process, the problem included)", big["peak_mib"] < 300, f"{big['peak_mib']:.0f} MiB")
    if not quick:  # the sum at 100,000 parameters: one run (the SymPy problem takes ~40 s to build)
        huge = _measure_one(in_child("sum", 1, 60.0, 300.0), 100_000)
        series["sum"]["gradcheck check (100,000)"] = [huge]
        report.bar(result, "the sum of 100,000 terms checked in under a minute", bool(huge.get("seconds"))
                   and huge["seconds"] < 60 and bool(huge.get("ok")),
                   f"{fmt_seconds(huge.get('seconds'))}, ok: {huge.get('ok')}, peak "
                   f"{huge.get('peak_mib') or 0:.0f} MiB" if huge.get("seconds") else huge.get("note", "not run"))

    if not quick:
        profiles = {"sum": profile_sum(300)}
        if why_not is None:
            profiles["mlp"] = profile_mlp(30)
        for case, prof in profiles.items():
            total = prof["seconds_profiled"]
            report.table(result, f"Where the time goes: cProfile of one full check of the {case} problem at "
                         f"n={prof['n']} ({fmt_seconds(total)} under the profiler; phases nest, so shares "
                         "do not add up)", ["phase", "cumulative", "share"],
                         [[k, fmt_seconds(v), f"{100 * v / total:.0f}%"] for k, v in prof["phases"].items()])
            result["notes"].append(f"cProfile of the {case} problem, top functions by cumulative time: " +
                                   "; ".join(prof["top_cumulative"][:9]))
        result["data"]["profiles"] = profiles
    result["data"]["series"] = series
    _plot(result, out, series)
    return result


def _plot(result: dict, out: Path | None, series: dict) -> None:
    if out is None:
        return
    fig_ax, path = report.figure("scaling.png", out)
    if fig_ax is None:
        result["notes"].append("plots skipped: matplotlib not installed")
        return
    fig, ax = fig_ax
    styles = {"gradcheck check": "o-", "torch gradcheck (default)": "s--", "torch gradcheck (fast_mode)": "^:"}
    colors = {"sum": "C0", "mlp": "C1"}
    for case, tools in series.items():
        for tool, points in tools.items():
            done = [s for s in points if s.get("seconds")]
            if not done:
                continue
            ax.loglog([s["n"] for s in done], [s["seconds"] for s in done], styles.get(tool, "x-"),
                      color=colors[case], label=f"{tool} — {case}")
            for s in points:
                before = [d for d in done if d["n"] < s["n"]]
                if s.get("predicted") and before:
                    ax.loglog([before[-1]["n"], s["n"]], [before[-1]["seconds"], s["predicted"]],
                              linestyle=(0, (1, 3)), color=colors[case], linewidth=1)
                    ax.annotate("predicted", (s["n"], s["predicted"]), fontsize=7)
                if s.get("timeout"):
                    ax.loglog([s["n"]], [s["timeout"]], "x", color=colors[case], markersize=8)
                    ax.annotate("stopped at the limit", (s["n"], s["timeout"]), fontsize=7)
    ns = np.array(SIZES, dtype=float)
    ours = [s for s in series["sum"].get("gradcheck check", []) if s.get("seconds")]
    if ours:
        ref = ours[0]["seconds"] * ns / ours[0]["n"]
        ax.loglog(ns, ref, color="grey", linewidth=0.8, label="linear (slope 1) from our first point")
    ax.set_xlabel("parameters")
    ax.set_ylabel("seconds for a full check")
    ax.set_title("Check time vs number of parameters")
    ax.legend(fontsize=7)
    report.save(fig_ax, path, result)
