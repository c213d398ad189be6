//! The mutant catalogue: deliberately planted bugs that prove the checkers can fail.
//!
//! Compiled in only with the `mutants` cargo feature; without it `active` is a constant
//! `false` and every planted branch is dead code the optimiser removes. A mutant is chosen
//! per thread, so a test runner or simulator can check many mutants in parallel.

/// One planted bug. Names are stable: tests, CLIs and reports refer to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mutant {
    /// Decoding accepts any bytes postcard accepts (no canonical re-encoding check).
    CodecLenient,
    /// Credential signatures are not checked.
    SkipSignatureCheck,
    /// Membership applies credentials in arrival order, never re-resolving.
    MembershipArrivalOrder,
    /// Concurrent demotions and removals void nothing (no strong removal).
    NoStrongRemoval,
    /// Members may change their own role.
    AllowSelfPromotion,
    /// Item registers keep the last write applied instead of the greatest stamp.
    ItemsLastApplied,
    /// Any member may write items, readers included.
    AcceptReaderWrites,
    /// Writes beyond a removal's frontier stay valid.
    AcceptWritesAfterRemoval,
    /// A second entry at a taken sequence number is treated as a duplicate.
    FeedIgnoresForks,
    /// The host accepts any PIN confirmation.
    AcceptAnyPin,
    /// Each connection gets a fresh attempt budget (DXOS's per-connection counter).
    PerSessionBudget,
    /// The host ignores the invitation's expiry.
    IgnoreExpiry,
    /// The persisted record always carries a full budget, so a restart forgets wrong PINs.
    ForgetBudgetOnRestart,
    /// Both sides leave the invitation parameters out of the Noise prologue.
    DropPrologueBinding,
    /// The host ignores cancellation.
    AdmitAfterCancel,
    /// The guest appends the PIN, as typed, to every frame it sends once it has one.
    LeakPinIntoFrame,
    /// The guest accepts any grant whose MAC verifies, without the checks of SPEC §7.7.3.
    GuestTrustsGrant,
    /// A replica takes everything a heard device (a removed member's) sends and pulls its
    /// control feeds to the end, however much it appended after its removal.
    IngestRemovedUnbounded,
    /// The host serves any session from an admitted Noise key as a retry whatever it asks, and
    /// the admitter grants a removed identity the code's role again.
    RejoinAfterRemoval,
    /// A completed invitation still runs the PAKE for anyone, uncharged.
    FreeGuessAfterCompletion,
    /// An attempt is charged when the PAKE starts (refunded on success), so a confirmation
    /// lost on the way costs one.
    ChargeUnconfirmedAttempts,
    /// The signaling server shares nothing out: no per-source cap and no eviction, so whoever
    /// fills a table first keeps it.
    SignalUnfair,
    /// The walk skips §4.4 step 7 (concurrent demotion): only the fixpoint of §4.6 voids.
    SkipConcurrentDemotion,
    /// A feed key's later `AdmittedFeed` is applied too, so a re-admission changes whose feed
    /// it is (no `FeedAlreadyAdmitted`).
    FeedReadmissionWins,
    /// An entry whose body is stored, signed again (another valid signature), counts as a fork.
    ForkOnResignature,
    /// A replica compares an entry with the one it holds before checking its signature, so a
    /// stored body with an invalid (e.g. non-canonical) signature reads as a duplicate.
    DuplicateBeforeSignature,
    /// Every host of a delegated invitation gets the whole attempt budget (a counter per host,
    /// as with DXOS's per-connection one), so a guesser moving between hosts gets more.
    DelegatedFullShares,
    /// Every credential insert resolves the whole set from scratch (the cost before issue 11:
    /// junk that sorts early forced it): the same answers, O(n) work per insert.
    ResolveEveryInsert,
    /// The causal graph starts a new chain for every credential with more than one parent and
    /// stores its whole clock (the memory before issue 11): the same answers, O(n) clock
    /// entries per credential for a member citing its own two previous credentials.
    DenseClocks,
    /// Members never send a device that ceased to be a member the entries that removed it
    /// (SPEC §9.2.2 rule 7), so it believes itself a member for good.
    NoRemovalNotice,
    /// A local change sends only the new summary, never the entries a linked device is known
    /// to lack (SPEC §9.3.3 rule 2), so every write waits for the receiver's pull.
    PullOnly,
    /// A summary showing entries we would refuse (a feed we do not admit) still makes us
    /// announce ours again, so two replicas with different credential sets pull each other
    /// every round trip (the storm of hostile seed 675).
    PullRefusedFeeds,
    /// Entries deferred for want of their feed's admission give up no credentials, so an
    /// admission that travels only in its own feed's entries never arrives (SPEC §9.3.3 rule 4).
    IgnoreDeferredCredentials,
    /// Both halves of the hostile 675 fix undone at once (`pull-refused-feeds` and
    /// `ignore-deferred-credentials`): the replication storm itself, which R3 must catch.
    ReplicationStorm,
    /// Every summary is answered in full, even while an earlier answer of the same feeds is
    /// still on its way (SPEC §9.3.3 rule 3): a member repeating a tiny `Have` makes every
    /// replica upload a batch per message.
    AnswerEverySummary,
    /// A link to a heard device closes once the first space it is heard for settles, though
    /// its summary of another, with a removal it lacks, is still on its way (SPEC §9.2.2 rule 6).
    CloseOnFirstHeardSpace,
    /// A heard device never gets our loose credentials, so a removal that travels in no entry
    /// (its remover's forked branch was cut) never reaches it (SPEC §9.2.2 rule 6).
    NoLooseToHeard,
    /// The removal notice goes from a heard device's positions even when its heads show it on
    /// another branch of a control feed, so it refuses the notice as a broken chain (rule 7).
    PositionsOnlyNotice,
    /// Fork evidence goes to a link only when it is authorised, not when a space joins its set
    /// later, so a device re-admitted on an open connection keeps a cut branch (§9.3.5 rule 2).
    ForksOnAuthoriseOnly,
    /// A link to a device we authorise for no space and hear for none is refused at once, so a
    /// member admitted since our replica last heard of the space can never tell it anything
    /// (SPEC §9.2.2 rule 8).
    RefuseStrangers,
    /// A device that knows it was removed from a space goes on dialling for it (SPEC §9.1.1,
    /// removed devices): a handshake members pay for, about once a minute each. A disowned
    /// device also stays on its identity's HALO topic (§9.8).
    RemovedKeepsDialling,
    /// Members dial a re-admitted device only when their key is the smaller, so one that
    /// stopped dialling when it was removed may never hear it is back (SPEC §9.1.1).
    NoReadmittedDial,
    /// A device never asks a sibling for a space its HALO lists (SPEC §9.8), so a device
    /// linked by a DEVICE invitation never holds its identity's spaces.
    HaloNoJoin,
    /// `RemovedDevice` changes nothing: a removed device's credentials and writes after (or
    /// concurrent with) its removal count as before (SPEC §4.4 step 7, §6.4 rule 5).
    IgnoreDeviceRemoval,
    /// A device that sees its identity remove a sibling in one space repeats it nowhere
    /// (SPEC §9.8, spreading): the removed device stays a member device of the spaces the
    /// remover does not hold.
    NoRemovalSpread,
    /// A grant for a space the guest holds already changes nothing, even where the guest's own
    /// feeds are not admitted to it (its first admission voided): invited back, it can never
    /// write (SPEC §7.7.3, a guest that holds the space already).
    RejoinKeepsVoidFeeds,
}

impl Mutant {
    pub const ALL: [Mutant; 46] = [
        Mutant::CodecLenient,
        Mutant::SkipSignatureCheck,
        Mutant::MembershipArrivalOrder,
        Mutant::NoStrongRemoval,
        Mutant::AllowSelfPromotion,
        Mutant::ItemsLastApplied,
        Mutant::AcceptReaderWrites,
        Mutant::AcceptWritesAfterRemoval,
        Mutant::FeedIgnoresForks,
        Mutant::AcceptAnyPin,
        Mutant::PerSessionBudget,
        Mutant::IgnoreExpiry,
        Mutant::ForgetBudgetOnRestart,
        Mutant::DropPrologueBinding,
        Mutant::AdmitAfterCancel,
        Mutant::LeakPinIntoFrame,
        Mutant::GuestTrustsGrant,
        Mutant::IngestRemovedUnbounded,
        Mutant::RejoinAfterRemoval,
        Mutant::FreeGuessAfterCompletion,
        Mutant::ChargeUnconfirmedAttempts,
        Mutant::SignalUnfair,
        Mutant::SkipConcurrentDemotion,
        Mutant::FeedReadmissionWins,
        Mutant::ForkOnResignature,
        Mutant::DuplicateBeforeSignature,
        Mutant::DelegatedFullShares,
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
        Mutant::IgnoreDeviceRemoval,
        Mutant::NoRemovalSpread,
        Mutant::RejoinKeepsVoidFeeds,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutant::CodecLenient => "codec-lenient",
            Mutant::SkipSignatureCheck => "skip-signature-check",
            Mutant::MembershipArrivalOrder => "membership-arrival-order",
            Mutant::NoStrongRemoval => "no-strong-removal",
            Mutant::AllowSelfPromotion => "allow-self-promotion",
            Mutant::ItemsLastApplied => "items-last-applied",
            Mutant::AcceptReaderWrites => "accept-reader-writes",
            Mutant::AcceptWritesAfterRemoval => "accept-writes-after-removal",
            Mutant::FeedIgnoresForks => "feed-ignores-forks",
            Mutant::AcceptAnyPin => "accept-any-pin",
            Mutant::PerSessionBudget => "per-session-budget",
            Mutant::IgnoreExpiry => "ignore-expiry",
            Mutant::ForgetBudgetOnRestart => "forget-budget-on-restart",
            Mutant::DropPrologueBinding => "drop-prologue-binding",
            Mutant::AdmitAfterCancel => "admit-after-cancel",
            Mutant::LeakPinIntoFrame => "leak-pin-into-frame",
            Mutant::GuestTrustsGrant => "guest-trusts-grant",
            Mutant::IngestRemovedUnbounded => "ingest-removed-unbounded",
            Mutant::RejoinAfterRemoval => "rejoin-after-removal",
            Mutant::FreeGuessAfterCompletion => "free-guess-after-completion",
            Mutant::ChargeUnconfirmedAttempts => "charge-unconfirmed-attempts",
            Mutant::SignalUnfair => "signal-unfair",
            Mutant::SkipConcurrentDemotion => "skip-concurrent-demotion",
            Mutant::FeedReadmissionWins => "feed-readmission-wins",
            Mutant::ForkOnResignature => "fork-on-resignature",
            Mutant::DuplicateBeforeSignature => "duplicate-before-signature",
            Mutant::DelegatedFullShares => "delegated-full-shares",
            Mutant::ResolveEveryInsert => "resolve-every-insert",
            Mutant::DenseClocks => "dense-clocks",
            Mutant::NoRemovalNotice => "no-removal-notice",
            Mutant::PullOnly => "pull-only",
            Mutant::PullRefusedFeeds => "pull-refused-feeds",
            Mutant::IgnoreDeferredCredentials => "ignore-deferred-credentials",
            Mutant::ReplicationStorm => "replication-storm",
            Mutant::AnswerEverySummary => "answer-every-summary",
            Mutant::CloseOnFirstHeardSpace => "close-on-first-heard-space",
            Mutant::NoLooseToHeard => "no-loose-to-heard",
            Mutant::PositionsOnlyNotice => "positions-only-notice",
            Mutant::ForksOnAuthoriseOnly => "forks-on-authorise-only",
            Mutant::RefuseStrangers => "refuse-strangers",
            Mutant::RemovedKeepsDialling => "removed-keeps-dialling",
            Mutant::NoReadmittedDial => "no-readmitted-dial",
            Mutant::HaloNoJoin => "halo-no-join",
            Mutant::IgnoreDeviceRemoval => "ignore-device-removal",
            Mutant::NoRemovalSpread => "no-removal-spread",
            Mutant::RejoinKeepsVoidFeeds => "rejoin-keeps-void-feeds",
        }
    }

    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == name)
    }
}

#[cfg(feature = "mutants")]
mod active_mutant {
    use super::Mutant;
    use std::cell::Cell;

    std::thread_local! {
        static ACTIVE: Cell<Option<Mutant>> = const { Cell::new(None) };
    }

    pub fn active(m: Mutant) -> bool {
        ACTIVE.with(|a| a.get() == Some(m))
    }

    /// Plants `m` (or none) on this thread.
    pub fn set(m: Option<Mutant>) {
        ACTIVE.with(|a| a.set(m));
    }
}

#[cfg(feature = "mutants")]
pub use active_mutant::set;

/// Is the planted bug `m` active on this thread? Always false without the feature.
#[inline(always)]
pub fn active(_m: Mutant) -> bool {
    #[cfg(feature = "mutants")]
    {
        active_mutant::active(_m)
    }
    #[cfg(not(feature = "mutants"))]
    {
        false
    }
}
