"""Scalar's derivative rules, and the operators generated from them.

The rules are the table :data:`RULES` (the float twin of :mod:`gradcheck.tape.primitives`,
same conventions at kinks). :func:`install_operators` compiles, from templates, one
operator or method per rule with the rule's expressions inlined, and sets them on the
Scalar class (scalar.py), so a rule and the code that uses it cannot drift apart.
"""

from __future__ import annotations

import linecache
import math
from numbers import Real
from typing import Any

from gradcheck.tape import engine as _engine

__all__ = ["RULES", "install_operators"]

_NUMBER = (int, float)


def _pow(a: float, b: float) -> float:
    """a ** b with NumPy's answers where math.pow raises: inf at 0 ** -1, nan for (-8) ** 0.5."""
    try:
        return math.pow(a, b)
    except ValueError:
        return math.inf if a == 0.0 else math.nan
    except OverflowError:
        return -math.inf if a < 0.0 and b % 2.0 == 1.0 else math.inf


# name: (forward, d out / d a[, d out / d b]) as Python expressions in the floats a, b and
# out (the forward value); VJP = g * local. The float twin of primitives.py's table.
RULES: dict[str, tuple[str, ...]] = {
    # arithmetic
    "add": ("a + b", "1.0", "1.0"),
    "sub": ("a - b", "1.0", "-1.0"),
    "mul": ("a * b", "b", "a"),
    "div": ("a / b", "1.0 / b", "-out / b"),  # PyTorch's order, as primitives.py
    "neg": ("-a", "-1.0"),
    # powers, exp, log; x ** 0 is a constant (0, not 0 * inf); d/db is nan for a < 0 (not real)
    "pow": ("_pow(a, b)", "0.0 if b == 0.0 else b * _pow(a, b - 1.0)",
            "out * log(a) if a > 0.0 else 0.0 if a == 0.0 else nan"),
    "exp": ("exp(a)", "out"),
    "log": ("log(a)", "1.0 / a"),
    # trigonometric and hyperbolic; 1/cosh^2, not 1 - tanh^2, which cancels for |a| > a few
    "sin": ("sin(a)", "cos(a)"),
    "cos": ("cos(a)", "-sin(a)"),
    "tanh": ("tanh(a)", "1.0 / ((c := cosh(a)) * c) if -350.0 < a < 350.0 else 4.0 * exp(-2.0 * abs(a))"),
    # piecewise: gradient 1/2 at the kink, as SymPy's Heaviside(0)
    "relu": ("0.0 if a < 0.0 else a", "1.0 if a > 0.0 else 0.0 if a < 0.0 else 0.5"),
    # sigmoid, stably: s(a) s(-a) never cancels
    "sigmoid": ("1.0 / (1.0 + exp(-a)) if a >= 0.0 else exp(a) / (1.0 + exp(a))",
                "out * out * exp(-a) if a >= 0.0 else out * (1.0 - out)"),
}

# operator -> rule, for the binary rules (each also gets its reflected twin, __r<op>__)
_BINARY = {"__add__": "add", "__sub__": "sub", "__mul__": "mul", "__truediv__": "div", "__pow__": "pow"}
_UNARY = {"__neg__": "neg", "exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tanh": "tanh",
          "relu": "relu", "sigmoid": "sigmoid"}


# ---------------------------------------------------------------- operators generated from RULES
# The hot path inlines each rule's expressions: no per-node closure, lookup or call.
# ``_recorder()`` is this thread's tape's append, or None under no_grad() (engine.py):
# one context-variable read says whether to record and where. A recorded operation's
# ``_g`` starts as that recorder, its tape's mark for "not reached" (scalar.py's backward).
_BINARY_TEMPLATE = '''
def _op{method}(self, other):
    res = _new(Scalar)
    if other.__class__ is Scalar:
        a = self.data
        b = other.data
        res.data = out = {forward}
        record = _recorder()
        if record is not None:
            if self._p is not None:
                if other._p is not None:
                    res._p = (self, {da}, other, {db})
                else:
                    res._p = (self, {da})
            elif other._p is not None:
                res._p = (other, {db})
            else:
                res._p = res._g = None
                return res
            res._g = record
            record(res)
        else:
            res._p = res._g = None
        return res
    if not isinstance(other, _NUMBER):
        if not isinstance(other, Real):
            return NotImplemented
        other = float(other)
    a = self.data
    b = other
    res.data = out = {forward}
    if self._p is not None:
        record = _recorder()
        if record is not None:
            res._p = (self, {da})
            res._g = record
            record(res)
            return res
    res._p = res._g = None
    return res


def _op{reflected}(self, other):
    if not isinstance(other, _NUMBER):
        if not isinstance(other, Real):
            return NotImplemented
        other = float(other)
    a = other
    b = self.data
    res = _new(Scalar)
    res.data = out = {forward}
    if self._p is not None:
        record = _recorder()
        if record is not None:
            res._p = (self, {db})
            res._g = record
            record(res)
            return res
    res._p = res._g = None
    return res
'''

_UNARY_TEMPLATE = '''
def _op_{method}(self):
    a = self.data
    res = _new(Scalar)
    res.data = out = {forward}
    if self._p is not None:
        record = _recorder()
        if record is not None:
            res._p = (self, {da})
            res._g = record
            record(res)
            return res
    res._p = res._g = None
    return res
'''


def _generate(scalar: type) -> dict[str, Any]:
    """Compile the operators from the table, under a file name tracebacks can show."""
    parts = []
    for method, rule in _BINARY.items():
        forward, da, db = RULES[rule]
        reflected = "__r" + method[2:]
        parts.append(_BINARY_TEMPLATE.format(method=method, reflected=reflected, forward=forward, da=da, db=db))
    for method, rule in _UNARY.items():
        forward, da = RULES[rule]
        parts.append(_UNARY_TEMPLATE.format(method=method, forward=forward, da=da))
    source = "".join(parts)
    filename = "<gradcheck.tape.scalar generated operators>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {
        "Scalar": scalar, "_new": object.__new__, "_recorder": _engine.recorder,
        "_NUMBER": _NUMBER, "Real": Real, "_pow": _pow, "nan": math.nan,
        "exp": math.exp, "log": math.log, "sin": math.sin, "cos": math.cos,
        "tanh": math.tanh, "cosh": math.cosh,
    }
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def install_operators(scalar: type) -> None:
    """Set the generated operators and methods on ``scalar`` (the Scalar class); they record
    on the calling thread's tape (``engine.recorder()``)."""
    generated = _generate(scalar)
    for method in _BINARY:
        for name in (method, "__r" + method[2:]):
            function = generated["_op" + name]
            function.__name__ = function.__qualname__ = name
            setattr(scalar, name, function)
    for method, rule in _UNARY.items():
        function = generated["_op_" + method]
        function.__name__ = function.__qualname__ = method
        function.__doc__ = f"{rule}: forward {RULES[rule][0]}, local derivative {RULES[rule][1]}"
        setattr(scalar, method, function)
