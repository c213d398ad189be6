//! Architecture invariants of the simulator that ARCHITECTURE.md states and the compiler does
//! not check (issue 12, "the simulator as a star"):
//! - the network, the fault draws and the node (plain data) are leaves: they know nothing of the
//!   world, the workload, the adversary or the oracle, which the world composes around them;
//! - no import circle runs outside the four modules not yet untangled (world, workload,
//!   adversary, oracle: they still read and write one `World`);
//! - only the simulator is built with the insider's hooks (`insider/Cargo.toml`): no other
//!   package depends on that build of the protocol.

use std::path::Path;

#[path = "../../protocol/tests/module_graph/mod.rs"]
mod module_graph;
use module_graph::{find_cycle, module_graph};

/// The modules that know nothing of a world, with what each may import.
const LEAVES: [(&str, &[&str]); 6] = [
    ("clock", &[]),
    ("cuts", &[]),
    ("config", &["cuts"]),
    ("net", &["config"]),
    ("faults", &["config", "net"]),
    ("node", &["clock", "net"]),
];

#[test]
fn the_network_and_the_faults_know_nothing_of_the_world() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph["world"].contains("net") && graph["world"].contains("faults"), "the scan sees imports");
    for (leaf, allowed) in LEAVES {
        let imports = graph.get(leaf).unwrap_or_else(|| panic!("the scan found no module {leaf}"));
        let extra: Vec<&String> = imports.iter().filter(|m| !allowed.contains(&m.as_str())).collect();
        assert!(extra.is_empty(), "{leaf} imports {extra:?}: it may import only {allowed:?}");
    }
}

/// The modules that still form a circle through `&mut World` (issue 12 names the way out: the
/// oracle an observer of observations, the workload returning actions).
const TANGLED: [&str; 4] = ["world", "workload", "adversary", "oracle"];

#[test]
fn no_import_circle_runs_outside_the_tangled_four() {
    let mut graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(find_cycle(&graph).is_some(), "the four are tangled today: when not, make this test the whole crate's");
    graph.retain(|m, _| !TANGLED.contains(&m.as_str()));
    for imports in graph.values_mut() {
        imports.retain(|m| !TANGLED.contains(&m.as_str()));
    }
    assert!(graph.contains_key("report") && graph.contains_key("net"), "the scan found the modules");
    assert_eq!(find_cycle(&graph), None, "an import circle outside the tangled four: {graph:#?}");
}

#[test]
fn only_the_simulator_is_built_with_the_insider_hooks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace manifest");
    let members = workspace.split("members = [").nth(1).and_then(|s| s.split(']').next()).expect("a members list");
    let mut seen = 0;
    for member in members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()) {
        let manifest = std::fs::read_to_string(root.join(member).join("Cargo.toml")).expect("a member manifest");
        seen += 1;
        if member == "sim/insider" {
            continue; // the insider build itself
        }
        let depends = manifest.contains("package = \"spaces-protocol-insider\"");
        assert_eq!(depends, member == "sim", "{member}: only the simulator may depend on the insider build");
        if member == "protocol" {
            assert!(!manifest.contains("adversary"), "spaces-protocol must have no feature that turns the hooks on");
        }
    }
    assert!(seen >= 7, "the scan read the members ({seen})");
}
