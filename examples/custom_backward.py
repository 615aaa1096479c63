"""A hand-written backward pass with a deliberate bug, caught by gradcheck.check_grad.

A small classifier (tanh hidden layer, softmax cross-entropy) and its backward pass
written out by hand, as one does to learn backpropagation. The first version has the
classic slip: tanh'(a) written as 1 - h instead of 1 - h**2. check_grad compares it
with SymPy, the tape and finite differences, and names the culprit: the claimed
gradient, for the parameters before the slip (W1, b1) and not after it (W2, b2).

    python examples/custom_backward.py
"""

import sys

import numpy as np

from gradcheck import check_grad


def loss(W1, b1, W2, b2, X, labels):
    """Mean softmax cross-entropy of a tanh hidden layer and a linear output."""
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def backward(W1, b1, W2, b2, X, labels, slip=False):
    """d loss / d every parameter, by hand."""
    n = len(labels)
    h = np.tanh(X @ W1 + b1)
    z = h @ W2 + b2
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    dz = p.copy()
    dz[np.arange(n), labels] -= 1  # softmax cross-entropy: p - onehot
    dz /= n
    dh = dz @ W2.T
    da = dh * (1 - h) if slip else dh * (1 - h ** 2)  # tanh'(a) = 1 - tanh(a)**2
    return {"W1": X.T @ da, "b1": da.sum(axis=0), "W2": h.T @ dz, "b2": dz.sum(axis=0)}


def backward_with_slip(W1, b1, W2, b2, X, labels):
    return backward(W1, b1, W2, b2, X, labels, slip=True)


def main() -> int:
    rng = np.random.default_rng(3)
    X, labels = rng.normal(size=(6, 2)), np.array([0, 1, 2, 0, 1, 2])
    at = {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=3) * 0.1,
          "W2": rng.normal(size=(3, 3)), "b2": np.zeros(3)}
    data = {"X": X, "labels": labels}

    print("1. the backward pass with the slip")
    caught = check_grad(loss, backward_with_slip, at=at, data=data)
    print(caught, end="\n\n")
    print("2. the corrected backward pass")
    fixed = check_grad(loss, backward, at=at, data=data)
    print(fixed)

    blamed = {r.name for p in caught.points for r in p.params if r.culprit == "claimed"}
    return 0 if blamed == {"W1", "b1"} and fixed.ok else 1


if __name__ == "__main__":
    sys.exit(main())
