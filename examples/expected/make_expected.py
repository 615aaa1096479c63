"""The PyTorch twin of examples/linear_model.py and examples/quadratic_model.py.

It runs the same loops, in the same operation order, and prints in exactly the same
format, so its output is the reference our tape must reproduce digit for digit.
Run it in a separate environment that has PyTorch (it is not a test dependency):

    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch==2.13.0 numpy
    /tmp/torch-venv/bin/python examples/expected/make_expected.py

It (re)writes ``linear_model.<dtype>.txt`` and ``quadratic_model.<dtype>.txt`` next to itself.
"""

import contextlib
import io
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
LR, EPOCHS = 0.01, 100


def linear_model(dtype):
    x_data, y_data = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0]
    w = torch.tensor(1.0, dtype=dtype, requires_grad=True)

    def forward(x):
        return x * w

    def loss(y_pred, y):
        return (y_pred - y) ** 2

    print("Prediction (before training)", 4.0, forward(4.0).item())
    for epoch in range(EPOCHS):
        for x, y in zip(x_data, y_data):
            l = loss(forward(x), y)
            l.backward()
            print("\tgrad:", x, y, w.grad.item())
            with torch.no_grad():
                w -= LR * w.grad
            w.grad = None
        print(f"Epoch: {epoch} | Loss: {l.item()}")
    print("Prediction (after training)", 4.0, forward(4.0).item())


def quadratic_model(dtype):
    x_data, y_data = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    w1, w2, b = (torch.tensor(1.0, dtype=dtype, requires_grad=True) for _ in range(3))

    def forward(x):
        return w1 * x ** 2 + w2 * x + b

    def loss(y_pred, y):
        return (y_pred - y) ** 2

    print("Prediction (before training)", 4.0, forward(4.0).item())
    for epoch in range(EPOCHS):
        for x, y in zip(x_data, y_data):
            l = loss(forward(x), y)
            l.backward()
            print("\tgrad:", x, y, w1.grad.item(), w2.grad.item(), b.grad.item())
            with torch.no_grad():
                for p in (w1, w2, b):
                    p -= LR * p.grad
            for p in (w1, w2, b):
                p.grad = None
        print(f"Epoch: {epoch} | Loss: {l.item()}")
    print("Prediction (after training)", 4.0, forward(4.0).item())


def main():
    for model in (linear_model, quadratic_model):
        for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                model(dtype)
            path = HERE / f"{model.__name__}.{name}.txt"
            path.write_text(out.getvalue())
            print(f"wrote {path.relative_to(HERE.parent.parent)}", file=sys.stderr)


if __name__ == "__main__":
    main()
