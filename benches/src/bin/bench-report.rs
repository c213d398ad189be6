//! Writes `benches/REPORT.md` (and its plots under `benches/report/`) from the criterion
//! results of the last `cargo bench -p spaces-benches` run, and prints the report.
//!
//! `cargo run --release -p spaces-benches --bin bench-report [-- --print]`

use std::path::Path;
use std::process::ExitCode;

use spaces_benches::report::{self, Machine};

/// Plots: (file under benches/report/, criterion id prefix, title).
const PLOTS: [(&str, &str, &str); 3] = [
    ("membership.svg", "membership_", "membership: rebuild, resolve, one by one"),
    ("scale-rebuild.svg", "scale_rebuild", "membership rebuild per credential shape"),
    ("scale-one-by-one.svg", "scale_one_by_one", "one-by-one insertion per credential shape"),
];

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "rustc unknown".into(), |s| s.trim().to_string());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map_or_else(|| "unknown".into(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    Machine { cpu, cores, rustc, load }
}

fn main() -> ExitCode {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let root = Path::new(&target).join("criterion");
    let rows = report::collect(&root);
    if rows.is_empty() {
        eprintln!("no criterion results under {}; run `cargo bench -p spaces-benches` first", root.display());
        return ExitCode::FAILURE;
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut plots = Vec::new();
    for (file, prefix, title) in PLOTS {
        let series = report::series(&rows, prefix);
        if series.is_empty() {
            continue;
        }
        let path = out.join("report").join(file);
        let written = std::fs::create_dir_all(out.join("report"))
            .and_then(|()| std::fs::write(&path, report::svg_plot(title, &series)));
        if let Err(e) = written {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        plots.push(format!("report/{file}"));
    }
    let md = report::render(&rows, &machine(), &plots);
    if let Err(e) = std::fs::write(out.join("REPORT.md"), &md) {
        eprintln!("cannot write REPORT.md: {e}");
        return ExitCode::FAILURE;
    }
    if std::env::args().any(|a| a == "--print") {
        print!("{md}");
    }
    println!("wrote {} ({} figures, {} plots)", out.join("REPORT.md").display(), rows.len(), plots.len());
    ExitCode::SUCCESS
}
