//! Helpers shared by the benchmark programs.

pub mod capture;
pub mod postgres;
