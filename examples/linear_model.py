"""The backpropagation tutorial's first model, on gradcheck's tape: y_pred = x * w.

Per-sample SGD on the squared error, printing the prediction for x = 4 before and after
training, every sample's gradient and each epoch's last loss. With ``--dtype float32``
the printed numbers equal PyTorch's float32 run of the same loop digit for digit
(examples/expected/ holds that run and the script that produced it).

    python examples/linear_model.py [--dtype float32|float64]
"""

import argparse

from gradcheck.tape import Tensor, no_grad

x_data = [1.0, 2.0, 3.0, 4.0]
y_data = [2.0, 4.0, 6.0, 8.0]
LR, EPOCHS = 0.01, 100


def train(dtype: str) -> None:
    w = Tensor(1.0, requires_grad=True, dtype=dtype)

    def forward(x):
        return x * w

    def loss(y_pred, y):
        return (y_pred - y) ** 2

    # float(...) of a float32 value prints its exact float64 widening, as PyTorch's .item() does
    print("Prediction (before training)", 4.0, forward(4.0).item())
    for epoch in range(EPOCHS):
        for x, y in zip(x_data, y_data):
            l = loss(forward(x), y)
            l.backward()
            print("\tgrad:", x, y, w.grad.item())
            with no_grad():
                w -= LR * w.grad  # in the tensor's dtype, like PyTorch
            w.grad = None
        print(f"Epoch: {epoch} | Loss: {l.item()}")
    print("Prediction (after training)", 4.0, forward(4.0).item())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    train(parser.parse_args().dtype)
