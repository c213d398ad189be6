//! What `spaces-vectors check` prints is what a reader counts (issue 16: it said "22 files",
//! counting each file's JSON schema as a vector file).

use std::process::Command;

#[test]
fn check_counts_vector_files_and_schemas_apart() {
    let out = Command::new(env!("CARGO_BIN_EXE_spaces-vectors")).arg("check").output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let n = spaces_vectors::FILES.len();
    let expected = format!("{n} vector files and their {n} schemas unchanged");
    assert!(stdout.contains(&expected), "expected `{expected}` in: {stdout}");
}
