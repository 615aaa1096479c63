"""The tutorial's float32 training step, checked: is ``w.grad`` after ``l.backward()``
right, or only close? A float32 gradient never equals the float64 truth, so gradcheck
judges the difference against float32's own rounding bound.

For both seed models (``x*w`` and ``w1*x**2 + w2*x + b``), one SGD sample is run on
gradcheck's tape in float32 exactly as the tutorial writes it, and the gradients it
produced are handed to ``gradcheck.check(..., dtype="float32")`` as the claim. A
deliberately slipped gradient (off by a relative 1e-3) is caught the same way.

    python examples/float32_training_step.py
"""

import gradcheck
from gradcheck.tape import Tensor

x, y = 2.0, 4.0  # one sample of the tutorial's data set


def linear_grads(w0: float, slip: float = 0.0) -> dict:
    w = Tensor(w0, requires_grad=True, dtype="float32")
    l = (x * w - y) ** 2
    l.backward()
    return {"w": w.grad.item() * (1 + slip)}


def quadratic_grads(w1_0: float, w2_0: float, b0: float) -> dict:
    w1, w2, b = (Tensor(v, requires_grad=True, dtype="float32") for v in (w1_0, w2_0, b0))
    l = (w1 * x ** 2 + w2 * x + b - y) ** 2
    l.backward()
    return {"w1": w1.grad.item(), "w2": w2.grad.item(), "b": b.grad.item()}


def main() -> int:
    at = {"x": x, "y": y, "w": 1.3}
    right = gradcheck.check("(x*w - y)**2", wrt=["w"], at=at, claimed=linear_grads(1.3), dtype="float32")
    print(right)
    quadratic = {"x": x, "y": y, "w1": 0.7, "w2": -1.1, "b": 0.4}
    both = gradcheck.check("(w1*x**2 + w2*x + b - y)**2", wrt=["w1", "w2", "b"], at=quadratic,
                           claimed=quadratic_grads(0.7, -1.1, 0.4), dtype="float32")
    print(both)
    slipped = gradcheck.check("(x*w - y)**2", wrt=["w"], at=at, claimed=linear_grads(1.3, slip=1e-3),
                              dtype="float32")
    print(slipped)
    return 0 if right.ok and both.ok and not slipped.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
