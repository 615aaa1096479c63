"""Symbolic stand-ins: run a NumPy-style Python function on SymPy values.

A StandIn wraps an ndarray of SymPy expressions (dtype object; 0-d for a scalar).
Arithmetic, ``@``, sums, means, reshapes, transposes and indexing run on that object
array as NumPy runs them on numbers. NumPy's ufuncs, which on object arrays would call
a ``.sin()`` method SymPy lacks, are mapped to SymPy functions by one table (rules.py).
Comparisons become 0/1 indicators (``Piecewise``), so ``np.where`` and masks work, but
Python control flow on a symbolic value (``if w > 0:``) cannot be traced and says so.
Indexing takes constant masks and integer arrays (repeats included); ``ufunc.at`` writes
into a stand-in or object array made in the function, never into an argument.

Beyond running on the object array: reductions over axis tuples (arrays.py); var, std,
outer, trace; joins, ``np.pad`` (copying modes) and ``np.einsum`` (layout.py); and
``numpy.linalg`` det, slogdet, inv, solve, matrix_power, norm (linalg.py), whose symbolic
determinants and inverses stop at MATRIX_LIMIT x MATRIX_LIMIT. Anything without a SymPy
meaning raises UnsupportedOperation naming it.

>>> import numpy as np
>>> w = symbols("w", (2,))
>>> as_expression((np.tanh(w) * [1.0, 2.0]).sum())
tanh(w_0) + 2*tanh(w_1)
"""

from .rules import ELEMENTWISE
from .value import OPERATION_LIMIT, StandIn, as_expression, element_names, symbols

__all__ = ["StandIn", "symbols", "as_expression", "element_names", "ELEMENTWISE",
           "OPERATION_LIMIT"]
