"""gradcheck.torch and gradcheck.jax: a framework's custom rule through check_rule.

They run where the bench extra is installed (torch, jax); the core install needs neither.
"""

import numpy as np
import pytest

RNG = np.random.default_rng(11)
X, W, B = RNG.normal(size=(4, 5)), RNG.normal(size=(5, 3)), RNG.normal(size=3)


def test_the_adapters_say_what_is_missing_without_the_framework(monkeypatch):
    import builtins

    import gradcheck.jax
    import gradcheck.torch
    from gradcheck import InputError

    real = builtins.__import__

    def no_frameworks(name, *args, **kwargs):
        if name.split(".")[0] in ("torch", "jax"):
            raise ImportError(name)
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_frameworks)
    with pytest.raises(InputError, match="needs PyTorch"):
        gradcheck.torch.check_function(object, X)
    with pytest.raises(InputError, match="needs JAX"):
        gradcheck.jax.check_custom_vjp(object, X)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def _linear(torch, backward):
    class Linear(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, W, b):
            ctx.save_for_backward(x, W)
            return x @ W + b

        @staticmethod
        def backward(ctx, g):
            x, W = ctx.saved_tensors
            return backward(g, x, W)
    return Linear


def test_a_right_torch_function_passes_with_torch_autograd_as_a_source(torch):
    import gradcheck.torch as gt
    Linear = _linear(torch, lambda g, x, W: (g @ W.T, x.T @ g, g.sum(0)))
    args = [torch.tensor(a, requires_grad=True) for a in (X, W, B)]
    report = gt.check_function(Linear, *args)
    assert report.ok, str(report)
    assert report.wrt == ["x", "W", "b"]
    assert "autodiff (torch autograd of forward)" in report.sources


@pytest.mark.parametrize("backward, blamed", [
    (lambda g, x, W: (g @ W.T, x.T @ g, g.sum(0) * 2), {"b"}),
    (lambda g, x, W: (g @ W.T, (g.T @ x).T * 0.5, g.sum(0)), {"W"}),
    (lambda g, x, W: (g @ W.T, x.T @ g, None), {"b"}),  # torch reads None as zero
    (lambda g, x, W: (torch_ones_like(g) @ W.T, x.T @ g, g.sum(0)), {"x"}),
])
def test_torch_bugs_are_caught_and_named(torch, backward, blamed):
    import gradcheck.torch as gt
    Linear = _linear(torch, backward)
    args = [torch.tensor(a, requires_grad=True) for a in (X, W, B)]
    assert gt.check_function(Linear, *args).blamed("vjp") == blamed


def torch_ones_like(g):
    import torch
    return torch.ones_like(g)


def test_a_torch_jvp_is_checked_too(torch):
    import gradcheck.torch as gt

    class Exp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = torch.exp(x)
            ctx.save_for_backward(y)
            ctx.save_for_forward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

        @staticmethod
        def jvp(ctx, t):
            (y,) = ctx.saved_tensors
            return t * y * 1.01  # wrong
    report = gt.check_function(Exp, torch.tensor(X, requires_grad=True))
    assert report.blamed("jvp") == {"output"} and report.blamed("vjp") == set()


def test_the_torch_adapter_refuses_what_is_not_a_function_class(torch):
    import gradcheck.torch as gt
    from gradcheck import InputError
    with pytest.raises(InputError, match="torch.autograd.Function subclass"):
        gt.check_function(lambda x: x, torch.tensor(X))


@pytest.fixture(scope="module")
def jax():
    return pytest.importorskip("jax")


def test_jax_custom_vjp_right_and_wrong(jax):
    import jax.numpy as jnp

    import gradcheck.jax as gj

    def make(scale):
        @jax.custom_vjp
        def layer(x, W):
            return jnp.tanh(x @ W)

        def fwd(x, W):
            y = jnp.tanh(x @ W)
            return y, (x, W, y)

        def bwd(res, g):
            x, W, y = res
            d = g * (1 - y ** 2)
            return d @ W.T, (x.T @ d) * scale
        layer.defvjp(fwd, bwd)
        return layer
    assert gj.check_custom_vjp(make(1.0), X, W).ok
    report = gj.check_custom_vjp(make(1.0 + 1e-6), X, W)
    assert report.blamed("vjp") == {"W"}
    assert "autodiff (JAX autodiff of f.fun)" in report.sources
    # the 64-bit context did not leak out of the check
    assert jnp.ones(1).dtype == jnp.float32


def test_jax_custom_jvp_is_checked_in_both_directions(jax):
    import jax.numpy as jnp

    import gradcheck.jax as gj

    @jax.custom_jvp
    def softplus(x):
        return jnp.log1p(jnp.exp(x))

    @softplus.defjvp
    def softplus_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return softplus(x), t * jax.nn.sigmoid(x) * (1 + 1e-6)
    report = gj.check_custom_vjp(softplus, X)
    assert report.blamed("jvp") == {"output"} and report.blamed("vjp") == {"x"}


def test_torch_non_differentiable_outputs_and_in_place_forwards(torch):
    import gradcheck.torch as gt

    class SortValues(torch.autograd.Function):  # returns (values, indices)
        @staticmethod
        def forward(ctx, x):
            values, indices = torch.sort(x)
            ctx.mark_non_differentiable(indices)
            ctx.save_for_backward(indices)
            return values, indices

        @staticmethod
        def backward(ctx, g, _):
            (indices,) = ctx.saved_tensors
            out = torch.zeros_like(g)
            out[indices] = g
            return out
    report = gt.check_function(SortValues, torch.tensor([0.3, -1.2, 2.5, 0.1], requires_grad=True))
    assert report.blamed("vjp") == set() and "autodiff (torch autograd of forward)" in report.sources

    class DoubleInPlace(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x.mul_(2)

        @staticmethod
        def backward(ctx, g):
            return 2 * g
    assert gt.check_function(DoubleInPlace, torch.tensor(X, requires_grad=True)).ok


def test_jax_nondiff_argnums_and_a_jitted_rule(jax):
    import functools

    import jax.numpy as jnp

    import gradcheck.jax as gj

    @functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
    def scaled_sin(x, s):
        return jnp.sin(x) * s

    scaled_sin.defvjp(lambda x, s: (scaled_sin(x, s), x), lambda s, x, g: (g * jnp.cos(x) * s,))
    report = gj.check_custom_vjp(scaled_sin, X, 2.5)
    assert report.ok and report.wrt == ["x"] and report.inputs == ["s"]
    assert gj.check_custom_vjp(jax.jit(scaled_sin, static_argnums=1), X, 2.5).ok
