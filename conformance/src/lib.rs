//! # spaces-conformance
//!
//! Tells an implementation of spaces/1 in any language, case by case, whether it
//! interoperates and is safe. The implementation is wrapped in a *driver*, a process that
//! answers JSON lines on stdin/stdout (`DRIVER.md`); the harness
//!
//! - runs every published vector through it (`vectors`), grading Wycheproof style, and
//! - plays the other party of invitation flows against it (`scenarios`), honest or
//!   adversarial, with our protocol crate on its side, and checks that both ends agree.
//!
//! `spaces-driver` is the reference driver over `spaces-protocol`; it passes everything.

pub mod diff;
pub mod driver;
pub mod flow;
pub mod lying;
pub mod reference;
pub mod report;
pub mod scenarios;
pub mod vector_ops;
pub mod vectors;
pub mod wire;
pub mod worlds;
