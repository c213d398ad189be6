//! The planted-bug catalogue as the simulator sees it. With the `mutants` feature a run may
//! plant one bug (by name) on its thread; the oracle's reference computations run with it
//! suspended, so the oracle never judges with the broken rules.

use spaces_protocol::mutants::Mutant;

/// Mutants the simulator is expected to catch, with the profile that catches them. The
/// others in the protocol's catalogue are caught by unit and property tests (listed by
/// `spaces-sim mutants`, with the reason).
pub const CAUGHT: &[(Mutant, crate::config::Profile)] = {
    use crate::config::Profile::*;
    &[
        (Mutant::CodecLenient, Hostile),
        (Mutant::SkipSignatureCheck, Hostile),
        (Mutant::MembershipArrivalOrder, Faulty),
        (Mutant::NoStrongRemoval, Faulty),
        (Mutant::AllowSelfPromotion, Hostile),
        (Mutant::ItemsLastApplied, Faulty),
        (Mutant::AcceptReaderWrites, Hostile),
        (Mutant::AcceptWritesAfterRemoval, Hostile),
        (Mutant::AcceptAnyPin, Hostile),
        (Mutant::PerSessionBudget, Hostile),
        (Mutant::IgnoreExpiry, Calm),
        (Mutant::ForgetBudgetOnRestart, Hostile),
        (Mutant::DropPrologueBinding, Hostile),
        (Mutant::AdmitAfterCancel, Faulty),
        (Mutant::LeakPinIntoFrame, Calm),
        (Mutant::SnapshotDropsEntry, Faulty),
    ]
};

/// Why a protocol mutant is not in `CAUGHT`.
pub fn not_simulated(m: Mutant) -> Option<&'static str> {
    match m {
        Mutant::FeedIgnoresForks => Some(
            "forks need an equivocating author whose branches replicas keep apart; replicas do not yet \
             exchange fork evidence (SPEC §5.4), so a forking insider would break convergence on real code too; \
             caught by the feed property test",
        ),
        _ => None,
    }
}

pub fn parse(name: &str) -> Result<Mutant, String> {
    Mutant::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        format!("unknown mutant {name}; known: {}", names.join(", "))
    })
}

/// Plants `m` on this thread (no-op without the feature, where `enabled()` is false).
pub fn plant(m: Option<Mutant>) {
    #[cfg(feature = "mutants")]
    spaces_protocol::mutants::set(m);
    #[cfg(not(feature = "mutants"))]
    let _ = m;
}

pub fn enabled() -> bool {
    cfg!(feature = "mutants")
}

std::thread_local! {
    static PLANTED: std::cell::Cell<Option<Mutant>> = const { std::cell::Cell::new(None) };
}

/// Plants `m` for the current run on this thread.
pub fn set_for_run(m: Option<Mutant>) {
    PLANTED.with(|p| p.set(m));
    plant(m);
}

/// Runs `f` with the planted bug removed, then puts it back.
pub fn suspended<T>(f: impl FnOnce() -> T) -> T {
    plant(None);
    let out = f();
    plant(PLANTED.with(|p| p.get()));
    out
}
