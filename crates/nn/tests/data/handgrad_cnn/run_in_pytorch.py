"""The reverse of the torch_cnn fixture: runs in PyTorch the model that
handgrad saved (`model.safetensors`, written by the test
`handgrad_cnn::handgrad_writes_the_committed_bytes` with
HANDGRAD_REGEN_FIXTURES=1) and stores the outputs in `io.safetensors`.

Run from crates/nn/tests/data: `python handgrad_cnn/run_in_pytorch.py`.

The model is the examples' CNN for 8x8 digits (examples/src/train.rs),
in float64:

    0 Conv2d(1, 16, 3, padding=1)   1 BatchNorm2d(16)  2 ReLU  3 MaxPool2d(2)
    4 Conv2d(16, 32, 3, padding=1)  5 BatchNorm2d(32)  6 ReLU  7 MaxPool2d(2)
    8 Flatten                       9 Linear(128, 10)

io.safetensors:
- `x` (6, 1, 8, 8): fixed inputs (torch.manual_seed(14), standard normal);
- `y_eval`: outputs in eval mode (running statistics);
- `y_train`: outputs in training mode (batch statistics), starting from the
  file's state; `after_train.<key>`: the running statistics and batch
  counters after that one pass.
"""

import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import st_file  # noqa: E402


def build():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 10),
    ).double()


state = st_file.load(os.path.join(HERE, "model.safetensors"))
model = build()
model.load_state_dict(state, strict=True)

torch.manual_seed(14)
x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
out = {"x": x}
model.eval()
with torch.no_grad():
    out["y_eval"] = model(x)
model.train()
with torch.no_grad():
    out["y_train"] = model(x)
for k, v in model.state_dict().items():
    if "running" in k or "num_batches" in k:
        out[f"after_train.{k}"] = v
st_file.save(out, os.path.join(HERE, "io.safetensors"), {"torch": torch.__version__})
print("strict load ok; wrote io.safetensors with", len(out), "tensors")
