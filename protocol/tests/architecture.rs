//! Architecture invariants that a reader of the code map (ARCHITECTURE.md) relies on and the
//! compiler does not check: no import circle between the crate's top-level modules (issue 12),
//! so each module can be read knowing only what is below it.
// Reading the crate's own sources is the point of this test, not IO of the protocol.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod module_graph;
use module_graph::{find_cycle, module_graph};

#[test]
fn the_protocol_crate_has_no_import_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(graph.contains_key("invitation") && graph.contains_key("peer"), "the scan found the modules");
    assert!(graph["peer"].contains("client"), "the scan sees imports");
    assert_eq!(find_cycle(&graph), None, "an import circle between modules: {graph:#?}");
}

#[test]
fn the_cycle_finder_finds_a_planted_circle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in [("client", "invitation"), ("invitation", "codec"), ("invitation", "client")] {
        graph.entry(a.into()).or_default().insert(b.into());
    }
    let cycle = find_cycle(&graph).expect("planted");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"client".to_string()) && cycle.contains(&"invitation".to_string()));
}
