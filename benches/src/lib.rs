//! Workload builders shared by the benchmarks.
