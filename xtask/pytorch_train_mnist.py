"""The PyTorch twin of `cargo run --release -p examples --bin train_mnist`:
the same network (Conv2d(1,16,3,p=1)-BatchNorm2d-ReLU-MaxPool2d(2),
Conv2d(16,32,3,p=1)-BatchNorm2d-ReLU-MaxPool2d(2), Flatten, Linear), Adam
with a cosine schedule stepped once per epoch (T_max = epochs), batches of 64
in a fresh random order each epoch (a last batch of one image is skipped, as
train_mnist does), pixels / 255, and the test accuracy after every epoch in
eval mode with batches of 512. It reads the same gzipped IDX files (Debian's
dataset-fashion-mnist by default) and prints the time of each epoch and of
the whole run, loading included, so that the two can be run one after the
other on one machine:

    python3 xtask/pytorch_train_mnist.py [--epochs 2] [--threads 2] [--data DIR]
"""
import argparse
import gzip
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (optionally gzipped) as a uint8 tensor of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    body = bytearray(data[4 + 4 * ndim :])
    return torch.frombuffer(body, dtype=torch.uint8).reshape(dims)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{folder}: no {stem}[.gz] (apt-get install dataset-fashion-mnist)")


def load(folder, part):
    images = read_idx(find(folder, f"{part}-images-idx3-ubyte"))
    labels = read_idx(find(folder, f"{part}-labels-idx1-ubyte"))
    x = images.to(torch.float32).div_(255.0).unsqueeze(1)
    return x, labels.to(torch.int64)


def cnn(height, width, classes):
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
        nn.Linear(32 * (height // 4) * (width // 4), classes),
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=FASHION_MNIST_DIR)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{len(train_x)} train / {len(test_x)} test images"
    )
    model = cnn(train_x.shape[2], train_x.shape[3], int(train_y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs, eta_min=0.0)
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_x))
        loss_sum, correct = 0.0, 0
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            if len(idx) < 2:
                continue
            x, y = train_x[idx], train_y[idx]
            opt.zero_grad(set_to_none=True)
            scores = model(x)
            loss = F.cross_entropy(scores, y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (scores.argmax(1) == y).sum().item()
        sched.step()
        t1 = time.perf_counter()
        model.eval()
        with torch.no_grad():
            hits = sum(
                (model(test_x[i : i + 512]).argmax(1) == test_y[i : i + 512]).sum().item()
                for i in range(0, len(test_x), 512)
            )
        t2 = time.perf_counter()
        print(
            f"epoch {epoch}: loss {loss_sum / len(train_x):.4f}, train accuracy "
            f"{correct / len(train_x):.4f}, test accuracy {hits / len(test_x):.4f}, "
            f"train {t1 - t0:.1f} s, eval {t2 - t1:.1f} s"
        )
    print(f"total time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
