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
        Some("explain") => explain(args.get(1).map(String::as_str).unwrap_or("")),
        _ => {
            eprintln!("usage: spaces-vectors generate|check [DIR] | explain FILE.json");
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
    // Grade the published files themselves (identical to a regeneration when nothing differs).
    let report = match spaces_vectors::load(root) {
        Ok(docs) => generate::verify_documents(&docs),
        Err(e) => {
            eprintln!("cannot read the vector files: {e}; grading a regeneration instead");
            failed = true;
            generate::verify_all()
        }
    };
    for f in &report.failures {
        eprintln!("{f}");
    }
    let schemas = rendered.iter().filter(|r| r.path.starts_with("schema")).count();
    println!(
        "{} vector files and their {schemas} schemas {}, {} vectors verified, {} failed",
        rendered.len() - schemas,
        if failed { "differ from a regeneration" } else { "unchanged" },
        report.checked,
        report.failures.len()
    );
    if failed || !report.failures.is_empty() {
        eprintln!("check failed: run `cargo run -p spaces-vectors -- generate` and review the diff");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Prints, for every test of a file, the reference's verdict and its error message: why a
/// case is refused, for implementers comparing their own errors.
fn explain(path: &str) -> ExitCode {
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("cannot read {path}");
        return ExitCode::from(2);
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        eprintln!("{path} is not JSON");
        return ExitCode::from(2);
    };
    for group in doc["testGroups"].as_array().into_iter().flatten() {
        let op = group["type"].as_str().unwrap_or("");
        for test in group["tests"].as_array().into_iter().flatten() {
            let answer = match spaces_vectors::run(op, &test["input"]) {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("{}: {}", e.kind, e.message),
            };
            let verdict = spaces_vectors::verify_test(op, test);
            println!("{} {op} [{}] {} -> {answer} ({verdict:?})", test["tcId"], test["result"], test["comment"]);
        }
    }
    ExitCode::SUCCESS
}
