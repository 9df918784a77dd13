"""Times PyTorch's CPU pooling and normalization on the issue's benchmark
shapes (P1-P5, N1-N5), with a copy of each input as the in-process baseline.
Run beside `cargo xtask bench` to compare in one session:

    python3 xtask/pytorch_bench.py [--threads 2] [--iters 20]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def median_ms(fn, iters):
    fn()
    fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    def pool_case(shape, fwd):
        x = torch.randn(*shape)
        xg = x.clone().requires_grad_(True)

        def fb():
            y = fwd(xg)
            y.backward(torch.ones_like(y))
            xg.grad = None

        return x, (lambda: fwd(x)), fb

    cases = []
    cases.append(("P1", *pool_case((32, 64, 56, 56), lambda x: F.max_pool2d(x, 2, 2))))
    cases.append(("P2", *pool_case((32, 64, 112, 112), lambda x: F.max_pool2d(x, 3, 2, 1))))
    cases.append(("P3", *pool_case((32, 64, 56, 56), lambda x: F.avg_pool2d(x, 2, 2))))
    cases.append(("P4", *pool_case((32, 512, 7, 7), lambda x: F.adaptive_avg_pool2d(x, 1))))
    cases.append(("P5", *pool_case((64, 256, 1024), lambda x: F.max_pool1d(x, 3, 2, 1))))

    def bn_train(shape):
        c = shape[1]
        w = torch.ones(c, requires_grad=True)
        b = torch.zeros(c, requires_grad=True)
        rm, rv = torch.zeros(c), torch.ones(c)
        return lambda x: F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1)

    def bn_eval(shape):
        c = shape[1]
        w, b = torch.ones(c), torch.zeros(c)
        rm, rv = torch.zeros(c), torch.ones(c)
        return lambda x: F.batch_norm(x, rm, rv, w, b, training=False)

    n4w = torch.ones(768, requires_grad=True)
    n4b = torch.zeros(768, requires_grad=True)
    n5w = torch.ones(64, requires_grad=True)
    n5b = torch.zeros(64, requires_grad=True)
    cases.append(("N1", *pool_case((32, 64, 56, 56), bn_train((32, 64)))))
    cases.append(("N2", *pool_case((32, 64, 56, 56), bn_eval((32, 64)))))
    cases.append(("N3", *pool_case((256, 1024), bn_train((256, 1024)))))
    cases.append(("N4", *pool_case((64, 128, 768), lambda x: F.layer_norm(x, (768,), n4w, n4b))))
    cases.append(("N5", *pool_case((32, 64, 56, 56), lambda x: F.group_norm(x, 32, n5w, n5b))))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.iters}")
    print(f"{'case':<5}{'fwd ms':>10}{'fwd+bwd ms':>12}{'copy ms':>10}{'fwd/copy':>10}{'fwd+bwd/copy':>14}")
    for name, x, fwd, fb in cases:
        with torch.no_grad():
            tf = median_ms(fwd, args.iters)
        tb = median_ms(fb, max(5, args.iters // 2))
        tc = median_ms(lambda: x.clone(), args.iters)
        print(f"{name:<5}{tf:>10.3f}{tb:>12.3f}{tc:>10.3f}{tf / tc:>10.2f}{tb / tc:>14.2f}")


if __name__ == "__main__":
    main()
