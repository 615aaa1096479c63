"""Kink sites of a SymPy expression: where it may be non-differentiable, and whether a
point sits on one that moving a parameter element crosses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from .lambdify import compile_numpy

__all__ = ["KinkSites", "kink_model", "kink_arguments", "KINK_RTOL"]

# A kink site closer to zero than this (relative to its terms) is "at" the kink.
KINK_RTOL = 1e-12
# A site is also "at" its kink when rounding the inputs to float64 (this many ulps of
# each, times the site's slope) could move it there.
INPUT_ULPS = 4
EPS = float(np.finfo(float).eps)


def kink_arguments(expr: sympy.Expr) -> list[sympy.Expr]:
    """Expressions that are zero exactly where ``expr`` may have a kink: the arguments of
    Abs, sign and Heaviside, differences of Max/Min arguments, Piecewise switches."""
    sites = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Abs, sympy.sign, sympy.Heaviside)):
            sites.append(node.args[0])
        elif isinstance(node, (sympy.Max, sympy.Min)):
            args = node.args
            sites += [a - b for i, a in enumerate(args) for b in args[i + 1:]]
        elif isinstance(node, sympy.Piecewise):
            sites += [c.lhs - c.rhs for _, c in node.args
                      if isinstance(c, sympy.core.relational.Relational)]
    return [s for s in sites if s.free_symbols]


@dataclass(frozen=True)
class KinkSites:
    """Expressions that are zero where the function may have a kink, the elements each
    involves, and one compiled function: site values, then each (site, element) slope;
    ``magnitude`` gives the sites' term magnitudes. Values may be arrays over data rows."""

    sites: list[sympy.Expr]
    members: list[list[int]]
    names: tuple[str, ...]  # element symbol names, by element index
    values: Callable[..., list[np.ndarray]]
    magnitude: Callable[..., list[np.ndarray]]

    def _ratios(self, arguments: Mapping[str, Any]) -> tuple[list, list]:
        values, magnitudes = self.values(**arguments), self.magnitude(**arguments)
        ratios = []
        for value, magnitude in zip(values, magnitudes):
            value, magnitude = np.abs(np.asarray(value, dtype=float)), np.abs(np.asarray(magnitude, dtype=float))
            with np.errstate(all="ignore"):
                ratio = value / np.maximum(magnitude, np.finfo(float).tiny)
            ratios.append(np.where(value == 0, 0.0, ratio))
        return ratios, values[len(self.sites):]

    def at(self, arguments: Mapping[str, Any]) -> dict[int, str]:
        """Element -> why it sits on a kink here: a site within KINK_RTOL of zero (relative
        to its terms, in any data row), or within what rounding the inputs to float64 moves
        it (|sin(x)| at float pi), that moving the element moves there."""
        ratios, slopes = self._ratios(arguments)
        values = self.values(**arguments)
        slopes, found = iter(slopes), {}
        for k, (site, members, ratio) in enumerate(zip(self.sites, self.members, ratios)):
            moved = [(element, np.asarray(next(slopes), dtype=float)) for element in members]
            wobble = sum(np.abs(slope * float(arguments[self.names[e]])) for e, slope in moved)
            on_site = (ratio <= KINK_RTOL) | (np.abs(np.asarray(values[k], dtype=float))
                                               <= INPUT_ULPS * EPS * wobble)
            for element, slope in moved:
                if np.any(on_site & (slope != 0)):
                    found.setdefault(element, f"kink: {site} = 0 here, so the derivative does "
                                              "not exist (one-sided slopes differ)")
        return found

    def distance(self, arguments: Mapping[str, Any]) -> float:
        """The smallest relative distance of any site (and data row) to its kink."""
        ratios, _ = self._ratios(arguments)
        return min((float(np.min(r)) for r in ratios), default=np.inf)


def kink_model(expr: sympy.Expr, elements: Sequence[sympy.Symbol], symbols: tuple
               ) -> KinkSites | None:
    sites = list(dict.fromkeys(-s if s.could_extract_minus_sign() else s for s in kink_arguments(expr)))
    if not sites:
        return None
    where = {s: i for i, s in enumerate(elements)}
    members = [sorted((s for s in site.free_symbols if s in where), key=where.get) for site in sites]
    slopes = [site.diff(s) for site, inside in zip(sites, members) for s in inside]
    return KinkSites(sites, [[where[s] for s in inside] for inside in members],
                     tuple(s.name for s in elements), compile_numpy(symbols, sites + slopes),
                     compile_numpy(symbols, sites, magnitude=True))
