//! The planted-bug catalogue as the simulator sees it: the protocol's mutants (`--features
//! mutants`), plus one of the simulator's own driver, `release-before-durable`, which shows
//! that the durability oracle (S5) can fail. A run may plant one bug (by name) on its thread;
//! the oracle's reference computations run with a protocol bug suspended, so the oracle never
//! judges with the broken rules.

use spaces_protocol::mutants::Mutant;

/// A bug to plant: in the protocol, or in the simulated device's driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planted {
    Protocol(Mutant),
    /// The driver reports a device's records `Durable` as soon as the Peer emits them, before
    /// its disk flushed them (SPEC §9.5): the Peer then releases what follows them, and a crash
    /// can lose what was already acknowledged.
    ReleaseBeforeDurable,
}

impl Planted {
    pub fn name(self) -> &'static str {
        match self {
            Planted::Protocol(m) => m.name(),
            Planted::ReleaseBeforeDurable => "release-before-durable",
        }
    }

    /// Every bug the simulator knows, protocol ones first.
    pub fn all() -> Vec<Planted> {
        let mut all: Vec<Planted> = Mutant::ALL.iter().map(|m| Planted::Protocol(*m)).collect();
        all.push(Planted::ReleaseBeforeDurable);
        all
    }
}

/// Bugs the simulator is expected to catch, with the profile that catches them, the first
/// seed of that profile known to catch them (the mutants test tries it first and hunts
/// through 1,000 seeds when it has gone stale, saying so) and the invariants whose failure
/// is the bug's doing. A planted bug changes the world it runs in, so another oracle may fail
/// first in some seed; that catch would not show the oracle the bug breaks. The others in the protocol's
/// catalogue are caught by unit and property tests (listed by `spaces-sim mutants`, with the
/// reason).
pub const CAUGHT: &[(Planted, crate::config::Profile, u64, &[&str])] = {
    use crate::config::Profile::*;
    use Planted::Protocol as P;
    &[
        (P(Mutant::CodecLenient), Hostile, 0, &["S4"]),
        (P(Mutant::SkipSignatureCheck), Hostile, 4, &["S4"]),
        (P(Mutant::MembershipArrivalOrder), Faulty, 175, &["L1", "S4"]),
        (P(Mutant::NoStrongRemoval), Faulty, 93, &["L1", "S4"]),
        (P(Mutant::AllowSelfPromotion), Hostile, 49, &["S4"]),
        (P(Mutant::ItemsLastApplied), Faulty, 8, &["L1"]),
        (P(Mutant::AcceptReaderWrites), Hostile, 138, &["S4", "L1"]),
        (P(Mutant::AcceptWritesAfterRemoval), Hostile, 10, &["L1", "S4"]),
        (P(Mutant::AcceptAnyPin), Hostile, 0, &["S1"]),
        (P(Mutant::PerSessionBudget), Hostile, 0, &["S6"]),
        (P(Mutant::IgnoreExpiry), Calm, 0, &["L1"]),
        (P(Mutant::ForgetBudgetOnRestart), Hostile, 102, &["S6"]),
        (P(Mutant::DropPrologueBinding), Hostile, 18, &["S3"]),
        (P(Mutant::AdmitAfterCancel), Faulty, 7, &["S1"]),
        (P(Mutant::LeakPinIntoFrame), Calm, 0, &["S2"]),
        (P(Mutant::IngestRemovedUnbounded), Hostile, 157, &["R1"]),
        (P(Mutant::RejoinAfterRemoval), Hostile, 11, &["S1"]),
        (P(Mutant::FreeGuessAfterCompletion), Hostile, 0, &["S6"]),
        (P(Mutant::ChargeUnconfirmedAttempts), Hostile, 634, &["L2"]),
        (P(Mutant::SignalUnfair), Hostile, 0, &["S7"]),
        (P(Mutant::DelegatedFullShares), Hostile, 24, &["S6"]),
        (P(Mutant::ResolveEveryInsert), Hostile, 13, &["R2"]),
        (P(Mutant::DenseClocks), Hostile, 70, &["R2"]),
        (P(Mutant::NoRemovalNotice), Faulty, 0, &["L1"]),
        (P(Mutant::PullOnly), Calm, 0, &["L3"]),
        (P(Mutant::AnswerEverySummary), Hostile, 10, &["R3"]),
        (P(Mutant::RemovedKeepsDialling), Faulty, 44, &["R4"]),
        (P(Mutant::NoReadmittedDial), Swarm, 1, &["L1"]),
        (P(Mutant::HaloNoJoin), Calm, 13, &["L1"]),
        (P(Mutant::IgnoreDeviceRemoval), Calm, 34, &["S4", "L1"]),
        (P(Mutant::RejoinKeepsVoidFeeds), Faulty, 664, &["L3"]),
        (Planted::ReleaseBeforeDurable, Faulty, 0, &["S5"]),
    ]
};

/// Why a protocol mutant is not in `CAUGHT`.
pub fn not_simulated(m: Mutant) -> Option<&'static str> {
    match m {
        Mutant::FeedIgnoresForks => Some(
            "caught by the forking insider (hostile seed 175, L1; 1 of 300 hostile seeds), but that world \
             takes 8 minutes with it planted (a replica is sent the other branch in every round), too long \
             for the catalogue test; caught in seconds by the fork-reconciliation test in \
             protocol/tests/replication.rs, the feed property test and the feed vectors",
        ),
        Mutant::GuestTrustsGrant => Some(
            "every host in a world is a real Peer, whose grants pass the guest's checks anyway; a lying host \
             is interactive: the conformance harness's lying-host scenarios catch it",
        ),
        Mutant::SkipConcurrentDemotion => Some(
            "needs an admin demoted while it concurrently demotes another admin, in a shape where the fixpoint \
             alone gives another answer; no workload builds it yet (300 hostile and faulty seeds pass with it); \
             caught by the membership vectors",
        ),
        Mutant::NoRemovalSpread => Some(
            "a world links at most one blank device, so no identity has a third device holding a space \
             the remover does not; caught by protocol/tests/peer_halo.rs \
             (the_spread_fails_with_its_planted_bug)",
        ),
        Mutant::FeedReadmissionWins => Some(
            "needs a second AdmittedFeed for a feed key already admitted; honest admins never issue one and the \
             insider does not forge one yet; caught by the items vectors",
        ),
        Mutant::ForkOnResignature | Mutant::DuplicateBeforeSignature => Some(
            "needs an entry re-sent with another signature over the same body; Ed25519 signatures are \
             deterministic, so honest devices never make one, and on-path tampering dies in Noise; \
             caught by the feed vectors",
        ),
        Mutant::PullRefusedFeeds | Mutant::IgnoreDeferredCredentials | Mutant::ReplicationStorm => Some(
            "a storm needs two replicas that can never take each other's entries: admissions carried only \
             in the feeds they admit, after a fork cut their issuer's control feed. Hostile 675 made that \
             state on c0d1845 (L1 with ignore-deferred-credentials, R3 with replication-storm, both at once); \
             the summary flood (issue 15) changed every hostile world, and no seed of 1,000 hostile or 1,000 \
             swarm makes it now. Caught by protocol/tests/deferred_credentials.rs (all three: a \
             summary of a feed nothing admits draws no pull, and deferred entries give up their \
             credentials); R3 is shown failing by answer-every-summary",
        ),
        Mutant::CloseOnFirstHeardSpace
        | Mutant::NoLooseToHeard
        | Mutant::PositionsOnlyNotice
        | Mutant::ForksOnAuthoriseOnly => Some(
            "each failed L1 at hostile 1224, 1311, 1602 and 1872 (issue 15, commit 031e07a); since SPEC \
             9.2.2 rule 8 a removed device that misses its notice from one member learns it from any \
             member it meets: no hostile seed of 0..2500 fails with no-loose-to-heard, \
             positions-only-notice or forks-on-authorise-only planted (hunted on the code that added \
             9.1.1, removed devices), redundant paths now, which no check shows failing alone; \
             close-on-first-heard-space is caught by protocol/tests/peer_removal.rs",
        ),
        _ => None,
    }
}

pub fn parse(name: &str) -> Result<Planted, String> {
    Planted::all().into_iter().find(|p| p.name() == name).ok_or_else(|| {
        let names: Vec<&str> = Planted::all().iter().map(|p| p.name()).collect();
        format!("unknown mutant {name}; known: {}", names.join(", "))
    })
}

/// Plants protocol bug `m` (or none) on this thread; a no-op without the feature.
fn plant(m: Option<Mutant>) {
    #[cfg(feature = "mutants")]
    spaces_protocol::mutants::set(m);
    #[cfg(not(feature = "mutants"))]
    let _ = m;
}

/// Whether this build can plant bugs at all.
pub fn enabled() -> bool {
    cfg!(feature = "mutants")
}

std::thread_local! {
    static PLANTED: std::cell::Cell<Option<Planted>> = const { std::cell::Cell::new(None) };
}

/// Plants `p` for the current run on this thread (ignored without the feature).
pub fn set_for_run(p: Option<Planted>) {
    let p = p.filter(|_| enabled());
    PLANTED.with(|c| c.set(p));
    plant(protocol_bug());
}

fn protocol_bug() -> Option<Mutant> {
    match PLANTED.with(|c| c.get()) {
        Some(Planted::Protocol(m)) => Some(m),
        _ => None,
    }
}

/// Whether the simulated drivers report records durable before the flush (and so release
/// what follows them early).
pub fn release_before_durable() -> bool {
    PLANTED.with(|c| c.get()) == Some(Planted::ReleaseBeforeDurable)
}

/// Runs `f` with the planted protocol bug removed, then puts it back.
pub fn suspended<T>(f: impl FnOnce() -> T) -> T {
    plant(None);
    let out = f();
    plant(protocol_bug());
    out
}
