//! Placeholder; the privilege engine's benchmarks land here.
fn main() {}
