"""7. Reliability: nothing a user passes runs code, crashes, hangs or comes back wrong.

Inputs, by family: hostile texts (each must be refused with one line, running nothing),
pathological but valid expressions (each must answer within its time budget), numeric
edge points (each with its one honest status), misbehaving models, threads (verdicts
equal to the single-threaded run), and a seeded fuzz of random expressions with right,
1e-6-slipped and sign-flipped claims (no false alarm, no miss).

Figures: inputs tried, code executed, tracebacks, hangs past the budget, false alarms,
misses, the worst time and the peak memory (tracemalloc) of one check.
"""

from __future__ import annotations

import concurrent.futures
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import fuzz, report

NAME = "reliability"
TITLE = "7. Reliability"
BUDGET = 5.0  # seconds: the timeout each pathological check gets
SLACK = 2.0  # a check answering later than BUDGET * SLACK hung past its budget


def hostile_texts(marker: Path) -> list[str]:
    shell = f"__import__('os').system('touch {marker}')"
    return [
        shell, f"{shell} + x", f"x + {shell}", f"exec(\"open('{marker}','w')\")",
        f"eval('1') * x", "x.__class__", "x.__class__.__bases__[0].__subclasses__()",
        "(lambda: 1)()", "[c for c in ().__class__.__bases__]", "globals()", "locals()['x']",
        "__builtins__", "x if x else x", "x; import os", "import os", "x = 1", "x := 2",
        "f'{x}'", "b'x'", "'x' * 3", "x[0]", "x(1)(2)", "x ** 10 ** 10 ** 10", "9" * 500,
        "10 ** 400 * x", "1e999 * x", "x ** (1/0)", "log(0) * x", "exp(exp(exp(10))) * x",
        "cosh(cosh(cosh(cosh(2)))) * x", "(" * 200 + "x*y" + ")" * 200 + "(1)", "-" * 3000 + "x",
        "x" * 20_000, "\0x", "x\u200b", "w\u3164 + w", "x*\u0445", "w\u00b7x", "x\u22c5w",
        "√x", "x²", "sin x", "2x", "x y", "x ^^ 2", "x // 2", "x % 2", "x @ y", "x < y",
        "x and y", "not x", "~x", "x | y", "{x}", "(x, y)", "*x", "**x", "await x", "yield x",
        "np.sin(x)", "math.exp(x)", "torch.tanh(x)", "sympy.sin(x)", "x.real", "open('f')",
        "getattr(x, 'y')", "Symbol('x')", "sympify('x')", "S('x')", "Integral(x, x)",
        "max()", "max(x)", "min(*x)", "sin(x, y)", "sin(x=1)", "Heaviside(x, y)",
        "DiracDelta(x, -1)", "DiracDelta(x, 0.5)", "_x * 2", "x.__dict__", "type(x)",
        "print(x)", "input()", "0x10 * x", "1_000 * x", "1j * x", "True * x", "None",
        "...", "x ** 2000", "tan(pi/2) * x", "x / 0", "1e-400 * x", "log10(x)", "x(w+1)",
    ]


def pathological() -> list[str]:
    names = [f"a{i}" for i in range(300)]
    return [
        "*".join(names[:100]), "*".join(names), "(" + "+".join(names) + ")**2",
        "exp(" + "+".join(names) + ")", "max(" * 99 + "x" + ", y, z, a, b, c, d, e1, f, g)" * 99,
        "**".join(["x"] * 99), "sin(" * 95 + "x" + ")" * 95,
        "+".join(f"sin(w{i}*x{i})" for i in range(600)),
        "max(w, x)*Heaviside(w - x) + abs(w*x - 1)*max(w, 2*w - 1, x)",
        "(" + "+".join(f"w{i}" for i in range(150)) + ")**3",
        "sigmoid(" * 50 + "w" + ")" * 50, "softplus(" * 50 + "w" + ")" * 50,
        "+".join(["x"] * 2800), "((((x**2)**2)**2)**2)**2 * w",
    ]


NUMERIC_EDGES = [  # (text, at, the one status it may have; "ok" also allowed)
    ("3*max(1/2, x)", {"x": 0.3}, "ok"), ("x*w", {"x": 5e-324, "w": 1.0}, "ok"),
    ("sqrt(x)", {"x": 1e-320}, "ok"), ("sqrt(x)", {"x": 1e-300}, "ok"),
    ("abs(sin(x))", {"x": float(np.pi)}, "nondifferentiable"), ("x**x", {"x": 0.0}, "undefined"),
    ("sigmoid(w)", {"w": -800.0}, "ok"), ("softplus(w)", {"w": 800.0}, "ok"),
    ("(-1)**x", {"x": 1.5}, "undefined"), ("log(w)", {"w": -1.0}, "undefined"),
    ("1/w", {"w": 0.0}, "undefined"), ("abs(w)", {"w": 0.0}, "nondifferentiable"),
    ("relu(w*x)", {"w": 0.0, "x": 2.0}, "nondifferentiable"), ("sqrt(w)", {"w": 0.0}, "undefined"),
    ("exp(w)", {"w": 710.0}, "undefined"),
    # float64 overflows in w*1e300 as written, though the product is 1e300: undefined
    ("w*1e300*x", {"w": 1e10, "x": 1e-10}, "undefined"),
    ("asin(w)", {"w": 1.0}, "undefined"), ("tan(w)", {"w": float(np.pi / 2)}, "ok"),
    ("sin(1e4*w)", {"w": 0.3}, "ok"), ("1/(w**2 - 4)", {"w": 2.000001}, "ok"),
]


def misbehaving_models() -> list[tuple[str, Callable[[], Any]]]:
    import gradcheck

    def raises(w):
        raise RuntimeError("boom")

    def mutates(W):
        W *= 2
        return np.sum(W ** 2)

    keep = np.ones(3)
    return [
        ("raises", lambda: gradcheck.check(raises, at={"w": 1.0})),
        ("returns text", lambda: gradcheck.check(lambda w: "w", at={"w": 1.0})),
        ("returns complex", lambda: gradcheck.check(lambda w: w * 1j, at={"w": 1.0})),
        ("returns None", lambda: gradcheck.check(lambda w: None, at={"w": 1.0})),
        ("returns nan", lambda: gradcheck.check(lambda w: w * np.nan, at={"w": 1.0})),
        ("mutates its input", lambda: (gradcheck.check(mutates, at={"W": keep}), keep.tolist() == [1, 1, 1])[0]),
        ("claim raises", lambda: gradcheck.check_grad(lambda w: w ** 2, raises, at={"w": 1.0})),
        ("claim wrong shape", lambda: gradcheck.check_grad(lambda W: np.sum(W ** 2), lambda W: np.ones(4), at={"W": np.ones(3)})),
        ("claim text", lambda: gradcheck.check_grad(lambda w: w ** 2, lambda w: "2*w", at={"w": 1.0})),
        ("claim complex", lambda: gradcheck.check_grad(lambda w: w ** 2, lambda w: 2j * w, at={"w": 1.0})),
        ("no arguments", lambda: gradcheck.check(lambda: 1.0)),
        ("*args", lambda: gradcheck.check(lambda *a: 1.0)),
        ("math.exp", lambda: gradcheck.check(lambda w: __import__("math").exp(w), at={"w": 1.0})),
        ("if on value", lambda: gradcheck.check(lambda w: w if w > 0 else -w, at={"w": 1.0})),
    ]


class Tally:
    def __init__(self) -> None:
        self.tried = self.tracebacks = self.hangs = self.false_alarms = self.misses = 0
        self.worst = (0.0, "")
        self.problems: list[str] = []

    def time(self, label: str, call: Callable[[], Any]) -> Any:
        """Run one input; anything but a GradcheckError escaping is a traceback."""
        import gradcheck
        self.tried += 1
        start = time.perf_counter()
        try:
            return call()
        except gradcheck.GradcheckError as error:
            if "\n" in str(error):
                self.problems.append(f"{label}: a message of more than one line")
            return error
        except Exception as error:  # a crash: the one thing that must never happen
            self.tracebacks += 1
            self.problems.append(f"{label}: {type(error).__name__}: {error}"[:200])
            return error
        finally:
            seconds = time.perf_counter() - start
            if seconds > self.worst[0]:
                self.worst = (seconds, label[:60])


def _hostile(tally: Tally, marker: Path) -> None:
    import gradcheck
    for text in hostile_texts(marker):
        out = tally.time(f"hostile {text[:40]!r}", lambda: gradcheck.check(text, timeout=BUDGET))
        if isinstance(out, gradcheck.Report) and text not in ("0x10 * x", "1_000 * x"):
            tally.problems.append(f"hostile {text[:40]!r} was accepted")


def _pathological(tally: Tally) -> list[list[Any]]:
    import gradcheck
    rows = []
    for text in pathological():
        start = time.perf_counter()
        out = tally.time(f"pathological {text[:40]!r}", lambda: gradcheck.check(text, timeout=BUDGET))
        seconds = time.perf_counter() - start
        shown = text if len(text) <= 48 else f"{text[:30]}... ({len(text):,} characters)"
        if isinstance(out, gradcheck.Report):
            rows.append([shown, f"{seconds:.2f} s", ", ".join(out.sources),
                         "; ".join(f"{k}: {v}" for k, v in out.skipped.items())[:90] or "-"])
        else:
            rows.append([shown, f"{seconds:.2f} s", "refused", str(out)[:90]])
        if seconds > BUDGET * SLACK:
            tally.hangs += 1
            tally.problems.append(f"pathological {text[:40]!r} took {time.perf_counter() - start:.1f} s")
        if isinstance(out, gradcheck.Report) and any(p.status == "mismatch" for pt in out.points for p in pt.params):
            tally.false_alarms += 1
            tally.problems.append(f"pathological {text[:40]!r}: a mismatch without a claim")
    return rows


def _edges(tally: Tally) -> None:
    import gradcheck
    for text, at, expected in NUMERIC_EDGES:
        out = tally.time(f"edge {text} at {at}", lambda: gradcheck.check(text, at=at))
        if isinstance(out, gradcheck.Report):
            found = {p.status for pt in out.points for p in pt.params}
            if not found <= {expected, "ok"} or expected not in found:
                tally.false_alarms += "mismatch" in found
                tally.problems.append(f"edge {text} at {at}: {sorted(found)}, expected {expected}")


def _models(tally: Tally) -> None:
    for label, call in misbehaving_models():
        out = tally.time(f"model {label}", call)
        if out is False:
            tally.problems.append(f"model {label}: the caller's array was changed")


def _threads(tally: Tally, checks: int) -> int:
    import gradcheck
    jobs = [("sin(w*x) + w**2", {"w": "x*cos(w*x) + 2*w"}), ("sin(w*x) + w**2", {"w": "1.000001*(x*cos(w*x) + 2*w)"}),
            ("(w*x - y)**2", {"w": "2*x*(w*x - y)"})]
    w0 = np.array([[0.3, -0.2], [0.1, 0.5]])

    def one(i: int) -> Any:
        if i % 4 == 3:
            return gradcheck.check_grad(lambda W: np.sum(np.tanh(W)), lambda W: 1 - np.tanh(W) ** 2,
                                        at={"W": w0 + i % 7}).to_dict()["points"]
        text, claim = jobs[i % 3]
        return gradcheck.check(text, claimed=claim, seed=i % 5, points=2).to_dict()["points"]

    alone = [one(i) for i in range(checks)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        together = list(pool.map(one, range(checks)))
    tally.tried += checks
    differ = sum(a != b for a, b in zip(alone, together))
    if differ:
        tally.problems.append(f"threads: {differ} of {checks} reports differ from the single-threaded run")
    return differ


def _fuzz(tally: Tally, count: int) -> None:
    import gradcheck
    for text, name, derivative in fuzz.cases(count, 2027, fuzz.WITH_KINKS):
        right = tally.time(f"fuzz {text}", lambda: gradcheck.check(text, wrt=[name], claimed={name: derivative}, points=2, seed=3))
        if not isinstance(right, gradcheck.Report):
            continue
        statuses = [p.params[0].status for p in right.points]
        if "mismatch" in statuses:
            tally.false_alarms += 1
            tally.problems.append(f"fuzz false alarm: {text} claim {derivative}")
        for wrong in (f"1.000001*({derivative})", f"-({derivative})"):
            out = tally.time(f"fuzz {text}", lambda: gradcheck.check(text, wrt=[name], claimed={name: wrong}, points=2, seed=3))
            if not isinstance(out, gradcheck.Report):
                continue
            for point, status, ref in zip(out.points, statuses, right.points):
                p = point.params[0]
                if status == "ok" and ref.params[0].symbolic not in (0, None) and p.status != "mismatch":
                    tally.misses += 1
                    tally.problems.append(f"fuzz miss: {text} claim {wrong}")


def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        marker = Path(tmp) / "executed"
        tracemalloc.start()
        _hostile(tally, marker)
        slow = _pathological(tally)
        _edges(tally)
        _models(tally)
        differ = _threads(tally, 40 if quick else 400)
        _fuzz(tally, 100 if quick else 520)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        executed = int(marker.exists())
    rows = [["inputs tried", tally.tried], ["code executed", executed],
            ["tracebacks (not a GradcheckError)", tally.tracebacks],
            [f"hangs past the budget ({BUDGET:g} s x {SLACK:g})", tally.hangs],
            ["false alarms", tally.false_alarms], ["misses", tally.misses],
            ["thread reports differing", differ],
            ["worst time of one input", f"{tally.worst[0]:.2f} s ({tally.worst[1]})"],
            ["peak traced memory", f"{peak / 2**20:.0f} MiB"]]
    report.table(result, "Every input family at once", ["figure", "value"], rows)
    report.table(result, f"Pathological but valid expressions (timeout={BUDGET:g} s each)",
                 ["expression", "seconds", "sources that answered", "skipped, and why"], slow)
    clean = not (executed or tally.tracebacks or tally.hangs or tally.false_alarms or tally.misses or differ)
    report.bar(result, "no code executed, no traceback, no hang past the budget, no false alarm, no miss",
               clean, f"{tally.tried} inputs; executed {executed}, tracebacks {tally.tracebacks}, "
               f"hangs {tally.hangs}, false alarms {tally.false_alarms}, misses {tally.misses}, "
               f"threads differing {differ}")
    result["notes"] += tally.problems[:40]
    for line in tally.problems[:40]:
        print("   ", line)
    return result
