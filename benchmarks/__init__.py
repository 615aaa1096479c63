"""gradcheck's benchmark suite: ``python -m benchmarks [--quick] [--only NAME] [--out DIR]``.

Each module measures one claim of the issue side by side with the peers (PyTorch, JAX,
autograd, numdifftools, micrograd, SciPy; ``pip install -e '.[bench]'``) and returns a
result that :mod:`benchmarks.report` writes to ``results/*.json`` and RESULTS.md.
This package imports nothing heavy, so ``--help`` is instant.
"""
