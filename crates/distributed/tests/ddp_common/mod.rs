//! Helpers of the data-parallel integration tests.
#![allow(dead_code)]

pub(crate) mod proof;
