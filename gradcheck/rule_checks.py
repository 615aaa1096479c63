"""One rule check: every source under every cotangent and tangent, judged element by
element (rule_verdict.py), and the rule's properties, as the rows of a RuleReport.

The exact sources (tape, SymPy's Jacobian, a framework's autodiff, the claim) are full
arrays, compared on every element whatever the size. Finite differences give the
Jacobian times directions: every element's own direction while the call budget allows,
else random unit directions per parameter, on which every source is then projected too.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .budget import Budget
from .errors import GradcheckError, UnsupportedOperation
from .finite import CALL_BUDGET, calls_per_check, random_directions
from .numeric import EPS
from .rule_claims import Claimed
from .rule_report import RuleRow
from .rule_sources import NumericJacobian, Rule, numeric_jacobian, symbolic_jacobian, tape_jvp, tape_vjp
from .rule_verdict import ROUNDING_ULPS, ArrayVerdict, judge_array, rounding_bounds

__all__ = ["Checker", "BASIS_OUTPUTS", "DIRECTIONS"]

BASIS_OUTPUTS = 16  # outputs this small get every Jacobian row checked
DIRECTIONS = 8  # random directions per parameter when its elements exceed the call budget
LOW_ULPS = 16  # a gradient returned in float32 (or lower) is trusted to this many of its ulps
NUMBERS_BUDGET = 2_000_000  # perturbed output elements for Richardson's many steps
NUMERIC_NUMBERS = 20_000_000  # at most this many numbers in the finite differences' arrays
_LINEAR = (0.75, -1.25)  # vjp(a g1 + b g2) against a vjp(g1) + b vjp(g2)


class Checker:
    def __init__(self, rule: Rule, claimed: Claimed, count: int, seed: int, rtol: float,
                 atol: float, method: str, budget: Budget, autodiff: Any = None):
        self.rule, self.claimed, self.count = rule, claimed, count
        self.rtol, self.atol, self.method, self.budget = rtol, atol, method, budget
        self.rng = np.random.default_rng(seed)
        self.autodiff = autodiff
        self.skipped: dict[str, str] = {}
        self.notes: list[str] = []
        self.jacobian: np.ndarray | None = None
        self.numeric_method = method
        self.undefined: str | None = None
        self.smooth = False  # SymPy found no piecewise function in f

    def sources(self) -> list[str]:
        out = ["symbolic"] * (self.jacobian is not None) + ["tape"] * ("tape" not in self.skipped)
        if self.autodiff is not None and "autodiff" not in self.skipped:
            out.append(f"autodiff ({self.autodiff[0]})")
        return out + ["numeric"] * ("numeric" not in self.skipped) + ["claimed"] * bool(
            self.claimed.vjp or self.claimed.jvp)

    # ------------------------------------------------------------ sources
    def _symbolic(self) -> None:
        if "symbolic" in self.skipped:
            return
        share = self.budget.share(0.5)
        try:
            self.jacobian, self.smooth = share.run("the symbolic source",
                                                   lambda: symbolic_jacobian(self.rule, share))
        except GradcheckError as error:
            self.skipped["symbolic"] = str(error)
        except RecursionError:
            self.skipped["symbolic"] = "the expression is nested too deeply for SymPy"

    def _exact(self, name: str, fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray
               ) -> np.ndarray | None:
        if name in self.skipped:
            return None
        try:
            return np.asarray(fn(x), dtype=float)
        except GradcheckError as error:
            self.skipped[name] = str(error)
            return None

    def _plan(self, tangents: list[np.ndarray]) -> tuple[list[int | np.ndarray], dict]:
        """Directions for the finite differences: each element's own (its flat index;
        small parameters first) while the call budget lasts, else random ones; then the
        tangents. ``plan[p]`` says which, and where p's directions start."""
        rule, slices = self.rule, self.rule.slices
        calls = calls_per_check("central")
        # numeric.py holds outputs x directions x steps numbers at once: a big output
        # gets fewer directions (or none: the numeric source then says why it skipped)
        room = NUMERIC_NUMBERS // (calls * max(rule.out_size, 1))
        if room < len(rule.wrt) + len(tangents):
            raise UnsupportedOperation(
                f"the output has {rule.out_size:,} elements: finite differences along even one "
                f"direction per parameter would hold over {NUMERIC_NUMBERS:,} numbers")
        spare = min(CALL_BUDGET // calls, room) - len(tangents)
        directions: list[int | np.ndarray] = []
        plan: dict = {}
        order = sorted(rule.wrt, key=lambda q: slices[q].stop - slices[q].start)
        for k, p in enumerate(order):
            where = slices[p]
            size = where.stop - where.start
            count = min(DIRECTIONS, max(1, spare // (len(order) - k)))
            if size <= spare - (len(order) - k - 1):
                plan[p] = ("basis", len(directions))
                directions += range(where.start, where.stop)
                spare -= size
            else:
                u = random_directions(size, count, self.rng)
                plan[p] = ("random", len(directions), u)
                for d in u:
                    full = np.zeros(rule.size)
                    full[where] = d
                    directions.append(full)
                spare -= count
                self.notes.append(f"{p}: finite differences along {count} random "
                                  f"directions ({size:,} elements); the exact sources element by element")
        return directions + list(tangents), plan

    def _numeric(self, directions: list[int | np.ndarray], center: np.ndarray
                 ) -> NumericJacobian | None:
        method = self.method
        if method == "auto":
            calls = len(directions) * calls_per_check("richardson")
            fits = calls <= CALL_BUDGET and calls * self.rule.out_size <= NUMBERS_BUDGET
            method = "richardson" if fits else "central"
        if method == "complex":  # NumPy code need not be analytic in a complex step
            method = "richardson"
        self.numeric_method = method
        self.budget.check("the numeric source")
        return numeric_jacobian(self.rule, directions, method, center)

    # ------------------------------------------------------------ judging
    def _row(self, kind: str, name: str, label: str, v: ArrayVerdict) -> RuleRow:
        if v.dissent and v.status == "ok":
            v.message = (f"finite differences disagree on {v.dissent} of {v.elements} {v.unit}s "
                         "(ill-conditioned here, or steps too large); every exact source agrees")
        return RuleRow(kind, name, label, v.status, v.culprit, v.message, v.elements,
                       v.mismatches, v.worst, v.values, v.rel_error, v.first, v.unit)

    def _judge(self, exact: dict[str, np.ndarray], magnitude: np.ndarray | None,
               numeric: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
               shape: tuple[int, ...], claim_eps: float = EPS) -> ArrayVerdict:
        bounds = rounding_bounds(exact, magnitude)
        if "claimed" in bounds and claim_eps > EPS:  # 16 ulps of the claim's own dtype
            bounds["claimed"] = bounds["claimed"] * (LOW_ULPS * claim_eps / (ROUNDING_ULPS * EPS))
        values = dict(exact)
        kinks = None
        if numeric is not None:
            values["numeric"] = numeric[0]
            bounds["numeric"] = numeric[1] + next(iter(bounds.values()))
            kinks = None if self.smooth else numeric[2]
        return judge_array(values, bounds, shape, self.rtol, self.atol, kinks, self.undefined)

    def _projected(self, exact: dict[str, np.ndarray], u: np.ndarray,
                   numeric: tuple[np.ndarray, np.ndarray, np.ndarray], claim_eps: float = EPS
                   ) -> ArrayVerdict:
        values = {s: u @ x for s, x in exact.items()}
        magnitude = np.abs(u) @ np.max(np.abs(np.stack(list(exact.values()))), axis=0)
        verdict = self._judge(values, magnitude, numeric, (len(u),), claim_eps)
        verdict.unit = "direction"
        return verdict

    # ------------------------------------------------------------ the checks
    def run(self, center: np.ndarray) -> list[RuleRow]:
        m, n = self.rule.out_size, self.rule.size
        bad = np.flatnonzero(~np.isfinite(center))
        if bad.size:
            self.undefined = (f"f is not finite at {bad.size} of {m} output elements (first: "
                              f"flat index {bad[0]}, value {center[bad[0]]}): no derivative there")
        cotangents = [(f"g{i}", self.rng.standard_normal(m)) for i in range(self.count)]
        if m <= BASIS_OUTPUTS:
            cotangents += [(f"e{k}", np.eye(m)[k]) for k in range(m)]
        tangents = [(f"v{i}", self.rng.standard_normal(n)) for i in range(self.count)]
        self._symbolic()
        directions: list = []
        plan: dict = {}
        numeric = None
        try:
            directions, plan = self._plan([v for _, v in tangents])
            numeric = self._numeric(directions, center)
        except GradcheckError as error:
            self.skipped["numeric"] = str(error)
        rows: list[RuleRow] = []
        first_claims: dict[str, np.ndarray | None] = {}
        for label, g in cotangents:
            self.budget.check("the vector-Jacobian products")
            rows += self._vjp_rows(label, g, numeric, plan, first_claims)
        if self.claimed.jvp is not None:
            for j, (label, v) in enumerate(tangents):
                column = len(directions) - len(tangents) + j
                rows += self._jvp_rows(label, v, numeric, column)
        if self.claimed.vjp is not None:
            rows += self._linearity(cotangents, first_claims)
        if self.claimed.vjp is not None and self.claimed.jvp is not None:
            rows += self._dot(cotangents[:self.count], tangents)
        rows += [RuleRow("property", p.name, p.prop, "mismatch", "claimed", p.message)
                 for p in self.claimed.problems]
        return rows

    def _vjp_sources(self, g: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        exact: dict[str, np.ndarray] = {}
        magnitude = None
        if self.jacobian is not None:
            exact["symbolic"] = self.jacobian.T @ g
            magnitude = np.abs(self.jacobian).T @ np.abs(g)
        taped = self._exact("tape", lambda x: np.stack(tape_vjp(self.rule, x)), g)
        if taped is not None:
            exact["tape"] = taped[0]
            magnitude = taped[1] if magnitude is None else np.maximum(magnitude, taped[1])
        if self.autodiff is not None and self.autodiff[1] is not None:
            framework = self._exact("autodiff", self.autodiff[1], g)
            if framework is not None:
                exact["autodiff"] = framework
        return exact, magnitude

    def _vjp_rows(self, label: str, g: np.ndarray, numeric: NumericJacobian | None,
                  plan: dict, first: dict) -> list[RuleRow]:
        rule = self.rule
        exact, magnitude = self._vjp_sources(g)
        claims = self.claimed.vjp_at(g) if self.claimed.vjp is not None else {}
        if not first and claims:
            first.update(claims)
        rows = []
        for p, where in rule.slices.items():
            shape = rule.shapes[p]
            sources = {s: x[where] for s, x in exact.items()}
            if self.claimed.vjp is not None:
                if claims.get(p) is None:
                    rows.append(RuleRow("vjp", p, label, "mismatch", "claimed",
                                        f"vjp gave no usable gradient for {p}", int(np.prod(shape))))
                    continue
                sources["claimed"] = claims[p]
            mag = magnitude[where] if magnitude is not None else None
            num = None
            if numeric is not None and plan[p][0] == "basis":
                num = numeric.vjp(g, slice(plan[p][1], plan[p][1] + where.stop - where.start))
            if len(sources) + (numeric is not None) < 2:  # one source: nothing to compare
                rows.append(RuleRow("vjp", p, label, "undefined", None,
                                    "only one source could run: nothing to compare it with",
                                    int(np.prod(shape))))
                continue
            low = self.claimed.eps.get(p, EPS)
            if plan.get(p, ("basis",))[0] == "basis" or numeric is None:
                verdict = self._judge(sources, mag, num, shape, low)
            else:  # the exact sources element by element, then everyone along directions
                verdict = self._judge(sources, mag, None, shape, low) if len(sources) >= 2 else None
                start, u = plan[p][1], plan[p][2]
                num = numeric.vjp(g, slice(start, start + len(u)))
                if verdict is None or verdict.status == "ok":
                    along = self._projected(sources, u, num, low)
                    if verdict is None or along.status != "ok":
                        if along.message:
                            along.message = f"along random directions: {along.message}"
                        verdict = along
            rows.append(self._row("vjp", p, label, verdict))
        return rows

    def _jvp_rows(self, label: str, v: np.ndarray, numeric: NumericJacobian | None,
                  column: int) -> list[RuleRow]:
        rule = self.rule
        claim = self.claimed.jvp_at(v)
        if claim is None:  # nothing to judge: the sources are not computed
            return [RuleRow("jvp", "output", label, "mismatch", "claimed",
                            "jvp gave no usable tangent (see the shape row)")]
        exact: dict[str, np.ndarray] = {}
        magnitude = None
        if self.jacobian is not None:
            exact["symbolic"] = self.jacobian @ v
            magnitude = np.abs(self.jacobian) @ np.abs(v)
        taped = self._exact("tape forward mode", lambda x: tape_jvp(rule, x), v)
        if taped is not None:
            exact["tape"] = taped
        if self.autodiff is not None and self.autodiff[2] is not None:
            framework = self._exact("autodiff", self.autodiff[2], v)
            if framework is not None:
                exact["autodiff"] = framework
        exact["claimed"] = claim
        rows, start = [], 0
        for i, shape in enumerate(rule.out_shapes):
            part = slice(start, start + int(np.prod(shape)))
            start = part.stop
            num = None
            if numeric is not None:
                num = (numeric.value[part, column], numeric.error[part, column],
                       numeric.kink[part, column])
            verdict = self._judge({s: x[part] for s, x in exact.items()},
                                  None if magnitude is None else magnitude[part], num, shape)
            name = f"output {i}" if rule.is_tuple else "output"
            rows.append(self._row("jvp", name, label, verdict))
        return rows

    def _linearity(self, cotangents: list, first: dict) -> list[RuleRow]:
        """vjp(a g1 + b g2) = a vjp(g1) + b vjp(g2), and the same g twice gives the same."""
        if len(cotangents) < 2 or not first:
            return []
        (a, b), g1, g2 = _LINEAR, cotangents[0][1], cotangents[1][1]
        r1, again = first, self.claimed.vjp_at(g1)
        r2, r12 = self.claimed.vjp_at(g2), self.claimed.vjp_at(a * g1 + b * g2)
        rows = []
        for p in self.rule.wrt:
            if any(x.get(p) is None for x in (r1, r2, r12, again)):
                continue
            combined = a * r1[p] + b * r2[p]
            size = np.abs(a * r1[p]) + np.abs(b * r2[p]) + np.abs(r12[p])
            eps = max(EPS, LOW_ULPS / ROUNDING_ULPS * self.claimed.eps.get(p, EPS))
            tol = ROUNDING_ULPS * eps * max(float(size.max(initial=0.0)), 1e-300) + self.atol
            tol += self.rtol * float(np.abs(r12[p]).max(initial=0.0))
            gap = float(np.abs(r12[p] - combined).max(initial=0.0))
            if not gap <= tol:
                rows.append(RuleRow("property", p, "linear in g", "mismatch", "claimed",
                                    f"vjp is not linear in g for {p}: vjp({a} g1 + {b} g2) differs "
                                    f"from {a} vjp(g1) + {b} vjp(g2) by {gap:.3g} (does it ignore "
                                    "g, or use it more than once?)"))
            repeat = float(np.abs(again[p] - r1[p]).max(initial=0.0))
            if not repeat <= ROUNDING_ULPS * eps * float(np.abs(r1[p]).max(initial=0.0)):
                rows.append(RuleRow("property", p, "repeatable", "mismatch", "claimed",
                                    f"two calls of vjp with the same g differ by {repeat:.3g} for {p}"))
        return rows

    def _dot(self, cotangents: list, tangents: list) -> list[RuleRow]:
        """<u, jvp(v)> = <vjp(u), v>: the claimed rules are each other's transposes."""
        rows = []
        for (gl, u), (vl, v) in zip(cotangents, tangents):
            jv, ju = self.claimed.jvp_at(v), self.claimed.vjp_at(u)
            if jv is None or any(ju.get(p) is None for p in self.rule.wrt):
                continue
            flat = self.rule.flatten(ju)
            lhs, rhs = float(u @ jv), float(flat @ v)
            size = float(np.abs(u) @ np.abs(jv) + np.abs(flat) @ np.abs(v))
            tol = ROUNDING_ULPS * EPS * size + self.rtol * max(abs(lhs), abs(rhs)) + self.atol
            ok = abs(lhs - rhs) <= tol
            rel = abs(lhs - rhs) / max(abs(lhs), abs(rhs), 1e-300)
            rows.append(RuleRow("dot", "<u, J v>", f"{gl}, {vl}", "ok" if ok else "mismatch",
                                None if ok else "claimed",
                                None if ok else f"<u, jvp(v)> = {lhs:.17g} but <vjp(u), v> = "
                                                f"{rhs:.17g}: vjp and jvp are not transposes",
                                values={"jvp": lhs, "vjp": rhs}, rel_error=rel))
        return rows
