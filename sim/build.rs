//! Records the commit a binary was built from, so that a sweep's report says what it tested
//! (`SPACES_COMMIT`, "unknown" outside a git checkout). CI may set `SPACES_COMMIT` itself.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SPACES_COMMIT");
    // A new commit or checkout rewrites HEAD's reflog: rebuild the stamp then, not every time.
    for path in ["HEAD", "logs/HEAD"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    let commit = std::env::var("SPACES_COMMIT").ok().or_else(|| git(&["rev-parse", "HEAD"]));
    println!("cargo:rustc-env=SPACES_COMMIT={}", commit.unwrap_or_else(|| "unknown".into()));
}
