"""Times PyTorch's CPU pooling and normalization on the issue's benchmark
shapes (P1-P5, N1-N5), with a copy of each input's bytes as the in-process
baseline, timed the way `cargo xtask bench` times ours: kernel and copy
alternately (or each in a row with --back-to-back, like `cargo xtask bench
--back-to-back`). Run beside `cargo xtask bench` to compare in one session:

    python3 xtask/pytorch_bench.py [--threads 2] [--iters 20] [--back-to-back]
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def timed_ms(fn):
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def median_ms(fn, iters, between=None):
    """Median of `iters` timed calls of `fn` after two untimed ones. With
    `between`, it runs (untimed) after every call of `fn`, as the copy
    baseline does in `cargo xtask bench`, which times kernel and copy
    alternately: then neither starts with its data left in the cache by its
    own previous call."""
    for _ in range(2):
        fn()
        if between:
            between()
    times = []
    for _ in range(iters):
        times.append(timed_ms(fn))
        if between:
            between()
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument(
        "--back-to-back",
        action="store_true",
        help="time each kernel in a row, without a copy between calls "
        "(its input may then stay in the last-level cache)",
    )
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

    how = "back to back" if args.back_to_back else "alternating with the copy"
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"median of {args.iters}, {how}"
    )
    print(f"{'case':<5}{'fwd ms':>10}{'fwd+bwd ms':>12}{'copy ms':>10}{'fwd/copy':>10}{'fwd+bwd/copy':>14}")
    for name, x, fwd, fb in cases:
        # The copy baseline of `cargo xtask bench`: a copy of the input's
        # bytes between two buffers of their own.
        src, dst = torch.ones_like(x), torch.empty_like(x)
        copy = lambda: dst.copy_(src)  # noqa: E731
        between = None if args.back_to_back else copy
        with torch.no_grad():
            tf = median_ms(fwd, args.iters, between)
        tb = median_ms(fb, max(5, args.iters // 2), between)
        tc = median_ms(copy, args.iters, None if args.back_to_back else fwd)
        print(f"{name:<5}{tf:>10.3f}{tb:>12.3f}{tc:>10.3f}{tf / tc:>10.2f}{tb / tc:>14.2f}")


if __name__ == "__main__":
    main()
