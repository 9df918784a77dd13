//! Checkpoint and resume across processes: `train_digits` for 2 of 4
//! epochs, saved; a new process resumes and trains epochs 3 and 4; the
//! parameters equal, bit for bit, those of one uninterrupted 4-epoch run
//! with the same seed (same initialization, same data order).

use std::path::{Path, PathBuf};
use std::process::Command;

use nn::{Checkpoint, StateTensor, load_safetensors};

const BIN: &str = env!("CARGO_BIN_EXE_train_digits");

fn run(args: &[&str]) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary starts");
    assert!(
        out.status.success(),
        "train_digits {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn bits(path: &Path) -> Vec<(String, Vec<u64>)> {
    load_safetensors::<f32>(path)
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let b = match v {
                StateTensor::Float(t) => t
                    .as_slice()
                    .iter()
                    .map(|x| u64::from(x.to_bits()))
                    .collect(),
                StateTensor::Int(t) => t.as_slice().iter().map(|&x| x as u64).collect(),
            };
            (k.to_string(), b)
        })
        .collect()
}

#[test]
fn two_plus_two_epochs_in_two_processes_equal_four_in_one() {
    let root: PathBuf =
        std::env::temp_dir().join(format!("handgrad-resume-{}", std::process::id()));
    let (whole, first, second) = (root.join("whole"), root.join("first"), root.join("second"));
    let ckpt = root.join("after2.safetensors");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    // A small batch and learning rate keep the run short and its state busy.
    let common = ["--epochs", "4", "--batch-size", "64", "--seed", "3"];

    let mut a: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    a.extend(["--out".into(), s(&whole)]);
    run(&a.iter().map(String::as_str).collect::<Vec<_>>());

    let mut b: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    b.extend([
        "--out".into(),
        s(&first),
        "--stop-after".into(),
        "2".into(),
        "--save-checkpoint".into(),
        s(&ckpt),
    ]);
    run(&b.iter().map(String::as_str).collect::<Vec<_>>());

    let saved = Checkpoint::<f32>::load(&ckpt).unwrap();
    assert_eq!(saved.epoch, 2);
    let opt = saved.optimizer.as_ref().unwrap();
    assert_eq!(opt.optimizer, "Adam");
    assert_eq!(opt.state.len(), 10, "every parameter has Adam moments");
    assert!(opt.state.values().all(|p| p.step == opt.state[&0].step));
    assert_eq!(saved.scheduler.as_ref().unwrap().kind, "CosineAnnealingLR");
    assert!(saved.rng.is_some());

    let mut c: Vec<String> = common.iter().map(|s| s.to_string()).collect();
    c.extend(["--out".into(), s(&second), "--resume".into(), s(&ckpt)]);
    run(&c.iter().map(String::as_str).collect::<Vec<_>>());

    let want = bits(&whole.join("digits_cnn.safetensors"));
    let got = bits(&second.join("digits_cnn.safetensors"));
    let halfway = bits(&first.join("digits_cnn.safetensors"));
    assert_eq!(
        want.len(),
        16,
        "2·2 conv + 2 linear + 2·5 batch-norm entries"
    );
    assert_eq!(
        got, want,
        "resumed parameters differ from the uninterrupted run"
    );
    assert_ne!(halfway, want, "epochs 3 and 4 changed nothing");
    std::fs::remove_dir_all(root).unwrap();
}
