"""Check a ``torch.autograd.Function``'s backward (and ``jvp``, if it has one) with the
rule check: its ``apply`` is run in float64, its rule compared with finite differences in
float64 and with torch's own autodiff of its ``forward`` (where torch can differentiate
the operations ``forward`` uses). Needs torch; imported only when used.

    report = gradcheck.torch.check_function(MyLinear, x, W, b)
"""

from __future__ import annotations

import inspect
from typing import Any, Sequence

import numpy as np

from .errors import InputError, UnsupportedOperation
from .rule import check_rule
from .rule_report import RuleReport
from .rule_sources import split

__all__ = ["check_function"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise InputError("gradcheck.torch needs PyTorch: pip install 'gradcheck[bench]' "
                         "(or torch)") from None
    return torch


class _Context:
    """What ``forward(ctx, ...)`` may call on its context, for running it outside apply."""

    def __init__(self, needs: Sequence[bool]):
        self.saved_tensors: tuple = ()
        self.needs_input_grad = tuple(needs)
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors

    def save_for_forward(self, *tensors: Any) -> None:
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *args: Any) -> None:
        pass

    def mark_dirty(self, *args: Any) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


def _names(function_class: Any, count: int) -> list[str]:
    try:
        parameters = [p.name for p in inspect.signature(function_class.forward).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
    except (TypeError, ValueError):
        parameters = []
    if len(parameters) >= count:
        return parameters[:count]
    return [f"arg{i}" for i in range(count)]


def check_function(function_class: Any, *args: Any, wrt: Sequence[str] | None = None,
                   **options: Any) -> RuleReport:
    """Check ``function_class``'s backward (and jvp) at ``args`` (tensors or numbers).

    Parameters are the floating tensors that require grad (every floating tensor if none
    does), named after ``forward``'s arguments; the rest are inputs. ``options`` are
    check_rule's (``cotangents``, ``seed``, ``rtol``, ``atol``, ``timeout``).
    """
    torch = _torch()
    if not (isinstance(function_class, type) and issubclass(function_class, torch.autograd.Function)):
        raise InputError(f"check_function takes a torch.autograd.Function subclass, got "
                         f"{function_class!r}")
    names = _names(function_class, len(args))
    at: dict[str, Any] = {}
    wanted: list[str] = []
    for name, a in zip(names, args):
        if isinstance(a, torch.Tensor):
            at[name] = a.detach().cpu().numpy().copy()
            if a.is_floating_point() and a.requires_grad:
                wanted.append(name)
        else:
            at[name] = a
    floats = [n for n, a in zip(names, args) if isinstance(a, torch.Tensor) and a.is_floating_point()]
    params = list(wrt) if wrt is not None else (wanted or floats)
    tensors = [n for n, a in zip(names, args) if isinstance(a, torch.Tensor)]

    def to_torch(values: dict[str, Any], grad: bool = False) -> list[Any]:
        out = []
        for n in names:
            v = values[n]
            if n in tensors:
                t = torch.tensor(np.asarray(v))  # a copy: an in-place forward (mark_dirty) writes into it
                t = t.double() if t.is_floating_point() else t
                v = t.requires_grad_(grad and n in params)
            out.append(v)
        return out

    def numpy(out: Any) -> Any:
        if isinstance(out, (tuple, list)):
            return tuple(o.detach().numpy().copy() for o in out)
        return out.detach().numpy().copy()

    def structured(g: Any) -> list[Any]:
        return [torch.as_tensor(np.asarray(x, dtype=float)) for x in (g if isinstance(g, tuple) else (g,))]

    def grads(outputs: Any, inputs: list[Any], g: Any) -> dict[str, np.ndarray]:
        outs = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
        # outputs marked non-differentiable (sort's indices) take no cotangent
        pairs = [(o, c) for o, c in zip(outs, structured(g)) if o.requires_grad]
        result = torch.autograd.grad([o for o, _ in pairs], inputs, [c for _, c in pairs],
                                     allow_unused=True) if pairs else [None] * len(inputs)
        # torch's convention: None is a zero gradient
        return {p: (r.detach().numpy().copy() if r is not None else np.zeros(np.shape(at[p])))
                for p, r in zip(params, result)}

    def f(**values: Any) -> Any:
        with torch.no_grad():
            return numpy(function_class.apply(*to_torch(values)))

    def vjp(g: Any, **values: Any) -> dict[str, Any]:
        with torch.enable_grad():
            inputs = to_torch(values, grad=True)
            # clones, so a forward that writes into its input (mark_dirty) may
            out = function_class.apply(*(t.clone() if getattr(t, "requires_grad", False) else t
                                         for t in inputs))
            try:
                return grads(out, [inputs[names.index(p)] for p in params], g)
            except RuntimeError:  # torch refused what backward returned (a wrong shape)
                return raw_backward(inputs, g)

    def raw_backward(inputs: list[Any], g: Any) -> dict[str, Any]:
        """backward's own results, called directly, for the rule check to read."""
        ctx = _Context([n in params for n in names])
        with torch.no_grad():
            function_class.forward(ctx, *inputs)
            result = function_class.backward(ctx, *structured(g))
        result = result if isinstance(result, tuple) else (result,)
        return {p: (None if r is None else r.detach().numpy().copy())
                for p, r in zip(names, result) if p in params}

    def forward(inputs: list[Any]) -> Any:
        ctx = _Context([n in params for n in names])
        return function_class.forward(ctx, *(t.clone() if getattr(t, "requires_grad", False) else t
                                             for t in inputs))

    def autodiff_vjp(g_flat: np.ndarray) -> np.ndarray:
        try:
            with torch.enable_grad():
                inputs = to_torch(at, grad=True)
                out = forward(inputs)
                if not any(o.requires_grad for o in (out if isinstance(out, (tuple, list)) else [out])):
                    raise RuntimeError("its output is not connected to its inputs (NumPy inside?)")
                outs = out if isinstance(out, (tuple, list)) else (out,)
                g = split(g_flat, [tuple(o.shape) for o in outs], isinstance(out, (tuple, list)))
                result = grads(out, [inputs[names.index(p)] for p in params], g)
        except Exception as error:  # forward is not torch code torch can differentiate
            raise UnsupportedOperation(f"torch cannot differentiate {function_class.__name__}"
                                       f".forward ({type(error).__name__}: {error})") from None
        return np.concatenate([result[p].ravel() for p in params])

    def jvp(tangents: dict[str, np.ndarray], **values: Any) -> Any:
        import torch.autograd.forward_ad as fwAD
        with fwAD.dual_level():
            inputs = to_torch(values)
            duals = [fwAD.make_dual(t, torch.as_tensor(np.asarray(tangents[n], dtype=float)))
                     if n in params else t for n, t in zip(names, inputs)]
            out = function_class.apply(*duals)
            outs = out if isinstance(out, (tuple, list)) else (out,)
            tangent = tuple(fwAD.unpack_dual(o).tangent for o in outs)
            tangent = tuple(t.detach().numpy().copy() if t is not None else np.zeros(o.shape)
                            for t, o in zip(tangent, outs))
        return tangent if isinstance(out, (tuple, list)) else tangent[0]

    own_jvp = getattr(function_class.jvp, "__func__", function_class.jvp) is not \
        getattr(torch.autograd.Function.jvp, "__func__", torch.autograd.Function.jvp)
    f.__qualname__ = function_class.__name__
    return check_rule(f, vjp, jvp if own_jvp else None, at=at, wrt=params, foreign="torch",
                      autodiff=("torch autograd of forward", autodiff_vjp, None), **options)

