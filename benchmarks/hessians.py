"""7. Hessian checks: a public corpus of claimed Hessians judged by gradcheck.check_hessian
(and check_hvp), and a 10,000-deep chain differentiated twice.

The corpus (``FUNCTIONS`` and ``matrix_cases`` below): for each function, the right
Hessian in two algebraic forms other than SymPy's, and the usual slips, each changing
one entry (and its mirror): a missing cross term, a factor 2 on the diagonal, a sign, a
relative 1e-6 slip; with vector and matrix parameters, a transposed block, a Hessian laid
out in the wrong (column-major) order, and Hessian-vector products. Text claims are per
pair ``(p, q)``, one pair standing for its mirror. Every label is checked against SymPy's
Hessian at 50 digits (mpmath) before gradcheck judges it.

Bar: every wrong claim caught (``not report.ok`` with the claim blamed), no right one
flagged; the 10,000-deep chain (tape twice, finite differences of the tape's gradient)
agrees with an independent second-order forward propagation, under a recursion limit
of 400 (so nothing recurses per level).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import report

NAME = "hessians"
TITLE = "7. Hessian checks"

# id, expression, point, right Hessian (upper triangle, SymPy's form avoided), a second
# right form, and the missing-cross-term slip (pair, text).
FUNCTIONS: list[dict[str, Any]] = [
    {"id": "exp-mix", "f": "exp(w1*w2) + w1**3*b + sin(b*w2)", "at": {"w1": 0.7, "w2": -1.3, "b": 0.4},
     "right": {("w1", "w1"): "w2*w2*exp(w1*w2) + 6*b*w1", ("w1", "w2"): "exp(w1*w2)*(1 + w1*w2)",
               ("w1", "b"): "3*w1^2", ("w2", "w2"): "w1**2*exp(w2*w1) - b*b*sin(b*w2)",
               ("w2", "b"): "cos(b*w2) - w2*b*sin(w2*b)", ("b", "b"): "-(w2**2)*sin(w2*b)"},
     "also": {("w1", "w2"): "exp(w1*w2) + w1*w2*exp(w1*w2)", ("b", "b"): "-w2*w2*sin(b*w2)"},
     "cross": (("w1", "w2"), "exp(w1*w2)")},
    {"id": "softplus", "f": "log(1 + exp(a*x + c))", "at": {"a": 0.8, "c": -0.3, "x": 1.7},
     "right": {("a", "a"): "x**2*sigmoid(a*x + c)*(1 - sigmoid(a*x + c))",
               ("a", "c"): "x*sigmoid(a*x + c)*(1 - sigmoid(a*x + c))",
               ("c", "c"): "sigmoid(a*x + c)*(1 - sigmoid(a*x + c))"},
     "also": {("a", "c"): "x*exp(a*x + c)/(1 + exp(a*x + c))**2",
              ("c", "c"): "exp(-(a*x + c))/(1 + exp(-(a*x + c)))**2"},
     "cross": (("a", "c"), "0")},
    {"id": "poly", "f": "u**2*v**3 - 3*u*v", "at": {"u": 1.4, "v": -0.6},
     "right": {("u", "u"): "2*v^3", ("u", "v"): "6*u*v**2 - 3", ("v", "v"): "6*u**2*v"},
     "also": {("u", "v"): "3*(2*u*v*v - 1)", ("v", "v"): "u*u*v*6"},
     "cross": (("u", "v"), "6*u*v**2")},
    {"id": "tanh-product", "f": "tanh(u*v)", "at": {"u": 0.9, "v": 0.5},
     "right": {("u", "u"): "-2*v**2*tanh(u*v)*(1 - tanh(u*v)**2)",
               ("u", "v"): "(1 - tanh(u*v)**2)*(1 - 2*u*v*tanh(u*v))",
               ("v", "v"): "-2*u**2*tanh(u*v)*(1 - tanh(u*v)**2)"},
     "also": {("u", "v"): "1/cosh(u*v)**2 - 2*u*v*tanh(u*v)/cosh(u*v)**2",
              ("u", "u"): "-2*v*v*sinh(u*v)/cosh(u*v)**3"},
     "cross": (("u", "v"), "1 - tanh(u*v)**2")},
    {"id": "norm", "f": "sqrt(p**2 + q**2)", "at": {"p": 1.2, "q": -0.7},
     "right": {("p", "p"): "q**2/(p**2 + q**2)**1.5", ("p", "q"): "-p*q/(p*p + q*q)**(3/2)",
               ("q", "q"): "p**2/sqrt(p**2 + q**2)**3"},
     "also": {("p", "p"): "(1 - p**2/(p**2 + q**2))/sqrt(p**2 + q**2)",
              ("p", "q"): "-p*q*(p**2 + q**2)**(-1.5)"},
     "cross": (("p", "q"), "0")},
    {"id": "trig", "f": "sin(a)*cos(b) + a*b**2", "at": {"a": 0.3, "b": 2.1},
     "right": {("a", "a"): "-sin(a)*cos(b)", ("a", "b"): "2*b - cos(a)*sin(b)", ("b", "b"): "2*a - sin(a)*cos(b)"},
     "also": {("a", "b"): "-(cos(a)*sin(b) - 2*b)", ("b", "b"): "a + a - cos(b)*sin(a)"},
     "cross": (("a", "b"), "-cos(a)*sin(b)")},
    {"id": "rational", "f": "1/(1 + p*q)", "at": {"p": 0.6, "q": 1.1},
     "right": {("p", "p"): "2*q**2/(1 + p*q)**3", ("p", "q"): "(p*q - 1)/(1 + p*q)**3",
               ("q", "q"): "2*p**2/(1 + p*q)**3"},
     "also": {("p", "q"): "2*p*q/(1 + p*q)**3 - 1/(1 + p*q)**2", ("q", "q"): "2*p*p*(1 + p*q)**(-3)"},
     "cross": (("p", "q"), "-1/(1 + p*q)**2")},
    {"id": "logistic-loss", "f": "-y*log(sigmoid(w*x + b)) - (1 - y)*log(1 - sigmoid(w*x + b))",
     "at": {"w": 0.4, "b": -0.2, "x": 1.5, "y": 1.0}, "wrt": ["w", "b"],
     "right": {("w", "w"): "x**2*sigmoid(w*x + b)*(1 - sigmoid(w*x + b))",
               ("w", "b"): "x*sigmoid(w*x + b)*sigmoid(-(w*x + b))",
               ("b", "b"): "sigmoid(w*x + b)*(1 - sigmoid(w*x + b))"},
     "also": {("w", "w"): "x*x*sigmoid(w*x + b)*sigmoid(-w*x - b)",
              ("b", "b"): "exp(w*x + b)/(1 + exp(w*x + b))**2"},
     "cross": (("w", "b"), "sigmoid(w*x + b)*(1 - sigmoid(w*x + b))")},
]


def _wrt(spec: dict) -> list[str]:
    return spec.get("wrt") or list(spec["at"])


def text_entries() -> list[dict[str, Any]]:
    """Every text claim of the corpus with its label ("right" or "wrong") and slip kind."""
    out = []
    for spec in FUNCTIONS:
        base = dict(spec["right"])
        def entry(kind: str, claim: dict, label: str) -> dict:
            return {"id": f"{spec['id']}/{kind}", "f": spec["f"], "at": spec["at"], "wrt": _wrt(spec),
                    "claim": claim, "label": label, "kind": kind}
        out.append(entry("right", base, "right"))
        out.append(entry("right, other form", {**base, **spec["also"]}, "right"))
        diagonal = next(k for k in base if k[0] == k[1])
        off = next(k for k in base if k[0] != k[1])
        first = next(iter(base))
        slips = {"missing cross term": {spec["cross"][0]: spec["cross"][1]},
                 "factor 2 on the diagonal": {diagonal: f"2*({base[diagonal]})"},
                 "sign": {off: f"-({base[off]})"},
                 "relative 1e-6": {first: f"({base[first]})*(1 + 1e-6)"}}
        out += [entry(kind, {**base, **change}, "wrong") for kind, change in slips.items()]
    return out


def check_labels(entries: list[dict]) -> list[str]:
    """Entries whose label disagrees with SymPy's Hessian at 50 digits."""
    import sympy
    bad = []
    for e in entries:
        names = list(e["at"])
        symbols = {n: sympy.Symbol(n) for n in names}
        local = {**symbols, "sigmoid": lambda z: 1 / (1 + sympy.exp(-z))}
        f = sympy.sympify(e["f"], locals=local)
        subs = {symbols[n]: sympy.Float(repr(v), 60) for n, v in e["at"].items()}
        differs = False
        for (p, q), text in e["claim"].items():
            truth = sympy.diff(f, symbols[p], symbols[q]).evalf(50, subs=subs)
            claim = sympy.sympify(text.replace("^", "**"), locals=local).evalf(50, subs=subs)
            differs |= abs(truth - claim) > 1e-30 * max(1, abs(truth))
        if differs != (e["label"] == "wrong"):
            bad.append(e["id"])
    return bad


# ------------------------------------------------------------------ matrix, tensor and H v claims

_M = np.array([[1.0, 2.0], [-3.0, 0.5]])
_AC = {"a": np.array([0.3, -0.8]), "c": np.array([1.1, 0.6])}


def _bilinear(a, c):
    return np.sum(a * (_M @ c)) + np.sum(a ** 2 * c)


def _bilinear_hessian() -> np.ndarray:
    a, c = _AC["a"], _AC["c"]
    cross = _M + np.diag(2 * a)
    return np.block([[np.diag(2 * c), cross], [cross.T, np.zeros((2, 2))]])


def _layer(W, x):
    return np.sum(np.tanh(W @ x))


_LAYER = {"W": np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]), "x": np.array([0.5, -1.0, 2.0])}


def _layer_hessian(W, x, order: str = "C") -> np.ndarray:
    a = np.tanh(W @ x)
    m, n = W.shape
    h = np.zeros((m, n, m, n))
    for i in range(m):
        h[i, :, i, :] = -2 * a[i] * (1 - a[i] ** 2) * np.outer(x, x)
    if order == "F":  # the flat vector read column-major: a layout slip
        h = h.transpose(1, 0, 3, 2)
    return h.reshape(m * n, m * n)


def _layer_hvp(v, W, x):
    a = np.tanh(W @ x)
    return ((-2 * a * (1 - a ** 2) * (v.reshape(W.shape) @ x))[:, None] * x).ravel()


def matrix_cases() -> list[dict[str, Any]]:
    """(id, label, kind, judge) for the claims that are matrices, functions or H v."""
    h = _bilinear_hessian()
    transposed = h.copy()
    transposed[:2, 2:], transposed[2:, :2] = h[:2, 2:].T, h[2:, :2].T
    doubled = h.copy()
    doubled[[0, 1], [0, 1]] *= 2

    def hessian(model, claim, at, **kw) -> Callable[[], Any]:
        from gradcheck.hessian import check_hessian
        return lambda: check_hessian(model, claim, at=at, **kw)

    def hvp(claim) -> Callable[[], Any]:
        from gradcheck.hessian import check_hvp
        return lambda: check_hvp(_layer, claim, wrt=["W"], at=_LAYER, inputs=["x"], vectors=4)

    layer = {"wrt": ["W"], "inputs": ["x"]}
    return [
        {"id": "bilinear/right matrix", "label": "right", "kind": "right", "judge": hessian(_bilinear, h, _AC)},
        {"id": "bilinear/right blocks", "label": "right", "kind": "right, other form",
         "judge": hessian(_bilinear, {("a", "a"): np.diag(2 * _AC["c"]), ("a", "c"): h[:2, 2:],
                                      ("c", "c"): np.zeros((2, 2))}, _AC)},
        {"id": "bilinear/transposed block", "label": "wrong", "kind": "transposed block",
         "judge": hessian(_bilinear, transposed, _AC)},
        {"id": "bilinear/factor 2 on the diagonal", "label": "wrong", "kind": "factor 2 on the diagonal",
         "judge": hessian(_bilinear, doubled, _AC)},
        {"id": "layer/right callable", "label": "right", "kind": "right",
         "judge": hessian(_layer, _layer_hessian, _LAYER, **layer)},
        {"id": "layer/column-major layout", "label": "wrong", "kind": "transposed block",
         "judge": hessian(_layer, lambda W, x: _layer_hessian(W, x, "F"), _LAYER, **layer)},
        {"id": "layer/relative 1e-6", "label": "wrong", "kind": "relative 1e-6",
         "judge": hessian(_layer, lambda W, x: _layer_hessian(W, x) * (1 + 1e-6), _LAYER, **layer)},
        {"id": "layer/missing cross term", "label": "wrong", "kind": "missing cross term",
         "judge": hessian(_layer, lambda W, x: np.diag(np.diag(_layer_hessian(W, x))), _LAYER, **layer)},
        {"id": "layer-hvp/right", "label": "right", "kind": "right", "judge": hvp(_layer_hvp)},
        {"id": "layer-hvp/right, other form", "label": "right", "kind": "right, other form",
         "judge": hvp(lambda v, W, x: _layer_hessian(W, x) @ v)},
        {"id": "layer-hvp/sign", "label": "wrong", "kind": "sign", "judge": hvp(lambda v, W, x: -_layer_hvp(v, W, x))},
        {"id": "layer-hvp/relative 1e-6", "label": "wrong", "kind": "relative 1e-6",
         "judge": hvp(lambda v, W, x: _layer_hvp(v, W, x) * (1 + 1e-6))},
        {"id": "layer-hvp/column-major layout", "label": "wrong", "kind": "transposed block",
         "judge": hvp(lambda v, W, x: _layer_hessian(W, x, "F") @ v)},
    ]


# ------------------------------------------------------------------ the deep chain

DEPTH, STEP = 10_000, 1e-4


def _chain(a, b):
    x = a * b
    for _ in range(DEPTH):
        x = x + STEP * np.sin(x)
    return x


def chain_truth(a: float, b: float) -> np.ndarray:
    """Second-order forward propagation of (x, x_a, x_b, x_aa, x_ab, x_bb), in a loop."""
    x, xa, xb, xaa, xab, xbb = a * b, b, a, 0.0, 1.0, 0.0
    for _ in range(DEPTH):
        s, c = math.sin(x), math.cos(x)
        xaa, xab, xbb = (xaa + STEP * (c * xaa - s * xa * xa), xab + STEP * (c * xab - s * xa * xb),
                         xbb + STEP * (c * xbb - s * xb * xb))
        xa, xb, x = xa + STEP * c * xa, xb + STEP * c * xb, x + STEP * s
    return np.array([[xaa, xab], [xab, xbb]])


def _deep_chain(result: dict) -> None:
    from gradcheck.hessian import check_hessian

    at = {"a": 0.7, "b": 1.3}
    exact = chain_truth(**at)
    wrong = exact.copy()
    wrong[0, 1] = wrong[1, 0] = exact[0, 1] * (1 + 1e-6)
    limit = sys.getrecursionlimit()
    rows, fine = [], True
    sys.setrecursionlimit(400)
    try:
        for label, claim, expected in (("right", exact, True), ("relative 1e-6 on (a, b)", wrong, False)):
            start = time.perf_counter()
            r = check_hessian(_chain, claim, at=at, symbolic_limit=0, timeout=None)
            seconds = time.perf_counter() - start
            tape = np.array(r.hessian["entries"][0]["tape"], dtype=float)
            error = float(np.max(np.abs(tape - exact)) / np.max(np.abs(exact)))
            fine &= r.ok == expected and error < 1e-9
            rows.append([label, "ok" if r.ok else "flagged", ", ".join(r.sources), f"{error:.1e}",
                         r.settings["numeric_method"], round(seconds, 1)])
    finally:
        sys.setrecursionlimit(limit)
    report.table(result, f"A {DEPTH:,}-deep chain x <- x + {STEP:g} sin(x) from x = a b, "
                 "differentiated twice (recursion limit 400)",
                 ["claim", "verdict", "sources", "tape vs forward truth (relative)", "numeric", "seconds"], rows)
    report.bar(result, f"a {DEPTH:,}-deep chain differentiated twice without recursion", fine,
               f"tape and finite differences agree with the forward truth; right claim "
               f"{rows[0][1]}, 1e-6 slip {rows[1][1]} ({rows[0][-1]} s each)")


def run(quick: bool = False, out: Path | None = None) -> dict:
    from gradcheck.hessian import check_hessian

    result = report.new_result(NAME, TITLE)
    entries = text_entries()
    mislabelled = check_labels(entries)
    if mislabelled:
        result["notes"].append("corpus labels disagreeing with the 50-digit truth: " + ", ".join(mislabelled))
    cases = [dict(e, judge=(lambda e=e: check_hessian(e["f"], e["claim"], wrt=e["wrt"], at=e["at"])))
             for e in entries] + matrix_cases()
    rows, kinds = [], {}
    for case in cases:
        start = time.perf_counter()
        r = case["judge"]()
        seconds = time.perf_counter() - start
        worst = r.hessian["worst"] or {}
        flagged = not r.ok
        blamed = worst.get("culprit") == "claimed"
        right = flagged == (case["label"] == "wrong") and (blamed or not flagged)
        where = (f"({worst.get('row')}, {worst.get('column')})" if "column" in worst
                 else f"(H v_{worst.get('vector')})[{worst.get('row')}]")
        rows.append([case["id"], case["label"], "flagged" if flagged else "passed",
                     worst.get("culprit") or "—", where if flagged else "—",
                     ", ".join(r.sources), round(seconds, 2), "yes" if right else "NO"])
        tally = kinds.setdefault(case["kind"], [0, 0])
        tally[0] += 1
        tally[1] += right
    wrong = [row for row, c in zip(rows, cases) if c["label"] == "wrong"]
    good = [row for row, c in zip(rows, cases) if c["label"] == "right"]
    caught = sum(row[2] == "flagged" and row[3] == "claimed" for row in wrong)
    false = sum(row[2] == "flagged" for row in good)
    report.table(result, f"The corpus: {len(cases)} claimed Hessians ({len(wrong)} wrong, {len(good)} right)",
                 ["claim", "label", "gradcheck", "culprit", "worst entry", "sources", "seconds", "right verdict"], rows)
    report.table(result, "By kind", ["kind", "claims", "judged right"],
                 [[k, n, f"{ok}/{n}"] for k, (n, ok) in kinds.items()])
    report.bar(result, "every wrong claimed Hessian caught (claim blamed), no right one flagged",
               caught == len(wrong) and false == 0 and not mislabelled,
               f"caught {caught}/{len(wrong)} wrong, flagged {false}/{len(good)} right")
    result["data"]["corpus"] = [{**{k: e[k] for k in ("id", "f", "at", "wrt", "label", "kind")},
                                 "claim": {",".join(pair): text for pair, text in e["claim"].items()}}
                                for e in entries]
    _deep_chain(result)
    result["notes"].append("peer column left out: torch.autograd.gradgradcheck checks a function's own "
                           "double backward, not a claimed Hessian, so it has no verdict on this corpus")
    return result
