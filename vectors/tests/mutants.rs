//! With the protocol's planted bugs (`--features mutants`), the vectors must catch every
//! mutant they can reach: some vector FAILS under it. The rest need interactive scenarios,
//! which the conformance harness covers.
#![cfg(feature = "mutants")]

use std::collections::BTreeMap;

use serde_json::Value;
use spaces_protocol::mutants::{self, Mutant};
use spaces_vectors::generate::{self, verify_documents};

/// Mutants no vector can reach, and why.
/// - `ingest-removed-unbounded`: the heard limit (SPEC.md §9.2.2 rule 6) governs what a Peer takes
///   from a removed member's device; the replication vectors exercise `have`, `missing` and
///   `ingest_batch`, not that path yet. Caught by the simulator (hostile) and by
///   `a_removed_member_appending_fifty_credentials_makes_members_store_at_most_the_bound`.
const NOT_REACHED: &[Mutant] = &[Mutant::IngestRemovedUnbounded];

#[test]
fn every_reachable_mutant_fails_some_vector() {
    // Generate before planting anything: the expected outputs are the honest ones.
    let docs: Vec<(String, Value)> = generate::all().iter().map(|f| (f.name.to_owned(), f.to_json())).collect();
    assert!(verify_documents(&docs).failures.is_empty(), "the honest reference passes");
    let mut caught = BTreeMap::new();
    for m in Mutant::ALL {
        mutants::set(Some(m));
        let report = verify_documents(&docs);
        mutants::set(None);
        caught.insert(m.name(), report.failures.len());
        // Failures read "<file> tcId <n>: <op>: FAILED ..."; list the ops that caught it.
        let mut ops: Vec<&str> = report.failures.iter().filter_map(|f| f.split(": ").nth(1)).collect();
        ops.sort();
        ops.dedup();
        println!("{:<28} {:>4} vectors FAILED  by {}", m.name(), report.failures.len(), ops.join(", "));
    }
    for m in Mutant::ALL {
        let n = caught[m.name()];
        if NOT_REACHED.contains(&m) {
            assert_eq!(n, 0, "{} is now caught: remove it from NOT_REACHED", m.name());
        } else {
            assert!(n > 0, "mutant {} passes every vector", m.name());
        }
    }
}
