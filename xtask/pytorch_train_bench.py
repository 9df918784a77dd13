"""Times PyTorch on the training benchmark cases of `cargo xtask bench train`
(T1: one training step of the examples' CNN; C1-C4: convolutions; L1: a
linear layer), the same shapes and the same way, so that both can be run one
after the other on one machine:

    python3 xtask/pytorch_train_bench.py [--threads 2] [--steps 100] [--warmup 20]

T1 is Conv2d(1,16,3,p=1)-BatchNorm2d-ReLU-MaxPool2d(2), Conv2d(16,32,3,p=1)-
BatchNorm2d-ReLU-MaxPool2d(2), Flatten, Linear(1568,10) on a batch of 64
1x28x28 images in f32, cross-entropy, SGD with momentum 0.9: the medians of
forward, backward, optimizer step and the whole step, minor page faults per
step (getrusage) and the process's peak RSS. C1-C4 and L1 give the medians of
forward (no graph) and forward + backward (input and weight gradients).
Nothing here sets allocator options: the process runs with what a user gets.
"""
import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def now_ms():
    return time.perf_counter() * 1e3


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def peak_rss_mib():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cnn():
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
        nn.Linear(32 * 7 * 7, 10),
    )


def train_step_case(steps, warmup):
    torch.manual_seed(0)
    model = cnn()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))
    fwd, bwd, stp, tot, faults = [], [], [], [], []
    for i in range(warmup + steps):
        f0 = minor_faults()
        t0 = now_ms()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        t1 = now_ms()
        loss.backward()
        t2 = now_ms()
        opt.step()
        t3 = now_ms()
        f1 = minor_faults()
        if i >= warmup:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            stp.append(t3 - t2)
            tot.append(t3 - t0)
            faults.append(f1 - f0)
    med = statistics.median
    return med(fwd), med(bwd), med(stp), med(tot), med(faults)


def median_ms(fn, iters, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = now_ms()
        fn()
        times.append(now_ms() - t0)
    return statistics.median(times)


def layer_case(layer, shape, iters):
    torch.manual_seed(0)
    x = torch.randn(*shape)
    xg = x.clone().requires_grad_(True)

    def fwd():
        with torch.no_grad():
            layer(x)

    def fwd_bwd():
        y = layer(xg)
        y.backward(torch.ones_like(y))
        xg.grad = None
        for p in layer.parameters():
            p.grad = None

    return median_ms(fwd, iters), median_ms(fwd_bwd, max(5, iters // 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--only", default="", help="comma-separated case ids (T1,C1,...)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    only = {s.strip().upper() for s in args.only.split(",") if s.strip()}

    def wanted(case):
        return not only or case in only

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if wanted("T1"):
        f, b, s, t, pf = train_step_case(args.steps, args.warmup)
        print(
            f"T1   fwd {f:.3f} ms  bwd {b:.3f} ms  step {s:.3f} ms  total {t:.3f} ms  "
            f"faults/step {pf:.0f}  peak RSS {peak_rss_mib():.1f} MiB"
        )
    layers = [
        ("C1", lambda: nn.Conv2d(1, 16, 3, padding=1), (64, 1, 28, 28)),
        ("C2", lambda: nn.Conv2d(16, 32, 3, padding=1), (64, 16, 14, 14)),
        ("C3", lambda: nn.Conv2d(64, 64, 3, padding=1), (32, 64, 56, 56)),
        ("C4", lambda: nn.Conv1d(64, 64, 5, padding=2), (32, 64, 1024)),
        ("L1", lambda: nn.Linear(1024, 1024), (256, 1024)),
    ]
    for name, make, shape in layers:
        if not wanted(name):
            continue
        torch.manual_seed(0)
        tf, tb = layer_case(make(), shape, args.iters)
        print(f"{name}   fwd {tf:.3f} ms  fwd+bwd {tb:.3f} ms")


if __name__ == "__main__":
    main()
