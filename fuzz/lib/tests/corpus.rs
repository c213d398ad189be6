//! Replays every committed corpus file (`fuzz/corpus/<target>/*`) through its target's `run`,
//! on stable: the fuzz targets' invariants hold on every `cargo test`, and a crash the fuzzer
//! found, once its input is added to the corpus, stays fixed.

use std::path::Path;

#[test]
fn every_corpus_file_passes_its_target() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let mut total = 0;
    for (target, run) in spaces_fuzz::TARGETS {
        let dir = corpus.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "target {target} has no corpus");
        for file in &files {
            let bytes = std::fs::read(file).expect("a corpus file");
            let outcome = std::panic::catch_unwind(|| run(&bytes));
            assert!(outcome.is_ok(), "target {target} fails on {}", file.display());
        }
        total += files.len();
    }
    assert!(total > 0);
}

#[test]
fn every_target_has_a_wrapper() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz_targets");
    for (target, _) in spaces_fuzz::TARGETS {
        let wrapper = std::fs::read_to_string(targets.join(format!("{target}.rs")))
            .unwrap_or_else(|e| panic!("fuzz_targets/{target}.rs: {e}"));
        assert!(wrapper.contains(&format!("spaces_fuzz::{target}::run")), "{target}.rs calls another target");
    }
}
