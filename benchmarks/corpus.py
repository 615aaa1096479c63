"""The public corpus of gradient claims that the verdict benchmark (3) and the numeric
accuracy benchmark (4) are run on.

Each entry is an expression, the parameters it is differentiated by, a point, and a
*claim* (a derivative text per parameter) that is either correct or wrong by a realistic
mistake: a sign, a missing chain-rule factor, a factor 2, the wrong variable, the power
rule, the product or quotient rule, a dropped term, a relative slip of 1e-4 or 1e-6
(explicit, or a constant typed with too few digits), an error in one parameter of
several. Correct claims include hard cases: scales of 1e8 and 1e-8, exp(50*w),
sin(1e4*w), points near poles, tiny gradients and cancellation.

Ground truth never comes from gradcheck: texts are parsed here with SymPy's own parser
(float literals made exact rationals), differentiated with ``sympy.diff`` and evaluated
with mpmath at 50 digits at the exact float64 point. A claim is correct iff every
parameter's claim equals the derivative there to a relative 1e-30. The author's label of
every entry is checked against that truth (``python -m benchmarks.corpus`` writes the
corpus with its truths to ``corpus.json`` and fails on any disagreement).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
JSON_PATH = HERE / "corpus.json"
DIGITS = 50
EQUAL_REL = 1e-30


@dataclass(frozen=True)
class Entry:
    id: str
    expression: str
    wrt: tuple[str, ...]
    point: dict[str, float]
    claim: dict[str, str]
    mistake: str | None  # None: the claim is correct
    category: str  # realistic | slip | several | hard
    wrong_params: tuple[str, ...] = ()
    note: str = ""

    @property
    def label(self) -> str:
        return "correct" if self.mistake is None else "wrong"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "expression": self.expression, "wrt": list(self.wrt),
                "point": self.point, "claim": self.claim, "label": self.label,
                "mistake": self.mistake or "none", "category": self.category,
                "wrong_params": list(self.wrong_params), "note": self.note}


# ------------------------------------------------------------------------------------
# Base cases: expression, point, correct derivative per parameter, and realistic mistakes
# (kind, parameter, wrong text). Slips are derived from some of them below.
BASES: list[dict[str, Any]] = [
    dict(id="sq-loss", expr="(w*x - y)**2", point=dict(w=0.7, x=1.3, y=2.1),
         correct=dict(w="2*x*(w*x - y)"),
         wrong=[("sign", "w", "-2*x*(w*x - y)"), ("chain-rule", "w", "2*(w*x - y)"),
                ("factor-2", "w", "x*(w*x - y)"), ("wrong-variable", "w", "2*w*(w*x - y)"),
                ("power-rule", "w", "2*x*(w*x - y)**2")]),
    dict(id="half-sq-loss", expr="0.5*(w*x - y)**2", point=dict(w=1.4, x=-0.8, y=0.6),
         correct=dict(w="x*(w*x - y)"),
         wrong=[("factor-2", "w", "2*x*(w*x - y)"), ("sign", "w", "x*(y - w*x)"),
                ("chain-rule", "w", "w*x - y")]),
    dict(id="sin", expr="sin(w*x)", point=dict(w=0.9, x=1.7),
         correct=dict(w="x*cos(w*x)"),
         wrong=[("sign", "w", "-x*cos(w*x)"), ("chain-rule", "w", "cos(w*x)"),
                ("wrong-variable", "w", "w*cos(w*x)"), ("wrong-rule", "w", "x*sin(w*x)")]),
    dict(id="cos", expr="cos(w*x)", point=dict(w=0.6, x=2.3),
         correct=dict(w="-x*sin(w*x)"),
         wrong=[("sign", "w", "x*sin(w*x)"), ("chain-rule", "w", "-sin(w*x)")]),
    dict(id="gauss-exp", expr="exp(a*x**2)", point=dict(a=-0.4, x=1.2),
         correct=dict(a="x**2*exp(a*x**2)"),
         wrong=[("chain-rule", "a", "exp(a*x**2)"), ("wrong-variable", "a", "2*a*x*exp(a*x**2)"),
                ("factor-2", "a", "2*x**2*exp(a*x**2)")]),
    dict(id="softplus", expr="log(1 + exp(w*x))", point=dict(w=0.8, x=-1.1),
         correct=dict(w="x*exp(w*x)/(1 + exp(w*x))"),
         wrong=[("sign", "w", "-x*exp(w*x)/(1 + exp(w*x))"), ("chain-rule", "w", "exp(w*x)/(1 + exp(w*x))"),
                ("wrong-variable", "w", "w*exp(w*x)/(1 + exp(w*x))")]),
    dict(id="sigmoid", expr="1/(1 + exp(-w*x))", point=dict(w=1.3, x=0.45),
         correct=dict(w="x*exp(-w*x)/(1 + exp(-w*x))**2"),
         wrong=[("sign", "w", "-x*exp(-w*x)/(1 + exp(-w*x))**2"),
                ("power-rule", "w", "x*exp(-w*x)/(1 + exp(-w*x))"),
                ("chain-rule", "w", "exp(-w*x)/(1 + exp(-w*x))**2")]),
    dict(id="cubic", expr="w**3*x", point=dict(w=1.6, x=0.35),
         correct=dict(w="3*w**2*x"),
         wrong=[("power-rule", "w", "3*w**3*x"), ("power-rule", "w", "w**2*x"),
                ("factor-2", "w", "1.5*w**2*x")]),
    dict(id="tanh-neuron", expr="tanh(w*x + b)", point=dict(w=0.5, x=1.5, b=-0.3),
         correct=dict(w="x*(1 - tanh(w*x + b)**2)", b="1 - tanh(w*x + b)**2"),
         wrong=[("sign", "w", "x*(tanh(w*x + b)**2 - 1)"), ("wrong-variable", "b", "x*(1 - tanh(w*x + b)**2)"),
                ("power-rule", "w", "x*(1 - tanh(w*x + b))"), ("chain-rule", "w", "1 - tanh(w*x + b)**2")]),
    dict(id="norm", expr="sqrt(w**2 + x**2)", point=dict(w=1.2, x=0.9),
         correct=dict(w="w/sqrt(w**2 + x**2)"),
         wrong=[("factor-2", "w", "2*w/sqrt(w**2 + x**2)"), ("power-rule", "w", "w*sqrt(w**2 + x**2)"),
                ("chain-rule", "w", "1/(2*sqrt(w**2 + x**2))")]),
    dict(id="quadratic-model", expr="w1*x**2 + w2*x + b", point=dict(w1=0.3, w2=-1.2, b=0.5, x=1.7),
         correct=dict(w1="x**2", w2="x", b="1"),
         wrong=[("wrong-variable", "w1", "2*w1*x"), ("wrong-variable", "w2", "w2"),
                ("dropped-term", "b", "0")]),
    dict(id="log-product", expr="log(w*x)", point=dict(w=2.5, x=0.7),
         correct=dict(w="1/w"),
         wrong=[("chain-rule", "w", "1/(w*x)"), ("wrong-variable", "w", "1/x"), ("sign", "w", "-1/w")]),
    dict(id="decay", expr="x*exp(-w*x)", point=dict(w=0.9, x=1.4),
         correct=dict(w="-x**2*exp(-w*x)"),
         wrong=[("sign", "w", "x**2*exp(-w*x)"), ("chain-rule", "w", "-x*exp(-w*x)")]),
    dict(id="cos-squared", expr="cos(w)**2", point=dict(w=0.8),
         correct=dict(w="-2*sin(w)*cos(w)"),
         wrong=[("sign", "w", "2*sin(w)*cos(w)"), ("chain-rule", "w", "2*cos(w)"),
                ("factor-2", "w", "-sin(w)*cos(w)")]),
    dict(id="rational", expr="w/(1 + w**2)", point=dict(w=0.6),
         correct=dict(w="(1 - w**2)/(1 + w**2)**2"),
         wrong=[("sign", "w", "(w**2 - 1)/(1 + w**2)**2"), ("power-rule", "w", "(1 - w**2)/(1 + w**2)"),
                ("quotient-rule", "w", "1/(1 + w**2)")]),
    dict(id="atan", expr="atan(w*x)", point=dict(w=1.1, x=0.8),
         correct=dict(w="x/(1 + w**2*x**2)"),
         wrong=[("chain-rule", "w", "1/(1 + w**2*x**2)"), ("sign", "w", "-x/(1 + w**2*x**2)")]),
    dict(id="exp-sin", expr="exp(w)*sin(w)", point=dict(w=0.7),
         correct=dict(w="exp(w)*(sin(w) + cos(w))"),
         wrong=[("product-rule", "w", "exp(w)*cos(w)"), ("sign", "w", "exp(w)*(sin(w) - cos(w))")]),
    dict(id="scaled-tanh", expr="w1*tanh(w2*x)", point=dict(w1=1.5, w2=0.4, x=2.2),
         correct=dict(w1="tanh(w2*x)", w2="w1*x*(1 - tanh(w2*x)**2)"),
         wrong=[("chain-rule", "w2", "w1*(1 - tanh(w2*x)**2)"), ("wrong-variable", "w1", "w1*tanh(w2*x)")]),
    dict(id="affine-loss", expr="(a*x + b - y)**2", point=dict(a=0.3, b=-0.2, x=1.9, y=0.4),
         correct=dict(a="2*x*(a*x + b - y)", b="2*(a*x + b - y)"),
         wrong=[("wrong-variable", "b", "2*x*(a*x + b - y)"), ("factor-2", "a", "x*(a*x + b - y)"),
                ("sign", "b", "2*(y - a*x - b)")]),
    dict(id="log1p-square", expr="log(1 + w**2)", point=dict(w=1.3),
         correct=dict(w="2*w/(1 + w**2)"),
         wrong=[("factor-2", "w", "w/(1 + w**2)"), ("chain-rule", "w", "1/(1 + w**2)")]),
    dict(id="sinh-ratio", expr="sinh(w*x)/x", point=dict(w=0.5, x=1.3),
         correct=dict(w="cosh(w*x)"),
         wrong=[("chain-rule", "w", "cosh(w*x)/x"), ("wrong-rule", "w", "sinh(w*x)")]),
    dict(id="poly-exp", expr="w**2*exp(w)", point=dict(w=-0.7),
         correct=dict(w="(w**2 + 2*w)*exp(w)"),
         wrong=[("product-rule", "w", "2*w*exp(w)"), ("power-rule", "w", "(w**2 + w)*exp(w)")]),
    dict(id="two-class-ce", expr="log(exp(a) + exp(b)) - a", point=dict(a=0.3, b=1.1),
         correct=dict(a="exp(a)/(exp(a) + exp(b)) - 1", b="exp(b)/(exp(a) + exp(b))"),
         wrong=[("dropped-term", "a", "exp(a)/(exp(a) + exp(b))"), ("sign", "b", "-exp(b)/(exp(a) + exp(b))")]),
    dict(id="power", expr="w**x", point=dict(w=1.7, x=2.5),
         correct=dict(w="x*w**(x - 1)"),
         wrong=[("power-rule", "w", "x*w**x"), ("wrong-variable", "w", "w**x*log(w)")]),
    dict(id="gaussian", expr="exp(-(w - m)**2/(2*s**2))", point=dict(w=0.4, m=0.1, s=0.8),
         correct=dict(w="-(w - m)/s**2*exp(-(w - m)**2/(2*s**2))",
                      m="(w - m)/s**2*exp(-(w - m)**2/(2*s**2))",
                      s="(w - m)**2/s**3*exp(-(w - m)**2/(2*s**2))"),
         wrong=[("factor-2", "s", "(w - m)**2/(2*s**3)*exp(-(w - m)**2/(2*s**2))"),
                ("sign", "m", "-(w - m)/s**2*exp(-(w - m)**2/(2*s**2))")]),
]

# Relative slips written into a correct claim: (base id, parameter).
SLIPPED = [("sq-loss", "w"), ("sin", "w"), ("gauss-exp", "a"), ("softplus", "w"), ("sigmoid", "w"),
           ("tanh-neuron", "w"), ("norm", "w"), ("log-product", "w"), ("rational", "w"),
           ("exp-sin", "w"), ("affine-loss", "a"), ("gaussian", "s")]

# Slips a person makes by typing a constant with too few digits (relative error ~1e-6).
TYPED = [
    dict(id="pi-typed", expr="sin(pi*w)", point=dict(w=0.3), correct=dict(w="pi*cos(pi*w)"),
         slips=[("slip-1e-6", "3.14159*cos(pi*w)", "pi typed as 3.14159 (relative 8e-7)"),
                ("slip-1e-6", "3.1416*cos(pi*w)", "pi typed as 3.1416 (relative 2e-6)")]),
    dict(id="e-typed", expr="exp(w)", point=dict(w=1.5), correct=dict(w="exp(w)"),
         slips=[("slip-1e-6", "2.71828**w", "e typed as 2.71828 (relative 1e-6 at w=1.5)")]),
    dict(id="sqrt8-typed", expr="sqrt(2)*w**2", point=dict(w=0.9), correct=dict(w="2*sqrt(2)*w"),
         slips=[("slip-1e-6", "2.82843*w", "2*sqrt(2) typed as 2.82843 (relative 1e-6)"),
                ("slip-1e-4", "2.828*w", "2*sqrt(2) typed as 2.828 (relative 2e-4)")]),
]

# Hard cases: correct claims where float64 or a fixed step is strained, and a few wrong
# claims hidden by scale. (id, expression, point, claims, mistake or None, note)
HARD: list[tuple] = [
    ("scale-1e8", "1e8*w**2", dict(w=0.3), dict(w="2e8*w"), None, "gradient of size 6e7"),
    ("scale-1e8-loss", "(1e4*w - y)**2", dict(w=0.37, y=1.5), dict(w="2e4*(1e4*w - y)"), None,
     "gradient of size 7e7"),
    ("scale-1e-8", "1e-8*sin(w)", dict(w=0.9), dict(w="1e-8*cos(w)"), None, "gradient of size 6e-9"),
    ("scale-1e-8-cubic", "1e-8*w**3", dict(w=1.4), dict(w="3e-8*w**2"), None, "gradient of size 6e-8"),
    ("large-input-log", "log(w)", dict(w=1e8), dict(w="1/w"), None, "w = 1e8: gradient 1e-8"),
    ("tiny-input-square", "w**2", dict(w=1e-8), dict(w="2*w"), None, "w = 1e-8: gradient 2e-8"),
    ("exp-50", "exp(50*w)", dict(w=0.31), dict(w="50*exp(50*w)"), None, "exp(50*w): gradient 3e8"),
    ("exp-50-neg", "exp(-50*w)", dict(w=0.45), dict(w="-50*exp(-50*w)"), None, "gradient -8e-9"),
    ("sin-1e4", "sin(1e4*w)", dict(w=0.1234), dict(w="1e4*cos(1e4*w)"), None,
     "oscillates on a scale of 1e-4"),
    ("sin-1e4-scaled", "sin(1e4*w)/1e4", dict(w=0.3), dict(w="cos(1e4*w)"), None, "oscillates, unit gradient"),
    ("pole", "1/(w - 1)", dict(w=1.0001), dict(w="-1/(w - 1)**2"), None, "1e-4 from a pole: gradient -1e8"),
    ("tan-near-pole", "tan(w)", dict(w=1.5707), dict(w="1 + tan(w)**2"), None, "1e-4 from pi/2"),
    ("log-near-zero", "log(w)", dict(w=1e-6), dict(w="1/w"), None, "w = 1e-6: gradient 1e6"),
    ("pole-quadratic", "1/(w**2 - 4)", dict(w=2.001), dict(w="-2*w/(w**2 - 4)**2"), None, "1e-3 from a pole"),
    ("tiny-gaussian", "exp(-w**2)", dict(w=6.0), dict(w="-2*w*exp(-w**2)"), None, "gradient -2.8e-15"),
    ("tiny-constant", "w*exp(-40)", dict(w=0.8), dict(w="exp(-40)"), None, "gradient 4e-18"),
    ("cancel-square", "(1 + w)**2 - 1 - 2*w", dict(w=1e-4), dict(w="2*(1 + w) - 2"), None,
     "claim cancels: 2.0002 - 2"),
    ("cancel-log1p", "log(1 + w) - w", dict(w=1e-5), dict(w="1/(1 + w) - 1"), None,
     "claim cancels to -1e-5"),
    ("cancel-expm1", "exp(w) - 1 - w", dict(w=1e-6), dict(w="exp(w) - 1"), None, "claim cancels to 1e-6"),
    ("cancel-sinc", "sin(w)/w", dict(w=1e-3), dict(w="cos(w)/w - sin(w)/w**2"), None,
     "claim's two terms of size 1e6 cancel to -3e-4"),
    ("sqrt-near-zero", "sqrt(w)", dict(w=1e-10), dict(w="1/(2*sqrt(w))"), None, "steep: gradient 5e4"),
    ("high-power", "w**10", dict(w=3.0), dict(w="10*w**9"), None, "gradient 2e5"),
    ("mixed-scales", "1e6*a + 1e-6*b", dict(a=0.5, b=0.5), dict(a="1e6", b="1e-6"), None,
     "parameters whose gradients differ by 1e12"),
    ("atan-steep", "atan(1e8*w)", dict(w=7e-9), dict(w="1e8/(1 + 1e16*w**2)"), None, "steep: gradient 7e7"),
    ("flat-exp", "exp(-1/w**2)", dict(w=0.3), dict(w="2*exp(-1/w**2)/w**3"), None, "gradient 1e-3"),
    # wrong claims that a tolerance fitted to unit scale lets through
    ("tiny-gaussian-sign", "exp(-w**2)", dict(w=6.0), dict(w="2*w*exp(-w**2)"), "sign", "sign error on a gradient of 3e-15"),
    ("tiny-constant-sign", "w*exp(-40)", dict(w=0.8), dict(w="-exp(-40)"), "sign", "sign error on a gradient of 4e-18"),
    ("scale-1e-8-rule", "1e-8*sin(w)", dict(w=0.9), dict(w="1e-8*sin(w)"), "wrong-rule", "derivative of sin taken as sin, at scale 1e-8"),
    ("scale-1e8-slip", "1e8*w**2", dict(w=0.3), dict(w="2.000002e8*w"), "slip-1e-6", "relative slip 1e-6 on a gradient of 6e7"),
    ("sin-1e4-slip", "sin(1e4*w)", dict(w=0.1234), dict(w="1.000001e4*cos(1e4*w)"), "slip-1e-6", "relative slip 1e-6 while oscillating"),
    ("pole-slip", "1/(w - 1)", dict(w=1.0001), dict(w="-1.0001/(w - 1)**2"), "slip-1e-4", "relative slip 1e-4 near a pole"),
    ("mixed-scales-small", "1e6*a + 1e-6*b", dict(a=0.5, b=0.5), dict(a="1e6", b="2e-6"), "factor-2",
     "factor 2 on the parameter whose gradient is 1e-6, beside one of 1e6"),
]


def entries() -> list[Entry]:
    """Every claim of the corpus, in a fixed order."""
    out: list[Entry] = []
    bases = {b["id"]: b for b in BASES}
    for b in BASES:
        wrt = tuple(b["correct"])
        out.append(Entry(f"{b['id']}/correct", b["expr"], wrt, b["point"], dict(b["correct"]), None,
                         "realistic"))
        for k, (kind, param, text) in enumerate(b["wrong"], 1):
            claim = {**b["correct"], param: text}
            category = "several" if len(wrt) > 1 else "realistic"
            out.append(Entry(f"{b['id']}/{kind}-{k}", b["expr"], wrt, b["point"], claim, kind, category,
                             (param,), "one wrong parameter of several" if len(wrt) > 1 else ""))
    for base_id, param in SLIPPED:
        b = bases[base_id]
        wrt = tuple(b["correct"])
        for factor, kind in (("1.0001", "slip-1e-4"), ("1.000001", "slip-1e-6")):
            claim = {**b["correct"], param: f"{factor}*({b['correct'][param]})"}
            out.append(Entry(f"{base_id}/{kind}", b["expr"], wrt, b["point"], claim, kind, "slip", (param,),
                             f"the correct claim times {factor}"))
    for t in TYPED:
        wrt = tuple(t["correct"])
        out.append(Entry(f"{t['id']}/correct", t["expr"], wrt, t["point"], dict(t["correct"]), None, "slip"))
        for k, (kind, text, note) in enumerate(t["slips"], 1):
            out.append(Entry(f"{t['id']}/{kind}-{k}", t["expr"], wrt, t["point"], {wrt[0]: text}, kind, "slip",
                             (wrt[0],), note))
    for hid, expr, point, claim, mistake, note in HARD:
        wrong = tuple(p for p in claim if mistake is not None and _differs(expr, point, p, claim[p]))
        out.append(Entry(f"hard/{hid}", expr, tuple(claim), point, dict(claim), mistake, "hard", wrong, note))
    return out


# ------------------------------------------------------------------------------------ truth
def sympy_parse(text: str, names: list[str] | tuple[str, ...]):
    """SymPy's own parser (not gradcheck's), every float literal an exact rational."""
    import sympy
    from sympy.parsing.sympy_parser import parse_expr, rationalize, standard_transformations

    local = {n: sympy.Symbol(n, real=True) for n in names}
    return parse_expr(text, local_dict=local, transformations=standard_transformations + (rationalize,))


def _exact_point(point: dict[str, float]) -> dict:
    import sympy
    return {sympy.Symbol(k, real=True): sympy.Rational(float(v)) for k, v in point.items()}


@lru_cache(maxsize=None)
def _derivative_value(expr: str, point_items: tuple, param: str):
    import sympy
    point = dict(point_items)
    f = sympy_parse(expr, tuple(point))
    d = sympy.diff(f, sympy.Symbol(param, real=True))
    return sympy.N(d.subs(_exact_point(point)), DIGITS + 10)


@lru_cache(maxsize=None)
def _claim_value(text: str, point_items: tuple):
    import sympy
    point = dict(point_items)
    c = sympy_parse(text, tuple(point))
    return sympy.N(c.subs(_exact_point(point)), DIGITS + 10)


def derivative(entry_or_expr, point=None, param=None):
    """d expr / d param at the exact float64 point, as a SymPy Float of 60 digits."""
    if isinstance(entry_or_expr, Entry):
        raise TypeError("use derivative(expr, point, param)")
    return _derivative_value(entry_or_expr, tuple(sorted(point.items())), param)


def _relative_gap(a, b) -> float:
    import sympy
    a, b = sympy.Float(a, DIGITS + 10), sympy.Float(b, DIGITS + 10)
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else float(abs(a - b) / scale)


def _differs(expr: str, point: dict, param: str, text: str) -> bool:
    return _relative_gap(derivative(expr, point, param),
                         _claim_value(text, tuple(sorted(point.items())))) >= EQUAL_REL


def truth(entry: Entry) -> dict[str, Any]:
    """Per parameter: the derivative (50 digits, as text), the claim's value and their gap."""
    params = {}
    for p in entry.wrt:
        d = derivative(entry.expression, entry.point, p)
        c = _claim_value(entry.claim[p], tuple(sorted(entry.point.items())))
        params[p] = {"derivative": str(sympy_float(d)), "claim": str(sympy_float(c)),
                     "relative_gap": _relative_gap(d, c)}
    wrong = [p for p, v in params.items() if v["relative_gap"] >= EQUAL_REL]
    return {"label": "wrong" if wrong else "correct", "wrong_params": wrong, "params": params}


def sympy_float(value):
    import sympy
    return sympy.Float(value, DIGITS)


def check_labels(items: list[Entry] | None = None) -> list[str]:
    """Entries whose author's label disagrees with the 50-digit truth (should be none)."""
    problems = []
    for e in items or entries():
        t = truth(e)
        if t["label"] != e.label:
            problems.append(f"{e.id}: labelled {e.label}, truth says {t['label']} ({t['params']})")
    return problems


def write_json(path: Path = JSON_PATH) -> int:
    items = entries()
    rows = []
    for e in items:
        row = e.to_dict()
        row["truth"] = truth(e)
        rows.append(row)
    doc = {"description": "gradcheck benchmark corpus: gradient claims, correct or wrong by a "
                          "realistic mistake; truth from SymPy + mpmath at 50 digits at the exact "
                          "float64 point (a claim is correct iff it matches to a relative 1e-30)",
           "count": len(rows), "entries": rows}
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return len(rows)


def main() -> int:
    problems = check_labels()
    for p in problems:
        print(p, file=sys.stderr)
    n = write_json()
    items = entries()
    wrong = sum(e.label == "wrong" for e in items)
    print(f"wrote {JSON_PATH}: {n} claims ({n - wrong} correct, {wrong} wrong)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
