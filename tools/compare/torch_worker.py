"""PyTorch's side of tools/compare/run: the workloads of Engram's benches/workloads/,
written as a PyTorch user writes them (eager; torch.nn layers, F.cross_entropy,
torch.optim.SGD; the fused nn.LSTM), served over the protocol of serve.py."""

import torch
import torch.nn.functional as F
from torch import nn

from serve import serve, threads

LINKS = 3334  # repetitions of tanh(x * 1.0001 + 0.0001): 10,002 scalar ops


class LastState(nn.Module):
    """nn.LSTM whose last hidden state goes through a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(64, 128)
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        _, (h_n, _) = self.lstm(x)
        return self.head(h_n[-1])


def step_figure(model, input_shape, batch):
    """One SGD step of `model` on a random input, labels (7 i) mod 10, as every tool's."""
    x = torch.randn(*input_shape)
    labels = torch.arange(batch) * 7 % 10
    sgd = torch.optim.SGD(model.parameters(), lr=0.01)

    def run():
        sgd.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        sgd.step()

    return run, 1.0


ELEMENTWISE_LEN = 1 << 24  # 16M elements, as Engram's transcendental figures
ELEMENTWISE = {"copy": torch.clone, "exp": torch.exp, "ln": torch.log, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "erf": torch.erf}
DTYPES = {"f32": torch.float32, "f64": torch.float64}


def elementwise_figure(name):
    """`exp_f32` and the like: the function out of place on 16M elements; work in bytes moved."""
    function, _, dtype = name.rpartition("_")
    if function not in ELEMENTWISE or dtype not in DTYPES:
        return None
    low = 0.01 if function == "ln" else -4.0
    x = torch.empty(ELEMENTWISE_LEN, dtype=DTYPES[dtype]).uniform_(low, 4.0)
    return (lambda: ELEMENTWISE[function](x)), 2.0 * x.numel() * x.element_size()


def make(name):
    torch.manual_seed(0)
    if name.endswith(("_f32", "_f64")):
        return elementwise_figure(name)
    if name.startswith("sgemm_"):
        n = int(name.removeprefix("sgemm_"))
        a, b = torch.randn(n, n), torch.randn(n, n)
        return (lambda: a @ b), 2.0 * n**3
    if name == "mlp_step":
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        return step_figure(model, (128, 784), 128)
    if name == "cnn_step":
        model = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10),
        )
        return step_figure(model, (64, 1, 28, 28), 64)
    if name == "lstm_step":
        return step_figure(LastState(), (32, 32, 64), 32)  # [time, batch, features]
    if name == "tape_10k":
        def run():
            x = torch.tensor(0.5, requires_grad=True)
            y = x
            for _ in range(LINKS):
                y = torch.tanh(y * 1.0001 + 0.0001)
            y.backward()
            return x.grad

        return run, 3.0 * LINKS
    return None


def main():
    torch.set_num_threads(threads())
    serve({"tool": "torch", "version": torch.__version__, "threads": torch.get_num_threads()}, make)


if __name__ == "__main__":
    main()
