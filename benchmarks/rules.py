"""10. Layer rules: the CS231n-style NumPy layer backwards and matrix identities of
``tests/rule_cases.py`` (the right rule and its realistic bugs), judged by
``gradcheck.check_rule`` and by ``torch.autograd.gradcheck`` in float64, in its default
mode and with ``fast_mode=True``.

- gradcheck: ``check_rule(f, vjp, at=, wrt=, inputs=)`` with its defaults (3 seeded
  cotangents, rtol 1e-8); flagged iff ``not report.ok``. It also names parameters: a bug
  is *named right* when the parameters of its mismatching vjp rows and property rows are
  exactly the ones the bug gets wrong.
- PyTorch: a ``torch.autograd.Function`` per rule whose forward calls the NumPy ``f`` and
  whose backward calls the NumPy ``vjp`` (right or buggy); the wrt arguments are float64
  tensors, the inputs (labels, masks, indices) constants of the function. A parameter the
  vjp leaves out gets ``None`` (torch reads zeros). ``torch.autograd.gradcheck`` with its
  defaults (eps 1e-6, atol 1e-5, rtol 1e-3); flagged iff it returns False. A check that
  raises (a gradient of the wrong shape) did not pass: it counts as flagged, and as an
  error.

The tools run interleaved check by check (gradcheck, torch, torch fast, gradcheck, ...)
in one process, after one warm-up of each; every check is timed ``repeat`` times and the
figure is the median over checks of each check's median. NumPy's BLAS and PyTorch are
held to one thread (``python -m benchmarks`` sets the BLAS variables, ``peers.load``
the torch threads).

Bar: gradcheck catches every bug (the relative 1e-6 slips included) and names its wrong
parameters, with no right rule flagged.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

from . import peers, report, timing

NAME = "rules"
TITLE = "10. Layer rules"
LIBRARY = Path(__file__).resolve().parents[1] / "tests" / "rule_cases.py"

Judge = Callable[[Any, Callable[..., Any]], tuple[bool, dict]]


def library() -> ModuleType:
    """``tests/rule_cases.py``, imported by path (the tests are not a package)."""
    module = sys.modules.get("rule_cases")
    if module is None:
        spec = importlib.util.spec_from_file_location("rule_cases", LIBRARY)
        module = importlib.util.module_from_spec(spec)
        sys.modules["rule_cases"] = module  # dataclasses look their module up while defining
        spec.loader.exec_module(module)
    return module


def checks(lib: ModuleType) -> list[dict[str, Any]]:
    """Every rule to judge: each case's right vjp, then its bugs."""
    out = []
    for case in lib.CASES:
        out.append({"case": case, "rule": "right", "vjp": case.vjp, "wrong": frozenset(),
                    "how": None, "kind": "right"})
        for bug in case.bugs:
            out.append({"case": case, "rule": bug.name, "vjp": bug.vjp, "wrong": bug.wrong,
                        "how": bug.how, "kind": kind_of(bug)})
    return out


def kind_of(bug: Any) -> str:
    name = bug.name.lower()
    if "1e-6" in name:
        return "one element off by a relative 1e-6"
    if bug.how == "property":
        return "missing parameter or wrong shape"
    if "ignores" in name:
        return "ignores the cotangent"
    return "wrong formula (term, transpose, axis, scale, sign)"


# ------------------------------------------------------------------------------- judges
def judge_gradcheck() -> Judge:
    import gradcheck

    def judge(case: Any, vjp: Callable[..., Any]) -> tuple[bool, dict]:
        r = gradcheck.check_rule(case.f, vjp, at=case.arguments(), wrt=list(case.wrt),
                                 inputs=list(case.inputs))
        named = sorted(r.blamed("vjp") | {row.name for row in r.rows
                                          if row.kind == "property" and row.status == "mismatch"})
        culprits = sorted({str(row.culprit) for row in r.rows if row.status != "ok"})
        skipped = "; ".join(f"{k}: {v}" for k, v in r.skipped.items())
        return (not r.ok), {"named": named, "culprits": culprits, "sources": list(r.sources),
                            "skipped": skipped}

    return judge


def _numpy(value: Any) -> np.ndarray:
    return np.array(value.detach().numpy(), dtype=np.float64, copy=True)


def torch_rule(torch: ModuleType, case: Any, vjp: Callable[..., Any]):
    """``(apply, params)``: a torch.autograd.Function over the wrt arguments whose forward
    is the NumPy ``f`` and whose backward the NumPy ``vjp``; the inputs stay constants."""
    names = list(case.wrt)
    constants = {k: v for k, v in case.at.items() if k not in names}

    def arguments(params) -> dict[str, Any]:
        values = {n: _numpy(p) for n, p in zip(names, params)}
        values.update({k: np.array(v, copy=True) for k, v in constants.items()})
        return values

    class Rule(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *params):
            ctx.arguments = arguments(params)
            out = case.f(**arguments(params))
            ctx.is_tuple = isinstance(out, tuple)
            if ctx.is_tuple:
                return tuple(torch.from_numpy(np.array(o, dtype=np.float64)) for o in out)
            return torch.from_numpy(np.array(out, dtype=np.float64))

        @staticmethod
        def backward(ctx, *grads):
            g = tuple(_numpy(x) for x in grads) if ctx.is_tuple else _numpy(grads[0])
            args = {k: np.array(v, copy=True) for k, v in ctx.arguments.items()}
            result = vjp(g, **args)
            if isinstance(result, dict):
                values = [result.get(n) for n in names]
            elif isinstance(result, (tuple, list)):
                values = list(result) + [None] * (len(names) - len(result))
            else:
                values = [result]
            return tuple(None if v is None else torch.from_numpy(np.array(v, dtype=np.float64))
                         for v in values)

    params = tuple(torch.tensor(np.asarray(case.at[n], dtype=np.float64), dtype=torch.float64,
                                requires_grad=True) for n in names)
    return Rule.apply, params


def judge_torch(torch: ModuleType, fast: bool) -> Judge:
    def judge(case: Any, vjp: Callable[..., Any]) -> tuple[bool, dict]:
        apply, params = torch_rule(torch, case, vjp)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ok = torch.autograd.gradcheck(apply, params, raise_exception=False, fast_mode=fast)
        return (not ok), {"returned": bool(ok)}

    return judge


OURS = "gradcheck.check_rule"
TOOLS: list[tuple[str, str | None, Callable[[Any], Judge]]] = [
    (OURS, None, lambda _: judge_gradcheck()),
    ("torch.autograd.gradcheck", "torch", lambda torch: judge_torch(torch, fast=False)),
    ("torch gradcheck fast_mode", "torch", lambda torch: judge_torch(torch, fast=True)),
]


# ------------------------------------------------------------------------------- the run
def _verdict(judge: Judge, check: dict[str, Any]) -> dict[str, Any]:
    try:
        flagged, detail = judge(check["case"], check["vjp"])
        error = None
    except Exception as exc:  # a tool that chokes on a rule did not pass it
        flagged, detail, error = True, {}, f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    return {"flagged": bool(flagged), "detail": detail, "error": error}


def judge_all(judges: dict[str, Judge], all_checks: list[dict[str, Any]], repeat: int
              ) -> dict[str, list[dict[str, Any]]]:
    """Every check by every tool, interleaved tool by tool within each check."""
    out: dict[str, list[dict[str, Any]]] = {label: [] for label in judges}
    for i, check in enumerate(all_checks):
        verdicts: dict[str, dict[str, Any]] = {}

        def run(label: str, judge: Judge) -> Callable[[], None]:
            def go() -> None:  # the first run's verdict is kept; the others are timed alike
                verdict = _verdict(judge, check)
                verdicts.setdefault(label, verdict)
            return go

        times = timing.interleaved({label: run(label, j) for label, j in judges.items()},
                                   repeat=repeat, warmup=0)
        for label in judges:
            v = dict(verdicts[label], seconds=times[label]["total"]["median"],
                     samples=times[label]["total"]["samples"])
            out[label].append(v)
        if (i + 1) % 10 == 0 or i + 1 == len(all_checks):
            print(f"   {i + 1}/{len(all_checks)} rules judged", flush=True)
    return out


def _judges() -> tuple[dict[str, Judge], list[list[Any]]]:
    judges: dict[str, Judge] = {}
    skipped_rows = []
    for label, peer, make in TOOLS:
        module = None
        if peer is not None:
            module = peers.load(peer)
            if module is None:
                skipped_rows.append([label, peers.skipped(peer)] + [None] * 5)
                continue
        try:
            judges[label] = make(module)
        except Exception as error:
            traceback.print_exc()
            skipped_rows.append([label, f"skipped: set-up failed ({type(error).__name__}: {error})"]
                                + [None] * 5)
    return judges, skipped_rows


def _label(check: dict[str, Any]) -> str:
    return f"{check['case'].name} / {check['rule']}"


def _tables(result: dict, lib: ModuleType, all_checks: list[dict[str, Any]],
            verdicts: dict[str, list[dict[str, Any]]], skipped_rows: list) -> dict[str, dict]:
    bugs = [i for i, c in enumerate(all_checks) if c["kind"] != "right"]
    rights = [i for i, c in enumerate(all_checks) if c["kind"] == "right"]
    rows, summary = [], {}
    for label, vs in verdicts.items():
        caught = sum(vs[i]["flagged"] for i in bugs)
        alarms = sum(vs[i]["flagged"] for i in rights)
        errors = sum(v["error"] is not None for v in vs)
        per_check = timing.median([v["seconds"] for v in vs])
        total = sum(v["seconds"] for v in vs)
        summary[label] = {"caught": caught, "bugs": len(bugs), "false_alarms": alarms,
                          "rights": len(rights), "errors": errors,
                          "median_seconds": per_check, "total_seconds": total}
        rows.append([label, f"{caught} / {len(bugs)}", len(bugs) - caught, f"{alarms} / {len(rights)}",
                     errors, timing.fmt_seconds(per_check), round(total, 1)])
        print(f"   {label}: caught {caught}/{len(bugs)}, false alarms {alarms}/{len(rights)}, "
              f"errors {errors}, {timing.fmt_seconds(per_check)} per check", flush=True)
    report.table(result, f"{len(all_checks)} rules on {len(lib.CASES)} cases: {len(bugs)} buggy "
                 f"backwards, {len(rights)} right ones (float64)",
                 ["checker", "bugs caught", "missed", "right rules flagged", "errors",
                  "seconds per check (median)", "seconds in all (sum of medians)"], rows + skipped_rows)

    kind_rows = []
    for kind in sorted({all_checks[i]["kind"] for i in bugs}):
        idx = [i for i in bugs if all_checks[i]["kind"] == kind]
        kind_rows.append([kind, len(idx)] + [f"{sum(vs[i]['flagged'] for i in idx)}/{len(idx)}"
                                             for vs in verdicts.values()])
    kind_rows.append(["none (right rules passed)", len(rights)]
                     + [f"{sum(not vs[i]['flagged'] for i in rights)}/{len(rights)}"
                        for vs in verdicts.values()])
    report.table(result, "Bugs caught, by kind (last row: right rules passed)",
                 ["bug", "rules", *verdicts], kind_rows)

    ours = verdicts.get(OURS)
    case_rows = []
    for case in lib.CASES:
        idx = [i for i, c in enumerate(all_checks) if c["case"] is case]
        b_idx = [i for i in idx if all_checks[i]["kind"] != "right"]
        r_idx = next(i for i in idx if all_checks[i]["kind"] == "right")
        row = [case.name, len(b_idx)]
        for vs in verdicts.values():
            seconds = timing.median([vs[i]["seconds"] for i in idx])
            row.append(f"{sum(vs[i]['flagged'] for i in b_idx)}/{len(b_idx)}"
                       + (" (right rule flagged)" if vs[r_idx]["flagged"] else "")
                       + f", {timing.fmt_seconds(seconds)}")
        if ours:
            row.append(", ".join(ours[r_idx]["detail"].get("sources", [])))
        case_rows.append(row)
    report.table(result, "By case: bugs caught, and the median seconds per check",
                 ["case", "bugs", *verdicts] + (["gradcheck's sources"] if ours else []), case_rows)
    return summary


def _notes(result: dict, all_checks: list[dict[str, Any]], verdicts: dict[str, list[dict[str, Any]]],
           summary: dict[str, dict], repeat: int, wall: float) -> None:
    bugs = [i for i, c in enumerate(all_checks) if c["kind"] != "right"]
    rights = [i for i, c in enumerate(all_checks) if c["kind"] == "right"]
    # the evidence behind the counts: every miss, false alarm and error, by name
    for label, vs in verdicts.items():
        missed = [_label(all_checks[i]) for i in bugs if not vs[i]["flagged"]]
        alarms = [all_checks[i]["case"].name for i in rights if vs[i]["flagged"]]
        errors = [f"{_label(c)}: {v['error']}" for c, v in zip(all_checks, vs) if v["error"]]
        if missed or alarms:
            result["notes"].append(f"{label}: missed {len(missed)}" + (f" ({'; '.join(missed)})" if missed else "")
                                   + f"; right rules flagged {len(alarms)}"
                                   + (f" ({'; '.join(alarms)})" if alarms else ""))
        if errors:
            result["notes"].append(f"{label}: {len(errors)} checks raised (counted as flagged): "
                                   + "; ".join(errors[:8]) + (" ..." if len(errors) > 8 else ""))
    ours = verdicts.get(OURS)
    if ours:
        named = [i for i in bugs if ours[i]["flagged"] and not ours[i]["error"]
                 and set(ours[i]["detail"]["named"]) == set(all_checks[i]["wrong"])]
        misnamed = [f"{_label(all_checks[i])}: named {ours[i]['detail'].get('named')}, "
                    f"wrong {sorted(all_checks[i]['wrong'])}" for i in bugs if ours[i]["flagged"] and i not in named]
        only_claim = [i for i in bugs if ours[i]["detail"].get("culprits") == ["claimed"]]
        caught, alarms = summary[OURS]["caught"], summary[OURS]["false_alarms"]
        result["notes"].append(f"gradcheck named exactly the wrong parameters (vjp and property rows) in "
                               f"{len(named)} of {caught} caught bugs, with the claim the only culprit in "
                               f"{len(only_claim)}" + (f"; otherwise: {'; '.join(misnamed)}" if misnamed else ""))
        for source in ("symbolic", "tape"):
            without = [f"{all_checks[i]['case'].name} ({ours[i]['detail'].get('skipped', '')})"
                       for i in rights if source not in ours[i]["detail"].get("sources", [])]
            if without:
                result["notes"].append(f"gradcheck's {source} source did not run on: " + "; ".join(without)
                                       + " (the other sources judged those rules)")
        slips = [i for i in bugs if all_checks[i]["kind"].startswith("one element")]
        report.bar(result, "gradcheck catches every buggy backward (1e-6 slips included), wrong "
                   "parameters named, no right rule flagged",
                   caught == len(bugs) and alarms == 0 and len(named) == len(bugs),
                   f"{caught}/{len(bugs)} caught (1e-6 slips {sum(ours[i]['flagged'] for i in slips)}/"
                   f"{len(slips)}), named right {len(named)}/{len(bugs)}, {alarms}/{len(rights)} right flagged")
        for label, s in summary.items():
            if label != OURS:
                times = timing.fmt_ratio(timing.ratio(summary[OURS]["median_seconds"], s["median_seconds"]))
                result["notes"].append(f"gradcheck takes {times} the time per check of {label} (medians)")
    result["notes"].append(f"each check timed {repeat} time(s), the tools interleaved; {wall:.0f} s of "
                           "judging. torch.autograd.gradcheck names no parameter (it returns False, "
                           "raise_exception=False); a gradient of the wrong shape makes it raise a "
                           "RuntimeError instead (the errors column), counted as caught")


def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    lib = library()
    all_checks = checks(lib)
    repeat = 1 if quick else 3
    judges, skipped_rows = _judges()
    for judge in judges.values():  # one warm-up of each (imports, caches) before any timing
        _verdict(judge, all_checks[0])
    start = time.perf_counter()
    verdicts = judge_all(judges, all_checks, repeat)
    wall = time.perf_counter() - start
    summary = _tables(result, lib, all_checks, verdicts, skipped_rows)
    _notes(result, all_checks, verdicts, summary, repeat, wall)
    result["data"] = {
        "summary": summary, "repeat": repeat,
        "checks": [{"case": c["case"].name, "rule": c["rule"], "kind": c["kind"], "how": c["how"],
                    "wrong": sorted(c["wrong"]),
                    "verdicts": {label: vs[i] for label, vs in verdicts.items()}}
                   for i, c in enumerate(all_checks)],
    }
    return result
