//! The training-curve plot: training loss and test accuracy per epoch, as
//! a PNG, with the bundled DejaVu Sans Mono font (see
//! `assets/DejaVu-LICENSE.txt`).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::ExampleError;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");

fn perr(e: impl std::fmt::Display) -> ExampleError {
    ExampleError::Plot(e.to_string())
}

/// Draws two panels side by side — training loss and test accuracy (%)
/// against the epoch — into a 1000x420 PNG at `path`.
///
/// # Errors
/// [`ExampleError::Plot`] when the series are empty or of different
/// lengths, or the image cannot be written.
pub fn plot_history(
    path: &Path,
    losses: &[f64],
    accuracies: &[f64],
    title: &str,
) -> Result<(), ExampleError> {
    if losses.is_empty() || losses.len() != accuracies.len() {
        return Err(ExampleError::Plot(format!(
            "need one loss and one accuracy per epoch, got {} and {}",
            losses.len(),
            accuracies.len()
        )));
    }
    register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| ExampleError::Plot("the bundled font is invalid".into()))?;
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(perr)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(perr)?;
    let (left, right) = root.split_horizontally(500);
    let epochs = losses.len();
    let xs = 1..epochs.max(2);
    let max_loss = losses.iter().copied().fold(0.0f64, f64::max).max(1e-3) * 1.05;
    let mut c = ChartBuilder::on(&left)
        .caption("training loss", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(xs.start as f64..xs.end as f64, 0.0..max_loss)
        .map_err(perr)?;
    c.configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("loss")
        .draw()
        .map_err(perr)?;
    c.draw_series(LineSeries::new(
        losses.iter().enumerate().map(|(i, &l)| ((i + 1) as f64, l)),
        &RED,
    ))
    .map_err(perr)?;
    let min_acc = accuracies
        .iter()
        .copied()
        .fold(100.0f64, f64::min)
        .clamp(0.0, 90.0);
    let mut c = ChartBuilder::on(&right)
        .caption("test accuracy (%)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(xs.start as f64..xs.end as f64, min_acc..100.0)
        .map_err(perr)?;
    c.configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("%")
        .draw()
        .map_err(perr)?;
    c.draw_series(LineSeries::new(
        accuracies
            .iter()
            .enumerate()
            .map(|(i, &a)| ((i + 1) as f64, a)),
        &BLUE,
    ))
    .map_err(perr)?;
    root.present().map_err(perr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png() {
        let dir = std::env::temp_dir().join(format!("examples-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("h.png");
        plot_history(&p, &[2.0, 1.0, 0.5], &[80.0, 95.0, 97.5], "test").unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(plot_history(&p, &[1.0], &[], "bad").is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
