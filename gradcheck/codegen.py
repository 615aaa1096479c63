"""SymPy expressions as the source of one Python function over NumPy or mpmath.

SymPy's printers sort the terms of every sum and the factors of every product, and ask
for each node's precedence several times: printing is most of what ``sympy.lambdify``
costs (about 2 ms for a small gradient, 0.5 s for a 1,000-term sum). This walk prints
the nodes a derivative is made of in the order SymPy holds them, and hands any other
node to SymPy's printer, so nothing it cannot print is printed differently. Numbers
in the mpmath dialect are exact (SymPy's default Python printer wrote 2/3 as a float64).

The generated code names its arguments ``_a0, _a1, ...`` and its shared subexpressions
``_c0, ...``: no name a user chose appears in it.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Sequence

import sympy
from sympy.printing.codeprinter import CodePrinter

__all__ = ["compile_function", "NUMPY", "MPMATH"]

ADD, MUL, NEG, POW, ATOM = 10, 20, 25, 30, 40

_ELEMENTARY = {
    sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan",
    sympy.sinh: "sinh", sympy.cosh: "cosh", sympy.tanh: "tanh",
    sympy.exp: "exp", sympy.log: "log", sympy.Abs: "abs", sympy.sign: "sign",
    sympy.Heaviside: "Heaviside", sympy.DiracDelta: "DiracDelta",
}
_INVERSE = (sympy.asin, sympy.acos, sympy.atan, sympy.atan2, sympy.asinh, sympy.acosh, sympy.atanh)
_HALF, _MINUS_HALF = sympy.Rational(1, 2), sympy.Rational(-1, 2)


class Dialect:
    """How numbers, constants and functions are spelled for one numeric library."""

    def __init__(self, module: str, calls: dict, lattice: dict, constants: dict, atoms: dict,
                 exact: bool):
        self.module, self.calls, self.lattice = module, calls, lattice
        self.constants, self.atoms, self.exact = constants, atoms, exact

    def rational(self, p: int, q: int) -> str:
        return f"(mpf({p})/mpf({q}))" if self.exact else f"({p}/{q})"

    def float(self, value: sympy.Float) -> str:
        if self.exact:  # every bit of the Float, as SymPy's mpmath printer writes it
            return f"mpf({tuple(int(v) for v in value._mpf_)!r})"
        return repr(float(value))

    def constant(self, value: sympy.Expr) -> str | None:
        return self.constants.get(value) if self.exact else repr(float(value))


_ATOMS = {sympy.S.NaN: "nan", sympy.S.Infinity: "inf", sympy.S.NegativeInfinity: "(-inf)",
          sympy.S.ImaginaryUnit: "1j", sympy.S.ComplexInfinity: "nan"}
NUMPY = Dialect("numpy", {**_ELEMENTARY, **{f: "arc" + f.__name__[1:] for f in _INVERSE}},
                {sympy.Max: "maximum", sympy.Min: "minimum"}, {}, _ATOMS, exact=False)
MPMATH = Dialect("mpmath", {**_ELEMENTARY, **{f: f.__name__ for f in _INVERSE}},
                 {sympy.Max: "max", sympy.Min: "min"},
                 {sympy.pi: "pi", sympy.E: "e", sympy.EulerGamma: "euler", sympy.Catalan: "catalan",
                  sympy.GoldenRatio: "phi"}, _ATOMS, exact=True)


class _Emitter:
    """Python source of SymPy nodes. ``magnitude``: every sum outside a function's
    argument or a non-polynomial power is printed as the sum of its terms' absolute
    values (the numbers a float64 evaluation adds), as lambdify._MagnitudePrinter does
    for what this walk hands over; like it, the denominator of a quotient is sized as a
    sum (w/(x + y) as w/(|x| + |y|))."""

    def __init__(self, names: Mapping[sympy.Symbol, str], dialect: Dialect, fallback: CodePrinter,
                 magnitude: bool):
        self.names = names
        self.dialect = dialect
        self.fallback = fallback
        self.magnitude = magnitude
        self.opaque = 0

    def emit(self, expr: sympy.Basic) -> tuple[str, int]:
        """(source, precedence) of ``expr``."""
        if expr.is_Symbol:
            return self.names[expr], ATOM
        if expr.is_Number:
            return self._number(expr)
        if expr.is_Add:
            return self._add(expr)
        if expr.is_Mul:
            return self._mul(expr)
        if expr.is_Pow:
            return self._pow(expr)
        if expr.is_NumberSymbol:
            constant = self.dialect.constant(expr)
            return (constant, ATOM) if constant else (self._handed_over(expr), ATOM)
        call = self.dialect.calls.get(expr.func)
        if call is not None and not (expr.func is sympy.log and len(expr.args) != 1):
            self.opaque += 1
            try:
                return f"{call}({', '.join(self.emit(a)[0] for a in expr.args)})", ATOM
            finally:
                self.opaque -= 1
        lattice = self.dialect.lattice.get(expr.func)
        if lattice is not None:  # a Max is no Function: its arguments are not opaque
            args = [self.emit(a)[0] for a in expr.args]
            out = args[0]
            for arg in args[1:]:
                out = f"{lattice}({out}, {arg})"
            return out, ATOM
        atom = self.dialect.atoms.get(expr)
        if atom is not None:
            return atom, ATOM
        return self._handed_over(expr), ATOM

    def _number(self, expr: sympy.Number) -> tuple[str, int]:
        if expr.is_Integer:
            text = str(int(expr))
        elif expr.is_Rational:
            return self.dialect.rational(expr.p, expr.q), ATOM
        elif expr.is_Float:
            text = self.dialect.float(expr)
        else:
            atom = self.dialect.atoms.get(expr)
            return (atom, ATOM) if atom is not None else (self._handed_over(expr), ATOM)
        return text, (NEG if text.startswith("-") else ATOM)

    def _add(self, expr: sympy.Add) -> tuple[str, int]:
        terms = [self.emit(t)[0] for t in expr.args]
        if self.magnitude and not self.opaque:
            return " + ".join(f"abs({t})" for t in terms), ADD
        return " + ".join(terms), ADD

    def _factor(self, expr: sympy.Basic, above: int) -> str:
        text, precedence = self.emit(expr)
        return text if precedence > above else f"({text})"

    def _mul(self, expr: sympy.Mul) -> tuple[str, int]:
        coeff, rest = expr.as_coeff_Mul()
        sign = ""
        if coeff.is_negative:
            sign, coeff = "-", -coeff
        numerator, denominator = [], []
        if coeff.is_Rational and self.dialect.exact and coeff.q != 1:
            numerator.append(self.dialect.rational(coeff.p, coeff.q))  # max(1, x)/3: no int/int
        elif coeff.is_Rational:
            if coeff.p != 1:
                numerator.append(str(coeff.p))
            if coeff.q != 1:
                denominator.append((str(coeff.q), ATOM))
        elif coeff != 1:
            numerator.append(self._factor(coeff, MUL - 1))
        for factor in sympy.Mul.make_args(rest):
            if factor.is_Pow and factor.exp.is_Rational and factor.exp.is_negative:
                flipped = factor.base if factor.exp == -1 else sympy.Pow(factor.base, -factor.exp, evaluate=False)
                denominator.append(self.emit(flipped))
            else:
                numerator.append(self._factor(factor, MUL - 1))
        text = "*".join(numerator) or "1"
        if len(denominator) == 1:  # a/b*c is (a/b)*c in Python: b needs parentheses
            below, precedence = denominator[0]
            text += f"/{below}" if precedence > MUL else f"/({below})"
        elif denominator:
            text += "/(" + "*".join(t if p > MUL - 1 else f"({t})" for t, p in denominator) + ")"
        return sign + text, MUL

    def _pow(self, expr: sympy.Pow) -> tuple[str, int]:
        base, exp = expr.base, expr.exp
        polynomial = exp.is_Integer and exp > 0
        self.opaque += not polynomial
        try:
            if exp == _HALF:
                return f"sqrt({self.emit(base)[0]})", ATOM
            if exp == _MINUS_HALF:
                return f"1/sqrt({self.emit(base)[0]})", MUL
            text = self._factor(base, POW)
            if exp.is_Integer and exp.is_negative and not self.dialect.exact:
                return f"{text}**({float(exp)!r})", POW  # NumPy refuses integers to negative powers
            if exp.is_Rational and not exp.is_Integer:
                return f"{text}**{self.dialect.rational(exp.p, exp.q)}", POW
            exponent, precedence = self.emit(exp)
            return f"{text}**{exponent if precedence >= ATOM else f'({exponent})'}", POW
        finally:
            self.opaque -= not polynomial

    def _handed_over(self, expr: sympy.Basic) -> str:
        """A node this walk does not print, printed by SymPy with the argument names."""
        renamed = expr.xreplace({s: sympy.Symbol(self.names[s], **s.assumptions0) for s in expr.free_symbols
                                 if s in self.names})
        self.fallback._opaque = self.opaque
        return f"({self.fallback.doprint(renamed)})"


def compile_function(symbols: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr],
                     shared: Sequence[tuple[sympy.Symbol, sympy.Expr]], namespace: Mapping[str, Any],
                     fallback: CodePrinter, dialect: Dialect = NUMPY, magnitude: bool = False
                     ) -> Callable[..., list]:
    """f(*values) -> [every expression], the ``shared`` subexpressions computed first.
    ``namespace`` provides the dialect's module; what else SymPy's printer used is imported."""
    names = {s: f"_a{i}" for i, s in enumerate(symbols)}
    names.update({s: f"_c{i}" for i, (s, _) in enumerate(shared)})
    emitter = _Emitter(names, dialect, fallback, magnitude)
    lines = [f"def _generated({', '.join(names[s] for s in symbols)}):"]
    lines += [f"    {names[s]} = {emitter.emit(e)[0]}" for s, e in shared]
    lines.append(f"    return [{', '.join(emitter.emit(e)[0] for e in exprs)}]")
    scope = dict(namespace)
    for module, imported in fallback.module_imports.items():
        if module != dialect.module:
            source = importlib.import_module(module)
            scope.update({name: getattr(source, name) for name in imported})
    source = "\n".join(lines)
    exec(compile(source, "<gradcheck generated>", "exec"), scope)  # source built above from SymPy nodes only
    function = scope["_generated"]
    function.source = source  # for whoever debugs a compiled derivative
    return function

