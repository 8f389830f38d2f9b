//! Helpers shared by the benchmark programs.

pub mod capture;
