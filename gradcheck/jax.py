"""Check a ``jax.custom_vjp`` or ``jax.custom_jvp`` rule with the rule check, in float64
(``jax.enable_x64`` as a context, so no process-wide flag changes): the user's rule
against finite differences and against JAX's own differentiation of the undecorated
function (``f.fun``). Needs jax; imported only when used.

    report = gradcheck.jax.check_custom_vjp(f, x, W)
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import numpy as np

from .errors import InputError, UnsupportedOperation
from .rule import check_rule
from .rule_report import RuleReport
from .rule_sources import split

__all__ = ["check_custom_vjp"]


def _jax() -> Any:
    try:
        import jax
    except ImportError:
        raise InputError("gradcheck.jax needs JAX: pip install 'gradcheck[bench]' (or jax)") from None
    return jax


def _cannot(error: Exception) -> UnsupportedOperation:
    return UnsupportedOperation(f"JAX cannot differentiate f.fun ({type(error).__name__}: {error})")


def _names(function: Any, count: int) -> list[str]:
    try:
        parameters = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        parameters = []
    if len(parameters) >= count:
        return parameters[:count]
    return [f"arg{i}" for i in range(count)]


def check_custom_vjp(f: Any, *args: Any, wrt: Sequence[str] | None = None,
                     **options: Any) -> RuleReport:
    """Check the custom rule of ``f`` (a ``jax.custom_vjp`` or ``jax.custom_jvp``) at
    ``args``. Parameters are the floating arguments (or ``wrt``, by argument name);
    ``options`` are check_rule's. A custom_jvp's JVP is checked as given and its VJP as
    JAX transposes it; a custom_vjp has no forward mode, so only its VJP is checked."""
    jax = _jax()
    import jax.numpy as jnp
    from jax import custom_derivatives as cd

    inner = getattr(f, "__wrapped__", None)  # jax.jit(custom_vjp_function)
    if not isinstance(f, (cd.custom_vjp, cd.custom_jvp)) and isinstance(inner, (cd.custom_vjp, cd.custom_jvp)):
        f = inner
    if not isinstance(f, (cd.custom_vjp, cd.custom_jvp)):
        raise InputError(f"check_custom_vjp takes a jax.custom_vjp or jax.custom_jvp function, "
                         f"got {type(f).__name__}")
    primal = f.fun
    names = _names(primal, len(args))
    for name, a in zip(names, args):
        if isinstance(a, (dict, tuple)) or (isinstance(a, list) and any(hasattr(e, "shape") for e in a)):
            raise InputError(f"{name} is a pytree ({type(a).__name__}): check_custom_vjp takes "
                             "arrays and numbers; wrap the rule in a function of arrays")
    fixed = {names[i] for i in getattr(f, "nondiff_argnums", ()) if i < len(names)}
    at = {n: (a if n in fixed else np.array(a) if hasattr(a, "shape") or isinstance(a, (float, list))
              else a) for n, a in zip(names, args)}
    floats = [n for n, v in at.items() if isinstance(v, np.ndarray) and v.dtype.kind == "f"
              and n not in fixed]
    params = list(wrt) if wrt is not None else floats

    def call(function: Any, values: dict[str, Any], replace: dict[str, Any] | None = None) -> Any:
        inputs = {n: (jnp.asarray(v, dtype=jnp.float64) if n in floats else
                      jnp.asarray(v) if isinstance(v, np.ndarray) else v) for n, v in values.items()}
        inputs.update(replace or {})
        return function(*(inputs[n] for n in names))

    def numpy(out: Any) -> Any:
        if isinstance(out, (tuple, list)):
            return tuple(np.array(o, dtype=float) for o in out)
        return np.array(out, dtype=float)

    def pullback(function: Any, values: dict[str, Any], g: Any) -> dict[str, np.ndarray]:
        def of_params(*ps: Any) -> Any:
            return call(function, values, dict(zip(params, ps)))
        out, back = jax.vjp(of_params, *(jnp.asarray(values[p], dtype=jnp.float64) for p in params))
        g = tuple(jnp.asarray(x) for x in g) if isinstance(g, tuple) else jnp.asarray(g)
        return {p: np.array(r, dtype=float) for p, r in zip(params, back(g))}

    compiled: dict[str, Any] = {}

    def rule_f(**values: Any) -> Any:
        # compiled once over the parameters (finite differences call f thousands of times;
        # the other arguments keep their values in at throughout the check)
        with jax.enable_x64(True):
            if "f" not in compiled:
                compiled["f"] = jax.jit(lambda *ps: call(f, at, dict(zip(params, ps))))
            return numpy(compiled["f"](*(jnp.asarray(values[p], dtype=jnp.float64) for p in params)))

    def vjp(g: Any, **values: Any) -> dict[str, np.ndarray]:
        with jax.enable_x64(True):
            return pullback(f, values, g)

    def jvp(tangents: dict[str, np.ndarray], **values: Any) -> Any:
        with jax.enable_x64(True):
            def of_params(*ps: Any) -> Any:
                return call(f, values, dict(zip(params, ps)))
            primals = tuple(jnp.asarray(values[p], dtype=jnp.float64) for p in params)
            ts = tuple(jnp.asarray(tangents[p], dtype=jnp.float64) for p in params)
            return numpy(jax.jvp(of_params, primals, ts)[1])

    def structure(flat: np.ndarray) -> Any:
        if "shapes" not in compiled:  # the output's layout, from one evaluation
            out = rule_f(**at)
            compiled["tuple"] = isinstance(out, tuple)
            compiled["shapes"] = [o.shape for o in (out if compiled["tuple"] else (out,))]
        return split(flat, compiled["shapes"], compiled["tuple"])

    def autodiff_vjp(g_flat: np.ndarray) -> np.ndarray:
        try:
            with jax.enable_x64(True):
                result = pullback(primal, at, structure(g_flat))
        except Exception as error:  # f.fun is not code JAX can differentiate
            raise _cannot(error) from None
        return np.concatenate([result[p].ravel() for p in params])

    def autodiff_jvp(v_flat: np.ndarray) -> np.ndarray:
        try:
            return _autodiff_jvp(v_flat)
        except Exception as error:
            raise _cannot(error) from None

    def _autodiff_jvp(v_flat: np.ndarray) -> np.ndarray:
        with jax.enable_x64(True):
            def of_params(*ps: Any) -> Any:
                return call(primal, at, dict(zip(params, ps)))
            primals, ts, start = [], [], 0
            for p in params:
                size = int(np.size(at[p]))
                primals.append(jnp.asarray(at[p], dtype=jnp.float64))
                ts.append(jnp.asarray(v_flat[start:start + size].reshape(np.shape(at[p]))))
                start += size
            out = numpy(jax.jvp(of_params, tuple(primals), tuple(ts))[1])
        parts = out if isinstance(out, tuple) else (out,)
        return np.concatenate([o.ravel() for o in parts])

    rule_f.__qualname__ = getattr(primal, "__qualname__", "custom rule")
    # a custom_vjp has no forward mode: only a custom_jvp's JVP is checked
    return check_rule(rule_f, vjp, jvp if isinstance(f, cd.custom_jvp) else None, at=at,
                      wrt=params, foreign="JAX",
                      autodiff=("JAX autodiff of f.fun", autodiff_vjp, autodiff_jvp), **options)
