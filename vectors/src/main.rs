//! `spaces-vectors generate` writes `vectors/*.json` and their schemas; `spaces-vectors check`
//! regenerates in memory, fails on any byte difference, and verifies every vector.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use spaces_vectors::generate::{self, Rendered};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = args.get(1).map(PathBuf::from).unwrap_or_else(dir);
    match args.first().map(String::as_str) {
        Some("generate") => write(&root),
        Some("check") => check(&root),
        _ => {
            eprintln!("usage: spaces-vectors generate|check [DIR]");
            ExitCode::from(2)
        }
    }
}

fn write(root: &Path) -> ExitCode {
    for r in generate::render_all() {
        let path = root.join(&r.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("vector directory is writable");
        }
        std::fs::write(&path, &r.text).expect("vector file is writable");
        println!("wrote {} ({})", r.path, r.summary);
    }
    ExitCode::SUCCESS
}

fn check(root: &Path) -> ExitCode {
    let rendered: Vec<Rendered> = generate::render_all();
    let mut failed = false;
    for r in &rendered {
        let on_disk = std::fs::read_to_string(root.join(&r.path)).unwrap_or_default();
        if let Some(diff) = generate::first_difference(&r.path, &on_disk, &r.text) {
            eprintln!("{diff}");
            failed = true;
        }
    }
    let report = generate::verify_all();
    for f in &report.failures {
        eprintln!("{f}");
    }
    println!("{} files, {} vectors verified, {} failed", rendered.len(), report.checked, report.failures.len());
    if failed || !report.failures.is_empty() {
        eprintln!("check failed: run `cargo run -p spaces-vectors -- generate` and review the diff");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
