"""PyTorch reads an Engram checkpoint: same names, shapes, dtypes and values.

`tests/fixtures/nn/checkpoint_tiny.safetensors` was saved by Engram
(`checkpoint::save`, test `engram_writes_the_committed_file_pytorch_reads` in
`tests/nn_checkpoint.rs`, which also checks Engram still writes it byte for byte);
`checkpoint_tiny.json` lists what it holds. This script loads the file with
`safetensors.torch.load_file`, compares every tensor exactly, and loads it into the same
model written in PyTorch with `load_state_dict`.

Run from the repository root: `python3 tools/check_safetensors_torch.py` (needs torch and
safetensors); it prints `ok` and exits 0, or raises.
"""

import json

import torch
from safetensors import safe_open
from safetensors.torch import load_file

FILE = "tests/fixtures/nn/checkpoint_tiny.safetensors"
VALUES = "tests/fixtures/nn/checkpoint_tiny.json"


def main():
    tensors = load_file(FILE)
    expected = json.load(open(VALUES))
    assert sorted(tensors) == sorted(expected), (sorted(tensors), sorted(expected))
    for name, spec in expected.items():
        t = tensors[name]
        assert t.dtype == torch.float32, (name, t.dtype)
        assert list(t.shape) == spec["shape"], (name, list(t.shape), spec["shape"])
        assert t.flatten().tolist() == spec["values"], name
    with safe_open(FILE, framework="pt") as f:
        assert f.metadata() == {"format": "pt"}, f.metadata()

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
            self.norm = torch.nn.BatchNorm1d(2)
            self.head = torch.nn.Linear(2, 1)

    model = Tiny()
    result = model.load_state_dict(tensors, strict=False)
    # The test model keeps no batch counter; recent torch fills `num_batches_tracked` in
    # itself, older versions report it missing. Everything else must match.
    assert result.missing_keys in ([], ["norm.num_batches_tracked"]), result
    assert result.unexpected_keys == [], result
    for name, value in model.state_dict().items():
        if name in tensors:
            assert torch.equal(value, tensors[name]), name
    print(f"ok: {len(tensors)} tensors of {FILE} read by safetensors {__import__('safetensors').__version__}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
