"""``python -m benchmarks [--quick] [--only NAME[,NAME]] [--out DIR]``: run the suite, write
``<out>/*.json``, the plots, and regenerate RESULTS.md.

The peers come from ``pip install -e '.[bench]'``; a benchmark whose peer is missing is
reported as skipped, never crashes the run.
"""

from __future__ import annotations

import os

# One BLAS thread for NumPy, as PyTorch gets one (torch.set_num_threads(1)): set before
# anything imports NumPy. A value the caller set is kept.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results"
BENCHMARKS = ("scalar_tape", "tensor_tape", "verdicts", "numeric_accuracy", "scaling", "startup",
              "reliability", "float32", "hessians", "rules", "big_backward")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run gradcheck's benchmarks side by side with its peers and write the figures down.")
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and fewer runs (under two minutes on 2 cores)")
    parser.add_argument("--only", metavar="NAME", action="append", default=[],
                        help=f"run only these benchmarks (repeatable or comma-separated): {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", metavar="DIR", type=Path, default=DEFAULT_OUT,
                        help="where the JSON results and plots go (default: benchmarks/results)")
    parser.add_argument("--results-md", metavar="PATH", type=Path, default=None,
                        help="RESULTS.md to regenerate (default: benchmarks/RESULTS.md with the default "
                             "--out, else <out>/RESULTS.md)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.names = names or list(BENCHMARKS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    from . import report

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m benchmarks" + ("" if argv is None and len(sys.argv) <= 1 else
                                        " " + shlex.join(sys.argv[1:] if argv is None else argv))
    results_md = args.results_md or (HERE / "RESULTS.md" if out == DEFAULT_OUT.resolve()
                                     else out / "RESULTS.md")
    failed = 0
    start_all = time.perf_counter()
    for name in args.names:
        print(f"== {name}{' (quick)' if args.quick else ''}", flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f".{name}", __package__)
            result = module.run(quick=args.quick, out=out)
        except Exception as error:  # one broken benchmark must not lose the others' figures
            failed += 1
            traceback.print_exc()
            result = report.new_result(name, name)
            result["skipped"] = f"failed: {type(error).__name__}: {error}"
        seconds = time.perf_counter() - start
        path = report.write(result, out, command, args.quick, seconds)
        for b in result.get("bars", []):
            verdict = {True: "met", False: "NOT MET", None: "not measured"}[b["met"]]
            print(f"   [{verdict}] {b['bar']}: {b['figure']}")
        if result.get("skipped"):
            print(f"   {result['skipped']}")
        print(f"   {seconds:.1f} s -> {path}", flush=True)
    try:
        plots = os.path.relpath(out, results_md.resolve().parent)
    except ValueError:
        plots = str(out)
    report.render(out, results_md, plots)
    if results_md.resolve() == (HERE / "RESULTS.md").resolve():
        if report.update_readme(HERE.parent / "README.md", out):
            print("updated the benchmark block of README.md")
    print(f"wrote {results_md} ({time.perf_counter() - start_all:.1f} s in all)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
