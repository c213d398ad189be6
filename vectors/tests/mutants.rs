//! With the protocol's planted bugs (`--features mutants`), the vectors must catch every
//! mutant they can reach: some vector FAILS under it. The rest need interactive scenarios,
//! which the conformance harness covers.
#![cfg(feature = "mutants")]

use std::collections::BTreeMap;

use serde_json::Value;
use spaces_protocol::mutants::{self, Mutant};
use spaces_vectors::generate::{self, verify_documents};

/// Mutants no vector can reach, and why.
/// - `guest-trusts-grant`: the flow vectors run an honest host, whose grants pass the guest's
///   checks anyway; a lying host is interactive, and the conformance harness's `lying-host-*`
///   scenarios catch it (conformance/tests/mutants.rs).
/// - `rejoin-after-removal`, `free-guess-after-completion`: each needs a second flow against a
///   host whose first flow ended (a removal in between, or a completed invitation); the flow
///   vectors script one guest per host. Caught by the conformance scenarios
///   `rejoin-after-removal-*` and `free-guess-after-completion`, the simulator (S1, S6) and
///   `protocol/tests/invitation_security.rs`.
/// - `resolve-every-insert`, `dense-clocks`: they change what resolution costs, never its
///   answers, and vectors grade answers; the simulator's resource oracle R2 catches both.
/// - `no-removal-notice`: it changes what a Peer sends a removed member's device, and vectors
///   grade single operations, not Peers; the simulator (L1) and `protocol/tests/peer_removal.rs`
///   catch it.
/// - `pull-refused-feeds`, `ignore-deferred-credentials`, `replication-storm` (the two at once):
///   they change which summaries a Peer sends and what it takes from entries it must defer,
///   which vectors of single operations never exercise; `protocol/tests/deferred_credentials.rs`
///   catches the last two.
/// - `answer-every-summary`: it changes how often a Peer answers repeated summaries, which no
///   single-operation vector repeats; the simulator's summary flood fails R3 with it.
/// - `close-on-first-heard-space`, `no-loose-to-heard`, `positions-only-notice`,
///   `forks-on-authorise-only`: each changes what a Peer sends a removed or re-admitted
///   member's device over a connection's life, not a single operation; the simulator failed
///   L1 with each (hostile 1224, 1311, 1602, 1872) until SPEC §9.2.2 rule 8 made them redundant
///   paths (`spaces-sim mutants` says why), and `protocol/tests/peer_removal.rs` catches the
///   first.
/// - `refuse-strangers`: it changes how long a Peer holds a connection it authorises for
///   nothing; `protocol/tests/peer_removal.rs` catches it.
/// - `removed-keeps-dialling`, `no-readmitted-dial`: whom a Peer dials, not what any message
///   or credential means; the simulator (R4, L1) and `protocol/tests/peer_standing.rs` catch
///   them.
/// - `halo-no-join`: whether a Peer asks a sibling for a space its HALO lists (SPEC §9.8), not
///   what a message means; the simulator (H1, part of L1, calm seed 13) and
///   `protocol/tests/peer_halo.rs` catch it.
/// - `no-removal-spread`: which spaces a Peer repeats its identity's device removal in (SPEC
///   §9.8), not what a removal means; `protocol/tests/peer_halo.rs` catches it.
/// - `rejoin-keeps-void-feeds`: which feeds a guest invited back writes on, not what a grant
///   means; the simulator (L3, faulty seed 664) catches it.
const NOT_REACHED: &[Mutant] = &[
    Mutant::GuestTrustsGrant,
    Mutant::RejoinAfterRemoval,
    Mutant::FreeGuessAfterCompletion,
    Mutant::ResolveEveryInsert,
    Mutant::DenseClocks,
    Mutant::NoRemovalNotice,
    Mutant::PullOnly,
    Mutant::PullRefusedFeeds,
    Mutant::IgnoreDeferredCredentials,
    Mutant::ReplicationStorm,
    Mutant::AnswerEverySummary,
    Mutant::CloseOnFirstHeardSpace,
    Mutant::NoLooseToHeard,
    Mutant::PositionsOnlyNotice,
    Mutant::ForksOnAuthoriseOnly,
    Mutant::RefuseStrangers,
    Mutant::RemovedKeepsDialling,
    Mutant::NoReadmittedDial,
    Mutant::HaloNoJoin,
    Mutant::NoRemovalSpread,
    Mutant::RejoinKeepsVoidFeeds,
];

/// Planted bugs for the rules issue 10's vectors cover (`protocol/src/mutants.rs`), with the
/// vectors (by comment prefix) that must catch each; `new_rules.rs` proves the same at the
/// level of answers.
const ISSUE_10: [(&str, &str, &str); 4] = [
    ("skip-concurrent-demotion", "membership.json", "an admin demoted while it demotes another admin"),
    ("feed-readmission-wins", "items.json", "a reader's data feed re-admitted as an editor's"),
    ("fork-on-resignature", "feeds.json", "entry 1, then its body with another valid signature"),
    ("duplicate-before-signature", "feeds.json", "entry 1, then entry 1 with s + ℓ"),
];

#[test]
fn issue_10_mutants_fail_their_vectors() {
    let docs: Vec<(String, Value)> = generate::all().iter().map(|f| (f.name.to_owned(), f.to_json())).collect();
    for (name, file, comment) in ISSUE_10 {
        let m = Mutant::from_name(name).expect("the catalogue has it");
        mutants::set(Some(m));
        let report = verify_documents(&docs);
        mutants::set(None);
        let (_, doc) = docs.iter().find(|(n, _)| n == file).expect("the file is generated");
        let ids: Vec<String> = doc["testGroups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["tests"].as_array().into_iter().flatten())
            .filter(|t| t["comment"].as_str().is_some_and(|c| c.starts_with(comment)))
            .map(|t| format!("{file} tcId {}:", t["tcId"]))
            .collect();
        assert!(!ids.is_empty(), "{file} has `{comment}…`");
        let hit = ids.iter().all(|id| report.failures.iter().any(|f| f.starts_with(id.as_str())));
        assert!(hit, "{name} does not fail `{comment}` in {file}: {:?}", report.failures);
    }
}

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
