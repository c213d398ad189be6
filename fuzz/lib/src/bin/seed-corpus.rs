//! Writes the seed corpora: `cargo run -p spaces-fuzz --bin seed-corpus` (from anywhere in the
//! repository). Each file is named by the hash of its bytes, as libFuzzer names its finds.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("fuzz/corpus");
    let seeds = spaces_fuzz::seed::seeds(&root.join("vectors"));
    for (target, _) in spaces_fuzz::TARGETS {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).expect("corpus directory");
        let inputs = seeds.get(target).map(Vec::as_slice).unwrap_or(&[]);
        for bytes in inputs {
            let name = spaces_protocol::hash::hash_tagged("spaces-fuzz seed", bytes);
            let name = hex::encode(&name.0[..10]);
            std::fs::write(dir.join(name), bytes).expect("corpus file");
        }
        println!("{target}: {} seeds", inputs.len());
    }
}
