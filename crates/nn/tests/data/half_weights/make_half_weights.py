"""Generates the half-precision fixture (run with PyTorch 2.x from this
folder's parent: `python half_weights/make_half_weights.py`).

- model_f16.safetensors / model_bf16.safetensors: the state dict of
  Sequential(Linear(4, 3), BatchNorm1d(3)) after two training batches, its
  float tensors cast with `.half()` / `.bfloat16()`, `num_batches_tracked`
  int64, as `safetensors.torch.save_file` writes them.
- reference.safetensors:
  - `f16.<key>`, `bf16.<key>`: those tensors widened with `.double()`;
  - `x`, `y_f16`, `y_bf16`: an input and the eval output of the float64
    model holding the widened F16 / BF16 weights;
  - `src32` (f32 values incl. ties, overflow-free extremes, subnormals),
    `src32.f16`, `src32.bf16`: PyTorch's casts of them (F16 / BF16);
  - `mask_u8` (U8), `index_i32` (I32), `count_i64` (I64): integer dtypes.
"""

import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import st_file  # noqa: E402

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
model.train()
for _ in range(2):
    model(torch.randn(8, 4) * 3 + 1)
sd = model.state_dict()


def cast(dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in sd.items()}


st_file.save(cast(torch.float16), os.path.join(HERE, "model_f16.safetensors"))
st_file.save(cast(torch.bfloat16), os.path.join(HERE, "model_bf16.safetensors"))

ref = {}
x = torch.randn(5, 4, dtype=torch.float64)
ref["x"] = x
for tag, dtype in [("f16", torch.float16), ("bf16", torch.bfloat16)]:
    wide = {k: (v.to(dtype).double() if v.is_floating_point() else v) for k, v in sd.items()}
    for k, v in wide.items():
        ref[f"{tag}.{k}"] = v
    m64 = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).double()
    m64.load_state_dict(wide, strict=True)
    m64.eval()
    with torch.no_grad():
        ref[f"y_{tag}"] = m64(x)

special = torch.tensor(
    [
        1.0 + 2.0**-11,  # f16 tie, to even (down)
        1.0 + 3 * 2.0**-11,  # f16 tie, to even (up)
        1.0 + 2.0**-8,  # bf16 tie
        1.0 + 3 * 2.0**-8,
        65504.0,
        65519.0,
        -65519.0,
        2.0**-24,
        2.0**-25,
        3 * 2.0**-26,
        6.0e-8,
        1e-40,  # an f32 subnormal
        -0.0,
        float("inf"),
        float("-inf"),
    ],
    dtype=torch.float32,
)
src = torch.cat([special, torch.randn(200) * 100, torch.randn(200) * 1e-5])
ref["src32"] = src
ref["src32.f16"] = src.half()
ref["src32.bf16"] = src.bfloat16()
ref["mask_u8"] = torch.tensor([[0, 1, 255], [7, 0, 128]], dtype=torch.uint8)
ref["index_i32"] = torch.tensor([-2147483648, -1, 0, 5, 2147483647], dtype=torch.int32)
ref["count_i64"] = torch.tensor(9007199254740993, dtype=torch.int64)
st_file.save(
    ref,
    os.path.join(HERE, "reference.safetensors"),
    {"torch": torch.__version__},
)
print("wrote", sorted(os.listdir(HERE)))
