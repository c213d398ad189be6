//! Prints the criterion results of the last `cargo bench` run as a table, with the ratios
//! that matter (each measured in the same run, so machine noise mostly cancels out).
//!
//! `cargo run -p spaces-benches --bin bench-report`

use std::path::{Path, PathBuf};

fn estimate(dir: &Path) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(dir.join("new").join("estimates.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some((v["median"]["point_estimate"].as_f64()?, v["mean"]["point_estimate"].as_f64()?))
}

fn walk(dir: &Path, out: &mut Vec<(String, f64, f64)>, root: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.file_name().is_some_and(|n| n == "report") || !path.is_dir() {
            continue;
        }
        if let Some((median, mean)) = estimate(&path) {
            let name = path.strip_prefix(root).unwrap_or(&path).display().to_string();
            out.push((name, median, mean));
        } else {
            walk(&path, out, root);
        }
    }
}

fn human(ns: f64) -> String {
    match ns {
        x if x >= 1e9 => format!("{:.2} s", x / 1e9),
        x if x >= 1e6 => format!("{:.2} ms", x / 1e6),
        x if x >= 1e3 => format!("{:.2} µs", x / 1e3),
        x => format!("{x:.0} ns"),
    }
}

fn main() {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let root = Path::new(&target).join("criterion");
    let mut rows = Vec::new();
    walk(&root, &mut rows, &root);
    if rows.is_empty() {
        eprintln!("no criterion results under {}; run `cargo bench -p spaces-benches` first", root.display());
        std::process::exit(1);
    }
    println!("{:<50} {:>12} {:>12}", "benchmark", "median", "mean");
    for (name, median, mean) in &rows {
        println!("{name:<50} {:>12} {:>12}", human(*median), human(*mean));
    }
    let get = |n: &str| rows.iter().find(|r| r.0 == n).map(|r| r.1);
    let ratios = [
        ("invitation/complete_pin", "invitation/bare_snow_xk"),
        ("invitation/complete_none", "invitation/bare_snow_xk"),
        ("invitation/complete_pin", "invitation/complete_none"),
        ("replication/many_spaces/1000", "replication/many_spaces/10"),
        ("replication/items_100k", "replication/items_100k_batched"),
        // Criterion names the directory of group "membership/rebuild" `membership_rebuild`.
        ("membership_rebuild/10k", "membership_rebuild/1k"),
        ("membership_rebuild/100k", "membership_rebuild/10k"),
        ("membership_resolve/10k", "membership_resolve/1k"),
        ("membership_resolve/100k", "membership_resolve/10k"),
        ("membership_insert_one_by_one/10k", "membership_insert_one_by_one/1k"),
        ("membership_insert_one_by_one/10k", "membership_rebuild/10k"),
        ("credential_verify/single", "credential_verify/single_direct"),
    ];
    println!();
    for (a, b) in ratios {
        if let (Some(x), Some(y)) = (get(a), get(b)) {
            println!("{a} / {b} = {:.1}x (medians)", x / y);
        }
    }
}
