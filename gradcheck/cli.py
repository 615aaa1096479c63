"""The ``gradcheck`` command: parse arguments, call :func:`gradcheck.check`, render the Report.

A thin layer. Heavy modules (SymPy, NumPy, the library itself) are imported inside the
command, so ``gradcheck --help`` starts fast.

Exit codes: 0 every source agrees everywhere; 1 at least one mismatch (or a
non-differentiable / undefined point, unless ``--allow-kinks``); 2 bad input, with a
one-line ``error:`` message on stderr; 3 an internal error (a bug: please report it).
No input ever produces a traceback (set ``GRADCHECK_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Sequence

import click

from gradcheck.cli_inputs import CLIError, _split_list, parse_at, parse_claims, parse_data, read_data_file
from gradcheck.cli_output import (GRAPH_FORMATS, STATUS_COLORS, _error, _error_internal,  # noqa: F401
                                  _is_terminal, _Progress, _record, _report_gradcheck_error, _styler,
                                  _write_graph, check_writable)
from gradcheck.defaults import DEFAULT_TIMEOUT
from gradcheck.errors import ExpressionError, GradcheckError

__all__ = ["main", "cli", "read_data_file", "parse_at", "parse_data", "parse_claims"]

EXIT_OK, EXIT_MISMATCH, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
PROGRESS_AFTER = 1.0  # seconds a check may run before progress appears on stderr


# --------------------------------------------------------------------------- presentation
# (the rest of it is cli_output.py)

def _use_color(flag: bool | None) -> bool:
    """Colour on a terminal (or with --color), never with --no-color or NO_COLOR set."""
    if os.environ.get("NO_COLOR"):
        return False
    if flag is not None:
        return flag
    return _is_terminal("stdout")


# --------------------------------------------------------------------------- the commands

def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from gradcheck import __version__
        click.echo(f"gradcheck {__version__}")
        ctx.exit(0)


class _Group(click.Group):
    """The ``gradcheck`` group, with errors in one house style and no tracebacks."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if name == "help" and "help" not in self.commands:
            click.echo(ctx.get_help())
            ctx.exit(0)
        if name and name not in self.commands and not name.startswith("-"):
            import difflib
            import shlex

            close = difflib.get_close_matches(name, list(self.commands), n=1, cutoff=0.6)
            if close:
                raise click.UsageError(f"no command {name!r}; did you mean {close[0]!r}?", ctx)
            raise click.UsageError(
                f"no command {name!r}. To check an expression, run: gradcheck expr {shlex.quote(name)}", ctx)
        return super().resolve_command(ctx, args)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        for stream in (sys.stdout, sys.stderr):  # never crash printing a user's odd characters
            try:
                stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                pass
        code = _run_guarded(lambda: super(_Group, self).main(
            args, prog_name or "gradcheck", complete_var, standalone_mode=False, **extra))
        if standalone_mode:
            sys.exit(code)
        return code


def _run_guarded(run) -> int:
    """Run click's main; turn every exception into an exit code and a one-line message."""
    debug = bool(os.environ.get("GRADCHECK_DEBUG"))
    try:
        rv = run()
        return rv if isinstance(rv, int) else EXIT_OK
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
        _error(_usage_message(e) + hint)
        return EXIT_INPUT
    except click.ClickException as e:
        _error(e.format_message())
        return e.exit_code if e.exit_code else EXIT_INPUT
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:  # e.g. `gradcheck ... | head -1`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_MISMATCH
    except GradcheckError as e:
        _report_gradcheck_error(e)
        return EXIT_INPUT
    except Exception as e:  # a bug: one line, never a traceback
        if debug:
            raise
        _error_internal(e)
        return EXIT_INTERNAL


def _usage_message(e: click.UsageError) -> str:
    message = e.format_message()
    if isinstance(e, click.MissingParameter) and getattr(e.param, "name", None) == "expression":
        return "missing the expression to check, e.g. gradcheck expr \"(w*x - y)**2\""
    if "unexpected extra argument" in message and e.ctx is not None and e.ctx.info_name == "expr":
        return message.rstrip(".") + "; put the whole expression in quotes, e.g. gradcheck expr \"w*x - y\""
    return message


class _ExprCommand(click.Command):
    """``expr``: lets an expression start with '-' (``gradcheck expr "-log(x)"``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _expression_last(self, ctx, list(args)))


def _expression_last(command: click.Command, ctx: click.Context, args: list[str]) -> list[str]:
    """Move a lone token like ``-x**2`` (not an option, not an option's value) after ``--``."""
    if "--" in args:
        return args
    takes_value, known = set(), set()
    for param in command.params:
        if isinstance(param, click.Option):
            names = list(param.opts) + list(param.secondary_opts)
            known.update(names)
            if not param.is_flag and not param.count:
                takes_value.update(param.opts)
    known.update(command.get_help_option_names(ctx))
    expecting_value = False
    for i, token in enumerate(args):
        if expecting_value:
            expecting_value = False
            continue
        if token in takes_value:
            expecting_value = True
            continue
        if token.startswith("-") and len(token) > 1 and not token.startswith("--") and token not in known:
            return args[:i] + args[i + 1:] + ["--", token]
    return args


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             invoke_without_command=True)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Check gradients three ways (symbolic, reverse-mode tape, finite differences)
    and say which source is wrong.

    \b
    Start here:
      gradcheck expr "(w*x - y)**2"
      gradcheck expr "(w*x - y)**2" --wrt w --data x=1,2,3 --data y=2,4,6 --claim w="2*x*(w*x - y)"
      gradcheck expr "x*w" --at x=2,w=3 --trace
      gradcheck expr "(w*x - y)**2" --data x=1,2 --data y=2,4 --html report.html

    Exit codes: 0 all sources agree, 1 a mismatch, 2 bad input.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


@cli.command("expr", cls=_ExprCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("expression", metavar="EXPR")
@click.option("--wrt", multiple=True, metavar="W1,W2",
              help="Parameters to differentiate (default: every variable not in --inputs or --data).")
@click.option("--inputs", multiple=True, metavar="X,Y", help="Variables held fixed (not differentiated).")
@click.option("--at", "at_items", multiple=True, metavar="NAME=V[,NAME=V]",
              help="Pin variables to values; repeat or use commas. Others get seeded values.")
@click.option("--data", "data_items", multiple=True, metavar="NAME=V1,V2,...",
              help="A data column; the loss is the expression reduced over the rows.")
@click.option("--data-file", type=click.Path(dir_okay=False), metavar="FILE.csv|FILE.json",
              help="Data columns from a CSV file with a header row, or JSON {column: [values]}.")
@click.option("--reduce", type=click.Choice(["sum", "mean"]), default="sum", show_default=True,
              help="How the expression is reduced over data rows.")
@click.option("--claim", "claim_items", multiple=True, metavar="W=EXPR",
              help="Your own gradient for a parameter, to be checked too; repeatable. With data, "
                   "write it per data row: it is reduced (summed or averaged) like the loss.")
@click.option("--points", type=int, default=1, show_default=True, help="How many seeded points to check.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the points (reproducible).")
@click.option("--rtol", type=float, default=None, help="Relative tolerance on top of each source's error bound [default: 1e-08].")
@click.option("--atol", type=float, default=None, help="Absolute tolerance [default: 0].")
@click.option("--method", type=click.Choice(["auto", "central", "richardson", "complex"]), default="auto",
              show_default=True, help="Finite-difference scheme.")
@click.option("--order", type=click.IntRange(1, 2), default=1, show_default=True,
              help="1: gradients; 2: every second derivative (claims per pair: --claim w1,w2=EXPR).")
@click.option("--dtype", type=click.Choice(["float64", "float32", "float16", "bfloat16"]), default="float64",
              show_default=True, help="What the code under test runs in: the tape runs in it, and differences are judged against its rounding.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_TIMEOUT,
              show_default=True, metavar="SECONDS",
              help="Time budget of the check: a source that cannot finish in it is skipped, with the reason.")
@click.option("--allow-kinks", is_flag=True, help="Non-differentiable points (kinks) do not fail the check.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout, nothing else.")
@click.option("--trace", is_flag=True, help="Show the tape's backward pass step by step at the first point.")
@click.option("--graph", "graph_file", metavar="FILE.dot|FILE.svg|FILE.png|FILE.pdf",
              help="Write the computational graph (SVG/PNG/PDF need Graphviz's 'dot').")
@click.option("--html", "html_file", metavar="FILE.html",
              help="Write a self-contained HTML report: the table, the trace and the graph.")
@click.option("--color/--no-color", default=None, help="Colour the table [default: only on a terminal; never with NO_COLOR set].")
def expr_command(expression: str, wrt: tuple[str, ...], inputs: tuple[str, ...], at_items: tuple[str, ...],
                 data_items: tuple[str, ...], data_file: str | None, reduce: str,
                 claim_items: tuple[str, ...], points: int, seed: int, rtol: float | None,
                 atol: float | None, method: str, order: int, dtype: str, timeout: float, allow_kinks: bool, as_json: bool, trace: bool,
                 graph_file: str | None, html_file: str | None, color: bool | None) -> None:
    """Check every partial derivative of EXPR.

    \b
    Examples:
      gradcheck expr "(w*x - y)**2"
      gradcheck expr "w1*x**2 + w2*x + b" --wrt w1,w2,b --at x=2 --claim w1="x**2"
      gradcheck expr "(w*x - y)**2" --data x=1,2,3 --data y=2,4,6 --claim w="2*x*(w*x - y)"
      gradcheck expr "(w*x - y)**2" --data-file rows.csv --reduce mean --points 20
      gradcheck expr "x*w" --at x=2 --at w=3 --trace --graph graph.svg --html report.html

    \b
    A claim is the derivative of the expression for one data row, written with
    the data columns' names; gradcheck reduces it over the rows like the loss
    (summed, or averaged with --reduce mean).
    """
    ctx = click.get_current_context()
    try:
        code = _expr(expression, wrt, inputs, at_items, data_items, data_file, reduce, claim_items,
                     points, seed, rtol, atol, method, allow_kinks, as_json, trace, graph_file,
                     html_file, color, timeout, dtype, order)
    except GradcheckError as e:
        _report_gradcheck_error(e)
        code = EXIT_INPUT
    except RecursionError:
        _error("the expression is nested too deeply to process")
        code = EXIT_INPUT
    except MemoryError:
        _error("out of memory: try fewer --points or fewer data rows")
        code = EXIT_INPUT
    ctx.exit(code)


def _expr(expression, wrt, inputs, at_items, data_items, data_file, reduce, claim_items,
          points, seed, rtol, atol, method, allow_kinks, as_json, trace, graph_file, html_file,
          color, timeout=DEFAULT_TIMEOUT, dtype="float64", order=1) -> int:
    # Everything the CLI can check on its own is checked before the library is imported.
    if data_items and data_file:
        raise click.UsageError("give data either with --data or with --data-file, not both")
    if as_json and trace:
        raise click.UsageError("--trace prints text, so it cannot be combined with --json")
    graph_format = None
    if graph_file is not None:
        suffix = Path(graph_file).suffix.lower()
        if suffix not in GRAPH_FORMATS:
            raise CLIError(f"--graph {graph_file}: unknown format {suffix or '(none)'!r}; "
                           "use a .dot, .svg, .png or .pdf file")
        graph_format = GRAPH_FORMATS[suffix]
        check_writable(graph_file, "--graph")
    if html_file is not None:
        check_writable(html_file, "--html")
    at = parse_at(at_items)
    data = read_data_file(data_file) if data_file else parse_data(data_items)
    claims = parse_claims(claim_items, pairs=order == 2)
    wrt_list = _split_list(wrt)
    if wrt and not wrt_list:
        raise CLIError("--wrt is empty; name at least one parameter, e.g. --wrt w")
    inputs_list = _split_list(inputs)
    both = sorted(set(at) & set(data))
    if both:
        raise CLIError(f"{both[0]!r} is given both with --at and as a data column; give it one way")

    from gradcheck.api import check  # the heavy import: SymPy, NumPy

    kwargs: dict[str, Any] = {}
    if rtol is not None:
        kwargs["rtol"] = rtol
    if atol is not None:
        kwargs["atol"] = atol
    label = f"gradcheck: checking {points} point{'s' if points != 1 else ''}..."
    with _Progress(label, PROGRESS_AFTER):
        try:
            report = check(expression, wrt_list, at or None, data=data or None, reduce=reduce,
                           claimed=claims or None, points=points, seed=seed, method=method,
                           inputs=inputs_list, timeout=timeout, dtype=dtype, order=order, **kwargs)
        except ExpressionError as error:
            raise _named_claim(error, expression, claims) from None
    code = report.exit_code(allow_kinks)
    if as_json:
        import json  # loaded for --json only (start-up time)

        click.echo(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        from gradcheck.render import render_table
        use_color = _use_color(color)
        click.echo(render_table(report, _styler(use_color), allow_kinks), color=use_color)
    if trace or graph_file:
        recording = _record(report, data, "--trace" if trace else "--graph")
        if recording is None:
            return EXIT_INPUT
        if trace:
            from gradcheck.trace import render_trace
            click.echo("")
            click.echo(render_trace(recording))
        if graph_file:
            statuses = {name: r.status for name, (_, r) in report.worst().items()}
            if not _write_graph(recording, statuses, graph_file, graph_format):
                return EXIT_INPUT
    if html_file:
        import shlex

        from gradcheck.page import Entry, write_page

        title = "gradcheck " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else "gradcheck"
        write_page(html_file, [Entry(f"gradcheck: {expression}", report, data or None, allow_kinks)],
                   title=title if len(title) < 200 else title[:197] + "...")
        click.echo(f"HTML report written to {html_file}", err=True)
    return code


def _named_claim(error: ExpressionError, expression: str, claims: dict[str, str]) -> ExpressionError:
    """A parse error inside a claim, prefixed with the --claim it came from."""
    names = [n for n, text in claims.items() if text == error.text and text != expression]
    if not names:
        return error
    return ExpressionError(f"--claim {names[0]}={error.text}: {error.message}", error.text, error.column)


main = cli  # the console script: ``gradcheck = gradcheck.cli:main``

if __name__ == "__main__":
    main()
