"""Tape state is per thread: grad mode, strict mode and Scalar's recording list.

A check in one thread while another holds ``no_grad()`` or ``strict()`` must give the
single-threaded verdicts; concurrent checks must each give their single-threaded report;
Scalar graphs built and differentiated in several threads at once must get their own
gradients, and a graph that mixes threads is refused rather than differentiated partially.
"""

import concurrent.futures
import math
import sys
import threading

import mpmath
import numpy as np
import pytest

import gradcheck
from gradcheck.errors import GradcheckError, UnsupportedOperation
from gradcheck.tape import Scalar, Tensor, enable_grad, is_grad_enabled, no_grad, strict
from gradcheck.tape import scalar as scalar_module
from gradcheck.tape.engine import is_strict

TIMEOUT = 30  # seconds any one wait may take before the test fails instead of hanging

X = np.array([0.3, -0.7, 1.1])
W0 = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])


def model(W):
    return np.sum(np.tanh(W @ X))


def model_grad(W):
    return np.outer(1.0 - np.tanh(W @ X) ** 2, X)


def slipped_grad(W):
    return model_grad(W) * (1.0 + 1e-6)


@pytest.fixture
def fast_switching():
    """Switch threads every 10 microseconds, so interleavings are many and fine-grained."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(previous)


def run_in_thread(target, *args):
    """Run ``target(*args)`` in a new thread; its result, or its exception re-raised here."""
    result = {}

    def body():
        try:
            result["value"] = target(*args)
        except BaseException as error:  # re-raised in the caller
            result["error"] = error

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "thread did not finish"
    if "error" in result:
        raise result["error"]
    return result.get("value")


class Holder:
    """A thread that enters ``mode()`` and holds it until released."""

    def __init__(self, mode):
        self.entered, self.release, self.seen = threading.Event(), threading.Event(), {}
        self.thread = threading.Thread(target=self._hold, args=(mode,))

    def _hold(self, mode):
        with mode():
            self.seen["inside"] = (is_grad_enabled(), is_strict())
            self.entered.set()
            self.release.wait(TIMEOUT)
        self.seen["after"] = (is_grad_enabled(), is_strict())

    def __enter__(self):
        self.thread.start()
        assert self.entered.wait(TIMEOUT)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive()


def points(report):
    return report.to_dict()["points"]


# ---------------------------------------------------------------- (a) checks beside another thread's no_grad()
def test_checks_beside_a_thread_holding_no_grad_give_the_single_threaded_verdicts():
    def checks():
        return [gradcheck.check(model, at={"W": W0}),
                gradcheck.check_grad(model, slipped_grad, at={"W": W0}),
                gradcheck.check("sin(w*x) + w**2", at={"w": 0.7, "x": 1.3},
                                claimed={"w": "x*cos(w*x) + 2*w"})]

    alone = checks()
    assert [r.ok for r in alone] == [True, False, True]
    with Holder(no_grad) as holder:
        beside = run_in_thread(checks)
        assert holder.seen["inside"] == (False, False)
        assert is_grad_enabled()  # the main thread is not in the other thread's block
    assert holder.seen["after"] == (True, False)
    for one, other in zip(alone, beside):
        assert one.ok == other.ok
        assert points(one) == points(other)  # verdicts, culprits, every source's values
        assert one.to_dict()["sources"] == other.to_dict()["sources"]
    assert is_grad_enabled() and not is_strict()


def test_a_thread_in_no_grad_records_nothing_while_another_records():
    w = Tensor(2.0, requires_grad=True)
    with Holder(no_grad):
        assert (w * 3.0).requires_grad
        assert run_in_thread(lambda: (w * 3.0).requires_grad)
        with no_grad():
            assert not (w * 3.0).requires_grad
            assert run_in_thread(lambda: (w * 3.0).requires_grad)  # a new thread: grad on
    assert is_grad_enabled()


# ---------------------------------------------------------------- (b) many checks at once
CASES = [
    ("text", dict(expression="sin(w*x) + w**2", at={"w": 0.7, "x": 1.3},
                  claimed={"w": "x*cos(w*x) + 2*w"})),
    ("text", dict(expression="sin(w*x) + w**2", at={"w": 0.7, "x": 1.3},
                  claimed={"w": "(x*cos(w*x) + 2*w)*(1 + 1e-6)"})),
    ("text", dict(expression="sin(w*x) + w**2", wrt=["w"], seed=3,
                  claimed={"w": "x*cos(w*x) + 2*w"})),
    ("text", dict(expression="sin(w*x) + w**2", wrt=["w"], seed=4,
                  claimed={"w": "(x*cos(w*x) + 2*w)*(1 - 1e-6)"})),
    ("text", dict(expression="(w*x - y)**2", data={"x": [1, 2, 3], "y": [2, 4, 6]},
                  claimed={"w": "2*x*(w*x - y)"})),
    ("text", dict(expression="log(1 + exp(a*x)) / x", points=3, seed=7)),
    ("grad", dict(function=model, grad_function=model_grad, at={"W": W0})),
    ("grad", dict(function=model, grad_function=slipped_grad, at={"W": W0})),
]
# Per thread and round: the six text cases, once each, and the two function models on
# alternate rounds; 25 rounds make 175 checks a thread, 100 of them the first 4 cases'.
ROUNDS = 25


def run_case(kind, options):
    options = dict(options)
    if kind == "text":
        return gradcheck.check(options.pop("expression"), **options)
    return gradcheck.check_grad(options.pop("function"), options.pop("grad_function"), **options)


def test_concurrent_checks_each_give_their_single_threaded_report():
    expected = [points(run_case(*case)) for case in CASES]
    assert [run_case(*case).ok for case in CASES] == [True, False, True, False, True, True, True, False]

    def worker(seed):
        results = []
        for round_ in range(ROUNDS):
            order = list(range(6)) + [6 + (round_ + seed) % 2]
            for k, i in enumerate(order):
                if (k + round_ + seed) % 3 == 0:  # some checks run from inside no_grad(): a
                    with no_grad():                # check turns grad on for itself only
                        report = run_case(*CASES[i])
                        assert not is_grad_enabled()
                else:
                    report = run_case(*CASES[i])
                assert is_grad_enabled() and not is_strict()
                results.append((i, points(report)))
        return results

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(worker, range(4), timeout=120))
    assert sum(len(r) for r in outcomes) == 4 * ROUNDS * 7
    for results in outcomes:
        for i, got in results:
            assert got == expected[i], f"case {i} differs when run concurrently"
    assert is_grad_enabled() and not is_strict()


# ---------------------------------------------------------------- (c) Scalar graphs in several threads
def scalar_graph(w, v, n=50):
    """A graph over leaves w, v of n steps; its value and d/dw, d/dv by the chain rule."""
    out, dw, dv = Scalar(0.0), 0.0, 0.0
    for k in range(1, n + 1):
        c = 0.01 * k
        out = out + (w * c + v).tanh()
        t = math.tanh(w.data * c + v.data)
        dw += c * (1.0 - t * t)
        dv += 1.0 - t * t
    return out, dw, dv


def test_a_graph_waiting_in_one_thread_survives_another_threads_backward():
    w = Scalar(0.4, requires_grad=True)  # leaves shared by both threads
    v = Scalar(-0.2, requires_grad=True)
    built, other_done = threading.Event(), threading.Event()
    result = {}

    def thread_a():
        out, dw, dv = scalar_graph(w, v)
        mine = list(scalar_module._tape)
        built.set()
        assert other_done.wait(TIMEOUT)
        assert scalar_module._tape == mine  # nothing of B's, and all of A's still there
        w.zero_grad()
        v.zero_grad()
        out.backward()
        result["a"] = (w.grad, v.grad, dw, dv, len(scalar_module._tape))

    def thread_b():
        assert built.wait(TIMEOUT)
        assert len(scalar_module._tape) == 0  # B's own list
        out, dw, dv = scalar_graph(w, v, n=30)
        out.backward()
        result["b"] = (w.grad, v.grad, dw, dv, len(scalar_module._tape))
        other_done.set()

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    for name in "ab":
        gw, gv, dw, dv, left = result[name]
        assert gw == pytest.approx(dw, rel=1e-12) and gv == pytest.approx(dv, rel=1e-12), name
        assert left == 0  # each backward dropped exactly its own graph


def test_scalar_graphs_built_and_backpropagated_concurrently(fast_switching):
    def worker(seed):
        errors = []
        for k in range(200):
            w = Scalar(0.1 * seed + 0.01 * k, requires_grad=True)
            v = Scalar(0.3 - 0.02 * k, requires_grad=True)
            out, dw, dv = scalar_graph(w, v, n=20 + seed)
            out.backward()
            if not (w.grad == pytest.approx(dw, rel=1e-12) and v.grad == pytest.approx(dv, rel=1e-12)):
                errors.append((k, w.grad, dw, v.grad, dv))
        return errors, len(scalar_module._tape)

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(worker, range(4), timeout=120))
    assert outcomes == [([], 0)] * 4


def test_a_scalar_graph_with_another_threads_operations_is_refused_not_partial():
    w = Scalar(0.5, requires_grad=True)
    inner = run_in_thread(lambda: w * w)  # recorded on that thread's list
    out = inner * 3.0 + w
    with pytest.raises(GradcheckError, match="another thread"):
        out.backward()
    with pytest.raises(GradcheckError, match="another thread"):
        inner.backward()  # its root is not on this thread's list at all
    # a leaf shared with another thread is fine: only operations belong to a thread
    run_in_thread(lambda: (w * 2.0).backward())
    (w * w).backward()
    assert w.grad == pytest.approx(2.0 + 1.0 + 1.0)  # 1 from the refused pass's w term
    del out, inner
    scalar_module._compact()  # what the refused pass left (inner * 3.0) is garbage
    assert scalar_module._tape == []


# ---------------------------------------------------------------- (d) strict mode is per thread
def test_strict_in_one_thread_does_not_refuse_float_in_another():
    w = Tensor(0.5, requires_grad=True)
    with Holder(strict) as holder:
        assert float(w * 2.0) == 1.0
        assert run_in_thread(lambda: float(w * 2.0)) == 1.0
        assert not is_strict()
        assert holder.seen["inside"] == (True, True)
        with strict():
            with pytest.raises(UnsupportedOperation, match="leaves the tape"):
                float(w * 2.0)
            assert run_in_thread(lambda: float(w * 2.0)) == 1.0  # a new thread: strict off
    assert holder.seen["after"] == (True, False)
    assert not is_strict()


# ---------------------------------------------------------------- the context managers, per thread
def test_modes_are_restored_per_thread_when_blocks_interleave_and_raise():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def thread_a():
        with pytest.raises(ValueError):
            with no_grad(), strict():
                a_in.set()
                assert b_in.wait(TIMEOUT)
                seen["a inside"] = (is_grad_enabled(), is_strict())
                raise ValueError  # leaves both blocks while B is still inside its own
        seen["a after"] = (is_grad_enabled(), is_strict())
        a_out.set()

    def thread_b():
        assert a_in.wait(TIMEOUT)
        seen["b before"] = (is_grad_enabled(), is_strict())
        with no_grad():
            with enable_grad():
                b_in.set()
                assert a_out.wait(TIMEOUT)
                seen["b inside"] = (is_grad_enabled(), is_strict())
            seen["b no_grad"] = (is_grad_enabled(), is_strict())
        seen["b after"] = (is_grad_enabled(), is_strict())

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert seen == {"a inside": (False, True), "a after": (True, False), "b before": (True, False),
                    "b inside": (True, False), "b no_grad": (False, False), "b after": (True, False)}
    assert is_grad_enabled() and not is_strict()


def test_no_grad_as_a_decorator_restores_the_calling_threads_mode():
    @no_grad()
    def inner():
        assert not is_grad_enabled()
        raise KeyError

    def body():
        with pytest.raises(KeyError):
            inner()
        return is_grad_enabled()

    assert run_in_thread(body) is True
    with no_grad():
        assert run_in_thread(body) is True
        with pytest.raises(KeyError):
            inner()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_high_precision_leaves_mpmath_alone():
    # mpmath's precision is one process-wide setting: refinements use a private context
    import mpmath
    before = mpmath.mp.dps
    report = gradcheck.check("sin(w)", claimed={"w": "cos(w)"}, at={"w": 0.3}, rtol=1e-18)
    assert report.points[0].params[0].high_precision and mpmath.mp.dps == before
