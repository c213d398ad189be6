//! The benches' documentation tells a new user commands that are true (issue 16): the report
//! writer runs in release, as every other command here does, and `cargo bench` leaves
//! criterion's HTML report, which needs a plotting backend compiled in.

const README: &str = include_str!("../README.md");
const MANIFEST: &str = include_str!("../Cargo.toml");

#[test]
fn every_documented_bench_report_command_runs_in_release() {
    let commands: Vec<&str> = README.lines().filter(|l| l.contains("--bin bench-report")).collect();
    assert!(!commands.is_empty(), "the README says how to write the report");
    for line in commands {
        for (at, _) in line.match_indices("--bin bench-report") {
            let command = &line[line[..at].rfind("cargo run").expect("a cargo run command")..at];
            assert!(command.contains("--release"), "not in release: {line}");
        }
    }
}

#[test]
fn criterion_has_a_plotting_backend_so_its_html_report_is_written() {
    let criterion = MANIFEST.lines().find(|l| l.starts_with("criterion")).expect("criterion is a dev-dependency");
    assert!(criterion.contains("\"plotters\""), "criterion 0.5 writes no HTML report without a plotter: {criterion}");
    assert!(criterion.contains("\"html_reports\""), "{criterion}");
    assert!(README.contains("target/criterion/report/index.html"), "the README says where the report is");
}
