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

/// Bugs the simulator is expected to catch, with the profile that catches them and the first
/// seed of that profile known to catch them (the mutants test tries it first and hunts
/// through 1,000 seeds when it has gone stale, saying so). The others in the protocol's
/// catalogue are caught by unit and property tests (listed by `spaces-sim mutants`, with the
/// reason).
pub const CAUGHT: &[(Planted, crate::config::Profile, u64)] = {
    use crate::config::Profile::*;
    use Planted::Protocol as P;
    &[
        (P(Mutant::CodecLenient), Hostile, 0),
        (P(Mutant::SkipSignatureCheck), Hostile, 1),
        (P(Mutant::MembershipArrivalOrder), Faulty, 45),
        (P(Mutant::NoStrongRemoval), Faulty, 24),
        (P(Mutant::AllowSelfPromotion), Hostile, 54),
        (P(Mutant::ItemsLastApplied), Faulty, 4),
        (P(Mutant::AcceptReaderWrites), Hostile, 204),
        (P(Mutant::AcceptWritesAfterRemoval), Hostile, 48),
        (P(Mutant::AcceptAnyPin), Hostile, 0),
        (P(Mutant::PerSessionBudget), Hostile, 0),
        (P(Mutant::IgnoreExpiry), Calm, 0),
        (P(Mutant::ForgetBudgetOnRestart), Hostile, 1),
        (P(Mutant::DropPrologueBinding), Hostile, 1),
        (P(Mutant::AdmitAfterCancel), Faulty, 115),
        (P(Mutant::LeakPinIntoFrame), Calm, 0),
        (P(Mutant::IngestRemovedUnbounded), Hostile, 49),
        (P(Mutant::RejoinAfterRemoval), Hostile, 13),
        (P(Mutant::FreeGuessAfterCompletion), Hostile, 0),
        (P(Mutant::ChargeUnconfirmedAttempts), Hostile, 598),
        (P(Mutant::SignalUnfair), Hostile, 0),
        (Planted::ReleaseBeforeDurable, Faulty, 0),
    ]
};

/// Why a protocol mutant is not in `CAUGHT`.
pub fn not_simulated(m: Mutant) -> Option<&'static str> {
    match m {
        Mutant::FeedIgnoresForks => Some(
            "forks need an equivocating author whose branches replicas keep apart; replicas do not yet \
             exchange fork evidence (SPEC §5.4), so a forking insider would break convergence on real code too; \
             caught by the feed property test and the feed vectors",
        ),
        Mutant::GuestTrustsGrant => Some(
            "every host in a world is a real Peer, whose grants pass the guest's checks anyway; a lying host \
             is interactive: the conformance harness's lying-host scenarios catch it",
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
