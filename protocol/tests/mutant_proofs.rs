//! Each property of `properties.rs` fails once a relevant planted bug is active: proof that
//! the checks can fail. Every test first runs the property on the real code (it must hold),
//! then with the mutant planted on this thread (it must find a counterexample).
//!
//! Mutant -> property that catches it:
//! - CodecLenient             -> (a) non-minimal varints refused (credential, entry, mutation)
//! - SkipSignatureCheck       -> forged credentials refused
//! - MembershipArrivalOrder   -> (b) membership converges in any arrival order; the whole
//!   space converges (credentials and entries interleaved)
//! - NoStrongRemoval          -> (b) removed admin's concurrent admission void in every order
//! - AllowSelfPromotion       -> nobody changes their own role
//! - ItemsLastApplied         -> (c) items converge in any interleaving; whole space converges
//! - AcceptReaderWrites       -> (d) readers and removed members cannot write
//! - AcceptWritesAfterRemoval -> (d) readers and removed members cannot write
//! - FeedIgnoresForks         -> (e) forks detected with evidence
#![cfg(feature = "mutants")]

mod common;

use common::*;
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseResult, TestError, TestRng, TestRunner};
use spaces_protocol::codec::Canonical;
use spaces_protocol::credential::Credential;
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::item::Mutation;
use spaces_protocol::mutants::{Mutant, set};

/// Cases for the expensive properties here: enough to catch each mutant (the runner is
/// deterministic, so this is checked, not hoped), fewer than `properties.rs` runs.
const PROOF_CASES: u32 = COSTLY_CASES / 2;

/// Plants a mutant on this thread until dropped, also when an assertion unwinds.
struct Planted;

impl Planted {
    fn new(m: Mutant) -> Self {
        set(Some(m));
        Planted
    }
}

impl Drop for Planted {
    fn drop(&mut self) {
        set(None);
    }
}

/// A deterministic runner (same cases every run), without failure files, shrinking a little.
fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 32, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// The property holds on the real code and fails with `mutant` planted.
fn caught<S: Strategy>(mutant: Mutant, cases: u32, strategy: S, property: impl Fn(S::Value) -> TestCaseResult) {
    if let Err(e) = runner(cases).run(&strategy, &property) {
        panic!("the property fails without a mutant: {}", reason(&e));
    }
    let result = {
        let _planted = Planted::new(mutant);
        runner(cases).run(&strategy, &property)
    };
    match result {
        Err(e) => eprintln!("{} caught: {}", mutant.name(), reason(&e)),
        Ok(()) => panic!("{} survived {cases} cases", mutant.name()),
    }
}

fn reason<T>(e: &TestError<T>) -> String {
    match e {
        TestError::Abort(why) => format!("aborted: {why}"),
        TestError::Fail(why, _) => why.to_string(),
    }
}

#[test]
fn codec_lenient() {
    caught(Mutant::CodecLenient, CHEAP_CASES, arb_credential(), |c| {
        check_non_minimal_refused::<Credential>(&c.to_bytes(), &credential_varints(&c))
    });
    caught(Mutant::CodecLenient, CHEAP_CASES, arb_feed_entry(), |e| {
        check_non_minimal_refused::<FeedEntry>(&e.to_bytes(), &entry_varints(&e))
    });
    caught(Mutant::CodecLenient, CHEAP_CASES, arb_mutation(), |m| {
        check_non_minimal_refused::<Mutation>(&m.to_bytes(), &mutation_varints(&m))
    });
}

#[test]
fn skip_signature_check() {
    caught(Mutant::SkipSignatureCheck, CHEAP_CASES, arb_forgery_case(), |(c, seed, role, forgery)| {
        check_forgery_refused(&c, seed, role, &forgery)
    });
}

#[test]
fn membership_arrival_order() {
    caught(Mutant::MembershipArrivalOrder, PROOF_CASES, arb_convergence_case(), |(seed, steps, orders)| {
        check_membership_convergence(seed, steps, &orders)
    });
    caught(Mutant::MembershipArrivalOrder, PROOF_CASES, arb_space_case(), |(seed, steps, orders)| {
        check_space_convergence(seed, steps, &orders)
    });
}

#[test]
fn no_strong_removal() {
    caught(Mutant::NoStrongRemoval, PROOF_CASES, arb_strong_removal_case(), |(seed, steps, orders)| {
        check_strong_removal(seed, steps, &orders)
    });
}

#[test]
fn allow_self_promotion() {
    caught(Mutant::AllowSelfPromotion, PROOF_CASES, arb_self_change_case(), |(seed, steps, picks)| {
        check_no_self_change(seed, steps, &picks)
    });
}

#[test]
fn items_last_applied() {
    caught(Mutant::ItemsLastApplied, PROOF_CASES, arb_items_case(), |(seed, editors, writes, orders)| {
        check_item_convergence(seed, editors, &writes, &orders)
    });
    caught(Mutant::ItemsLastApplied, PROOF_CASES, arb_space_case(), |(seed, steps, orders)| {
        check_space_convergence(seed, steps, &orders)
    });
}

#[test]
fn accept_reader_writes() {
    caught(Mutant::AcceptReaderWrites, PROOF_CASES, arb_revocation_case(), |case| check_write_access(&case));
}

#[test]
fn accept_writes_after_removal() {
    caught(Mutant::AcceptWritesAfterRemoval, PROOF_CASES, arb_revocation_case(), |case| check_write_access(&case));
}

#[test]
fn feed_ignores_forks() {
    caught(Mutant::FeedIgnoresForks, CHEAP_CASES, arb_fork_case(), |case| check_fork_detected(&case));
}
