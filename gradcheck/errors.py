"""The exception classes of gradcheck: one base, one subclass per kind of bad input."""

__all__ = [
    "GradcheckError",
    "ExpressionError",
    "InputError",
    "UnsupportedOperation",
]


class GradcheckError(Exception):
    """Base of every error gradcheck raises on purpose; the CLI catches only this."""


class ExpressionError(GradcheckError, ValueError):
    """An expression string was refused by the safe parser.

    ``text`` is the expression and ``column`` the 0-based offset of the offending
    token (or None); ``caret`` renders the two-line pointer under the bad spot.
    """

    def __init__(self, message: str, text: str = "", column: "int | None" = None):
        super().__init__(message)
        self.message = message
        self.text = text
        self.column = column

    @property
    def caret(self) -> str:
        if self.column is None or not self.text or len(self.text) > 200:
            return ""
        return f"  {self.text}\n  {' ' * self.column}^"


class InputError(GradcheckError, ValueError):
    """A point, data set, claim or option given to a check is malformed."""


class UnsupportedOperation(GradcheckError, TypeError):
    """An operation a source cannot run (e.g. a NumPy function the tape has no rule for)."""
