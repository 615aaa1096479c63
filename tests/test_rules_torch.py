"""The layer-rule suite (tests/rule_cases.py) again, each rule wrapped in a
``torch.autograd.Function`` whose forward and backward call the NumPy code, through
``gradcheck.torch.check_function``: right rules pass, every bug is caught on exactly its
parameters. Runs under the bench extra (torch); the core install skips it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rule_cases import BUGS, CASES, Bug, Case

torch = pytest.importorskip("torch")
import gradcheck.torch as gt  # noqa: E402


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _function(case: Case, vjp) -> type:
    names = list(case.at)

    class Rule(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *args):
            arrays = {n: a.detach().numpy().copy() for n, a in zip(names, args)}
            ctx.arrays = arrays
            out = case.f(**{n: a.copy() for n, a in arrays.items()})
            if isinstance(out, tuple):
                return tuple(torch.from_numpy(np.asarray(o, dtype=float)) for o in out)
            return torch.from_numpy(np.asarray(out, dtype=float))

        @staticmethod
        def backward(ctx, *gs):
            g = tuple(x.numpy() for x in gs) if len(gs) > 1 else gs[0].numpy()
            result = vjp(g, **{n: a.copy() for n, a in ctx.arrays.items()})
            if not isinstance(result, dict):
                result = dict(zip(case.wrt, result if isinstance(result, tuple) else (result,)))
            return tuple(None if n not in result or result[n] is None
                         else torch.from_numpy(np.asarray(result[n], dtype=float)) for n in names)
    return Rule


def _check(case: Case, vjp):
    args = [torch.tensor(np.asarray(v), requires_grad=n in case.wrt) for n, v in case.at.items()]
    return gt.check_function(_function(case, vjp), *args, wrt=[f"arg{list(case.at).index(n)}"
                                                               for n in case.wrt])


def _names(case: Case, names) -> set[str]:
    order = list(case.at)
    return {order[int(n[3:])] for n in names}


@pytest.mark.parametrize("case", CASES, ids=[_id(c.name) for c in CASES])
def test_the_right_rule_passes_through_torch(case: Case) -> None:
    report = _check(case, case.vjp)
    assert report.ok, str(report)


@pytest.mark.parametrize("case, bug", BUGS, ids=[f"{_id(c.name)}/{_id(b.name)}" for c, b in BUGS])
def test_the_bug_is_caught_through_torch(case: Case, bug: Bug) -> None:
    report = _check(case, bug.vjp)
    assert not report.ok, f"{bug.name} passed:\n{report}"
    failing = _names(case, {r.name for r in report.failures if r.kind in ("vjp", "property")})
    assert failing == bug.wrong, f"failing {sorted(failing)}, expected {sorted(bug.wrong)}\n{report}"
