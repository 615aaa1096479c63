"""A two-layer network on a toy data set, trained with gradcheck's tape, after a gradient
check of every weight matrix.

The loss is one NumPy-style function. gradcheck runs it three ways before training
starts (on SymPy stand-ins, on the tape, on plain arrays for finite differences) and
compares the gradients; then the same function trains the network on tape tensors.

    python examples/mlp.py
"""

import sys

import numpy as np

import gradcheck
from gradcheck.tape import Tensor, no_grad

HIDDEN, LR, EPOCHS = 4, 0.5, 600


def toy_data(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points in the plane labelled +1 in the first and third quadrants, -1 elsewhere (XOR)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)


def loss(W1, b1, W2, b2, X, y):
    """Mean logistic loss of a tanh hidden layer and a linear output; labels y are +-1."""
    h = np.tanh(X @ W1 + b1)
    score = h @ W2 + b2
    return np.mean(np.log1p(np.exp(-y * score)))


def main() -> int:
    X, y = toy_data()
    rng = np.random.default_rng(1)
    start = {"W1": rng.normal(size=(2, HIDDEN)), "b1": np.zeros(HIDDEN),
             "W2": rng.normal(size=HIDDEN) / np.sqrt(HIDDEN), "b2": 0.0}

    report = gradcheck.check(loss, at=start, data={"X": X, "y": y})
    print(report)
    if not report.ok:
        return 1

    params = {name: Tensor(value, requires_grad=True, name=name) for name, value in start.items()}
    for epoch in range(EPOCHS + 1):
        value = loss(**params, X=X, y=y)
        value.backward()
        with no_grad():
            for p in params.values():
                p -= LR * p.grad
        for p in params.values():
            p.grad = None
        if epoch % 100 == 0:
            print(f"epoch {epoch:4d}  loss {value.item():.6f}")
    h = np.tanh(X @ params["W1"].data + params["b1"].data)
    predicted = np.sign(h @ params["W2"].data + params["b2"].data)
    print(f"training accuracy: {np.mean(predicted == y):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
