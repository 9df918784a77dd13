//! # examples
//!
//! The library behind handgrad's runnable examples, kept here so that it is
//! tested: data loaders for the bundled UCI digits ([`data::load_digits`])
//! and for MNIST-format IDX files ([`idx::load_mnist`]), a seeded
//! train/test split and batching ([`data::Dataset`]), the small CNN and its
//! training loop ([`train`]), the loss/accuracy plot ([`plot`]) and the
//! hand-written command-line parsing of the binaries ([`args`]).
//!
//! ```
//! use examples::data::parse_digits_csv;
//! // Two 8x8 images: 64 pixel values then the label.
//! let row = |v: u8, label: u8| {
//!     let mut s: Vec<String> = (0..64).map(|_| v.to_string()).collect();
//!     s.push(label.to_string());
//!     s.join(",")
//! };
//! let text = format!("{}\n{}\n", row(0, 3), row(16, 7));
//! let d = parse_digits_csv(&text, "inline")?;
//! assert_eq!(d.len(), 2);
//! assert_eq!(d.labels, vec![3, 7]);
//! assert_eq!(d.pixel(1, 0), 1.0);
//! # Ok::<(), examples::ExampleError>(())
//! ```
#![doc(test(attr(deny(warnings))))]

pub mod args;
pub mod data;
mod error;
pub mod idx;
pub mod plot;
pub mod run;
pub mod train;

pub use error::ExampleError;
