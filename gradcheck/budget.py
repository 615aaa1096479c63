"""A check's time budget: a deadline that the slow steps look at, and the hard stop for
the one step that cannot look (a single SymPy call)."""

from __future__ import annotations

import ctypes
import math
import threading
import time
from typing import Any, Callable, Iterator

from .defaults import DEFAULT_TIMEOUT
from .errors import InputError, UnsupportedOperation

__all__ = ["Budget", "DEFAULT_TIMEOUT", "OutOfTime"]

# Of the budget, the symbolic source may use this share: the other sources need the rest.
SYMBOLIC_SHARE = 0.5


class OutOfTime(UnsupportedOperation):
    """A step ran past the check's budget."""


class _Abandoned(BaseException):
    """Raised inside an abandoned step's thread: a BaseException, so that no ``except
    Exception`` in SymPy or user code swallows it."""


class Budget:
    """``timeout`` seconds from now (``None``: no limit)."""

    def __init__(self, timeout: float | None, whole: float | None = None):
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not timeout > 0 or math.isnan(timeout)):
            raise InputError(f"timeout must be a number of seconds > 0 (or None), got {timeout!r}")
        self.timeout = None if timeout is None or math.isinf(timeout) else float(timeout)
        self.whole = self.timeout if whole is None else whole  # the check's, for messages
        self.start = time.monotonic()

    def left(self) -> float:
        if self.timeout is None:
            return math.inf
        return self.timeout - (time.monotonic() - self.start)

    def spent(self) -> bool:
        return self.left() <= 0

    def _out_of_time(self, what: str) -> OutOfTime:
        share = "" if self.timeout == self.whole else f"its {self.timeout:.3g} s of "
        return OutOfTime(f"{what} did not finish within {share}the check's time budget "
                         f"(timeout={self.whole:g} s)")

    def check(self, what: str) -> None:
        """Raise OutOfTime when the budget is spent (called between units of work)."""
        if self.spent():
            raise self._out_of_time(what)

    def share(self, fraction: float) -> "Budget":
        """A budget of ``fraction`` of what is left, for one step."""
        if self.timeout is None:
            return Budget(None)
        return Budget(max(1e-3, fraction * self.left()), whole=self.whole)

    def within(self, points: list, notes: list[str]) -> Iterator[tuple[int, Any]]:
        """(k, point) while time is left, the first point always; where the budget ran
        out, ``notes`` says how many points were checked."""
        for k, point in enumerate(points):
            if k and self.spent():
                notes.append(f"only {k} of {len(points)} points were checked: the time "
                             f"budget ran out (timeout={self.timeout:g} s)")
                return
            yield k, point

    def run(self, what: str, work: Callable[[], Any]) -> Any:
        """``work()`` in a helper thread, abandoned when the budget runs out (the thread
        stops at its next budget check; a single SymPy call cannot be interrupted)."""
        if self.timeout is None:
            return work()
        done: dict[str, Any] = {}

        def target() -> None:
            try:
                try:
                    done["value"] = work()
                except _Abandoned:  # the caller has moved on
                    pass
                except BaseException as error:  # handed to the caller below
                    done["error"] = error
            except _Abandoned:  # a second interrupt, landing in a handler above
                pass
            finally:
                done["over"] = True

        thread = threading.Thread(target=target, name=f"gradcheck {what}", daemon=True)
        thread.start()
        thread.join(max(0.0, self.left()))
        if thread.is_alive():
            _interrupt(thread, done)
            raise self._out_of_time(what)
        if "error" in done:
            raise done["error"]
        return done["value"]


def _interrupt(thread: threading.Thread, done: dict) -> None:
    """Raise _Abandoned inside ``thread`` at its next bytecode: SymPy is pure Python, so an
    abandoned step stops at once instead of competing for the interpreter for minutes.
    An exception that lands where Python ignores it (a weakref callback during garbage
    collection) is lost, so a watcher sends it again until the thread has stopped."""
    def send() -> None:
        if thread.ident is not None and not done.get("over"):
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                       ctypes.py_object(_Abandoned))

    def watch() -> None:
        for _ in range(200):  # 10 s at most
            thread.join(0.05)
            if not thread.is_alive() or done.get("over"):
                return
            send()

    send()
    threading.Thread(target=watch, name="gradcheck watcher", daemon=True).start()
