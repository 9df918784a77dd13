//! Timing probe (ignored by default) for choosing where the channel kernels
//! stop being worth splitting over rayon: times each phase with `Par::Seq`
//! and `Par::Rayon` over sizes 2^12..2^22 for batch norm 1-d (`S = 1`) and
//! 2-d (`S = 64`) layouts. Run with
//! `cargo test --release -p ops-norm --test par_threshold -- --ignored --nocapture`.
//! It asserts only that both modes agree; the timings are printed.

use std::time::Instant;

use core_tensor::Par;
use ops_norm::kernels::channel::{
    ChannelLayout, batch_norm_backward_train, channel_forward, channel_grad_sums, channel_moments,
};

fn median_us(mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let mut t: Vec<f64> = (0..31)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

#[test]
#[ignore = "timing probe, run by hand in release"]
fn seq_vs_rayon_per_phase() {
    for (c, s) in [(1024usize, 1usize), (64, 64)] {
        for p in 12..=22 {
            let len = 1usize << p;
            let n = len / (c * s);
            if n < 2 {
                continue;
            }
            let layout = ChannelLayout { n, c, s };
            let x: Vec<f32> = (0..len).map(|i| ((i as f32) * 0.37).sin()).collect();
            let g: Vec<f32> = (0..len).map(|i| ((i as f32) * 0.11).cos()).collect();
            let mean = vec![0.01f64; c];
            let invstd = vec![1.3f64; c];
            let w = vec![1.0f32; c];
            let mut line = format!("c={c:5} s={s:3} 2^{p:2}:");
            for (name, run) in [
                (
                    "stats",
                    &(|par| drop(channel_moments(&x, layout, par).unwrap())) as &dyn Fn(Par),
                ),
                ("fwd", &|par| {
                    drop(
                        channel_forward(&x, layout, &mean, &invstd, Some(&w), Some(&w), par)
                            .unwrap(),
                    )
                }),
                ("gsum", &|par| {
                    drop(channel_grad_sums(&x, &g, layout, &mean, par).unwrap())
                }),
                ("bwd", &|par| {
                    drop(
                        batch_norm_backward_train(&x, &g, layout, &mean, &invstd, Some(&w), par)
                            .unwrap(),
                    )
                }),
            ] {
                let seq = median_us(|| run(Par::Seq));
                let ray = median_us(|| run(Par::Rayon));
                line += &format!("  {name} {seq:7.1}/{ray:7.1}");
            }
            println!("{line}");
            assert_eq!(
                channel_moments(&x, layout, Par::Seq).unwrap(),
                channel_moments(&x, layout, Par::Rayon).unwrap()
            );
        }
    }
}
