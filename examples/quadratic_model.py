"""The tutorial's second model, on gradcheck's tape: y_pred = w1*x**2 + w2*x + b.

The same per-sample SGD loop and printing as linear_model.py, with three parameters
starting at 1.0. With ``--dtype float32`` the output equals PyTorch's float32 run digit
for digit (examples/expected/); float64 is the default.

    python examples/quadratic_model.py [--dtype float32|float64]
"""

import argparse

from gradcheck.tape import Tensor, no_grad

x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]
LR, EPOCHS = 0.01, 100


def train(dtype: str) -> None:
    w1, w2, b = (Tensor(1.0, requires_grad=True, dtype=dtype) for _ in range(3))

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
            with no_grad():
                for p in (w1, w2, b):
                    p -= LR * p.grad
            for p in (w1, w2, b):
                p.grad = None
        print(f"Epoch: {epoch} | Loss: {l.item()}")
    print("Prediction (after training)", 4.0, forward(4.0).item())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    train(parser.parse_args().dtype)
