//! A reference model of ONE PIN invitation, checked against the real `InvitationHost` after
//! every step (a `proptest-state-machine` test, in the style of firezone's: reference state
//! versus system under test).
//!
//! The model is SPEC §7.6–§7.9 written down as a few counters, with no call into the host's
//! code: the wrong PINs the invitation still tolerates (`budget`), how many guests it admitted
//! (against `use_limit`), why it ended (completed, burned, expired, cancelled), whether a
//! session holds the attempt lock (and until when), and the clock. Each transition is one thing
//! that happens to the invitation: a new guest types the right or a wrong PIN, an admitted
//! guest retries with the same request (or tries again with a new one), a guest stops before it
//! confirms (closing, or stalling with the lock), a frame is lost, the host restarts from its
//! persisted record, the user cancels, time passes (sometimes past the expiry).
//!
//! After every step the harness compares the model's prediction with what the real machines
//! report: what the guest saw (admitted, `WrongPin` with attempts left, a final `Refusal`,
//! `Busy`, no answer), the host's `state()`, its attempts left and admitted count, the record it
//! persisted last, and the invariant that at most `attempts_max` wrong PINs are ever tested,
//! across sessions and restarts. `planted_invitation_bugs_fail_the_model` shows each reachable
//! invitation mutant making the same run fail.
//!
//! The harness drives one host and one guest at a time synchronously (no latency, no guest
//! timers), so virtual time moves only on `Advance` and the model knows the clock exactly; it
//! lives in `invitation_model/sut.rs`. The runs are deterministic (ChaCha, fixed seed, 64 cases).

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use spaces_protocol::invitation::{Refusal, State};

const T0: u64 = 1_700_000_000_000;
/// The code's expiry, an hour after creation (a whole second, as codes carry seconds).
const LIFETIME_MS: u64 = 3_600_000;
/// SPEC §7.6.2: a session that answered `PakeStart` holds the lock this long at most.
const CONFIRM_WINDOW_MS: u64 = 10_000;
/// Transitions per case, and cases per run: small enough for CI, enough to reach every end.
const STEPS: std::ops::Range<usize> = 1..28;
const CASES: u32 = 64;

/// Why the invitation ended, in the model's own words (SPEC §7.6.4 `Ended`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Completed,
    Cancelled,
    Expired,
    Burned,
}

impl End {
    /// The refusal an ended invitation gives everyone it did not admit (SPEC §7.6.2).
    fn refusal(self) -> Refusal {
        match self {
            End::Completed => Refusal::AlreadyUsed,
            End::Cancelled => Refusal::Cancelled,
            End::Expired => Refusal::Expired,
            End::Burned => Refusal::AttemptsExhausted,
        }
    }
}

/// What the guest of a step saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// No guest in this step, or one that stopped before anything PIN-dependent.
    Nothing,
    Admitted,
    WrongPin(u8),
    Failed(Refusal),
    /// Refused `Busy`: another session holds the lock; the guest would come back later.
    Busy,
    /// Sent its proof and heard nothing (in doubt).
    NoAnswer,
}

/// Which frame of an attempt never arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lose {
    None,
    /// Everything the guest sends after its `Hello`: it stops in the Noise handshake.
    AfterHello,
    /// The guest's `Confirm`: the host holds the lock, nothing is charged.
    Confirm,
    /// The host's answer to the `Confirm` (the grant or the refusal).
    Answer,
}

#[derive(Debug, Clone)]
enum Step {
    /// A new guest (a new identity and Noise key) types the right PIN, or a wrong one.
    NewGuest {
        right: bool,
        lose: Lose,
    },
    /// A guest stops before confirming: it closes, or stalls holding the lock (`stall`).
    Unconfirmed {
        right: bool,
        stall: bool,
    },
    /// The `i`-th admitted guest retries with its same request (and the right PIN, or not).
    Retry {
        i: usize,
        right: bool,
    },
    /// The `i`-th admitted guest asks again with a new request (new feed keys).
    Rejoin {
        i: usize,
    },
    /// The `i`-th admitted guest retries on a connection made before the expiry; its
    /// `PakeStart` arrives at the expiry, before the host's expiry timer ran (a driver's timer
    /// fires when it fires). Only in `late_retry_at_expiry_gets_its_grant`.
    LateRetry {
        i: usize,
    },
    Restart,
    Cancel,
    Advance(Jump),
}

#[derive(Debug, Clone, Copy)]
enum Jump {
    Ms(u64),
    /// To the expiry itself (`now ≥ expires_at` holds from then on), or just past it.
    Expiry {
        past: bool,
    },
}

/// The reference state.
#[derive(Debug, Clone)]
struct Model {
    seed: u64,
    attempts_max: u8,
    /// 0 = unlimited.
    use_limit: u32,
    now: u64,
    expires_at: u64,
    budget: u8,
    admitted: usize,
    ended: Option<End>,
    /// The deadline of the session holding the attempt lock, if one does.
    lock: Option<u64>,
    /// Wrong PINs the host evaluated so far (an answer that depends on the PIN).
    tested: u8,
    /// What the guest of the last step saw.
    seen: Seen,
}

impl Model {
    /// SPEC §7.6.2 invitation states, as the host reports them between steps (every guest but a
    /// stalled one has closed by then).
    fn state(&self) -> State {
        match self.ended {
            Some(End::Completed) => State::Success,
            Some(End::Cancelled) => State::Cancelled,
            Some(End::Expired) => State::Expired,
            Some(End::Burned) => State::Error,
            None if self.lock.is_some() => State::Authenticating,
            None => State::Connecting,
        }
    }

    /// `end` does nothing once ended, except that a completed invitation may still be cancelled.
    fn end(&mut self, why: End) {
        if self.ended.is_none() || (self.ended == Some(End::Completed) && why == End::Cancelled) {
            self.ended = Some(why);
            self.lock = None;
        }
    }

    /// One guest's attempt. `admitted`: the guest's Noise key is one the invitation admitted;
    /// `same`: and it repeats the request admitted.
    fn attempt(&mut self, admitted: bool, same: bool, right: bool, lose: Lose, stall: bool) -> Seen {
        if self.now >= self.expires_at {
            return Seen::Failed(Refusal::Expired); // §7.6.5: the guest never connects
        }
        if lose == Lose::AfterHello {
            return Seen::Nothing;
        }
        // §7.6.3 "ended means ended": refused when the handshake completes, before any PAKE.
        if let Some(end) = self.ended.filter(|_| !admitted) {
            return Seen::Failed(end.refusal());
        }
        self.pake(admitted, same, right, lose, stall)
    }

    /// The attempt from its `PakeStart` on (§7.6.2 Ready and Confirming rows, §7.7.1).
    fn pake(&mut self, admitted: bool, same: bool, right: bool, lose: Lose, stall: bool) -> Seen {
        if self.lock.is_some() {
            return Seen::Busy;
        }
        if lose == Lose::Confirm {
            if stall {
                self.lock = Some(self.now + CONFIRM_WINDOW_MS);
            }
            return Seen::NoAnswer; // a PAKE that is not confirmed costs nothing
        }
        let seen = if !right {
            match self.ended {
                // An admitted guest's retry after the end: never a PIN-dependent answer.
                Some(end) => Seen::Failed(end.refusal()),
                None => {
                    self.tested += 1;
                    self.budget -= 1;
                    if self.budget == 0 {
                        self.end(End::Burned);
                        Seen::Failed(Refusal::AttemptsExhausted)
                    } else {
                        Seen::WrongPin(self.budget)
                    }
                }
            }
        } else if admitted && same {
            Seen::Admitted // idempotent: the same grant, whatever the end
        } else if admitted {
            Seen::Failed(Refusal::AlreadyUsed) // one admission per identity
        } else {
            self.admitted += 1;
            if self.use_limit != 0 && self.admitted >= self.use_limit as usize {
                self.end(End::Completed);
            }
            Seen::Admitted
        };
        if lose == Lose::Answer { Seen::NoAnswer } else { seen }
    }
}

/// `LATE`: also generate `Step::LateRetry` (a disagreement with SPEC, see its test).
struct InvitationModel<const LATE: bool>;

impl<const LATE: bool> ReferenceStateMachine for InvitationModel<LATE> {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        (any::<u64>(), 1u8..=3, prop_oneof![Just(0u32), 1u32..=3])
            .prop_map(|(seed, attempts_max, use_limit)| Model {
                seed,
                attempts_max,
                use_limit,
                now: T0,
                expires_at: T0 + LIFETIME_MS,
                budget: attempts_max,
                admitted: 0,
                ended: None,
                lock: None,
                tested: 0,
                seen: Seen::Nothing,
            })
            .boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        let lose = prop_oneof![Just(Lose::AfterHello), Just(Lose::Confirm), Just(Lose::Answer)];
        let jump = prop_oneof![
            4 => prop_oneof![Just(1_000u64), Just(CONFIRM_WINDOW_MS + 1), Just(61_000)].prop_map(Jump::Ms),
            1 => any::<bool>().prop_map(|past| Jump::Expiry { past }),
        ];
        let basic = prop_oneof![
            8 => any::<bool>().prop_map(|right| Step::NewGuest { right, lose: Lose::None }),
            2 => (any::<bool>(), lose).prop_map(|(right, lose)| Step::NewGuest { right, lose }),
            2 => (any::<bool>(), any::<bool>()).prop_map(|(right, stall)| Step::Unconfirmed { right, stall }),
            2 => Just(Step::Restart),
            1 => Just(Step::Cancel),
            2 => jump.prop_map(Step::Advance),
        ];
        if state.admitted == 0 {
            return basic.boxed();
        }
        let n = state.admitted;
        let late = if LATE && state.now < state.expires_at && state.lock.is_none() { 2 } else { 0 };
        prop_oneof![
            6 => basic,
            3 => (0..n, prop::bool::weighted(0.75)).prop_map(|(i, right)| Step::Retry { i, right }),
            1 => (0..n).prop_map(|i| Step::Rejoin { i }),
            late => (0..n).prop_map(|i| Step::LateRetry { i }),
        ]
        .boxed()
    }

    fn preconditions(state: &Model, step: &Step) -> bool {
        match step {
            Step::Retry { i, .. } | Step::Rejoin { i } => *i < state.admitted,
            Step::LateRetry { i } => {
                LATE && *i < state.admitted && state.now < state.expires_at && state.lock.is_none()
            }
            _ => true,
        }
    }

    fn apply(mut m: Model, step: &Step) -> Model {
        m.seen = match *step {
            Step::NewGuest { right, lose } => m.attempt(false, false, right, lose, false),
            Step::Unconfirmed { right, stall } => m.attempt(false, false, right, Lose::Confirm, stall),
            Step::Retry { right, .. } => m.attempt(true, true, right, Lose::None, false),
            Step::Rejoin { .. } => m.attempt(true, false, true, Lose::None, false),
            Step::LateRetry { .. } => {
                // Connected and shook hands before the expiry (an admitted key passes any end);
                // the PAKE starts at it. A retry is admitted without the expiry check (§7.6.3,
                // §7.7.1 step 3), then the host's timer ends the invitation.
                m.now = m.expires_at;
                let seen = m.pake(true, true, true, Lose::None, false);
                m.end(End::Expired);
                seen
            }
            Step::Restart => {
                m.lock = None; // sessions do not survive a restart; the record does
                Seen::Nothing
            }
            Step::Cancel => {
                m.end(End::Cancelled);
                Seen::Nothing
            }
            Step::Advance(jump) => {
                m.now = match jump {
                    Jump::Ms(ms) => m.now + ms,
                    Jump::Expiry { past } => m.now.max(m.expires_at + if past { 1_000 } else { 0 }),
                };
                if m.now >= m.expires_at {
                    m.end(End::Expired);
                }
                if m.lock.is_some_and(|deadline| deadline <= m.now) {
                    m.lock = None;
                }
                Seen::Nothing
            }
        };
        m
    }
}

#[path = "invitation_model/sut.rs"]
mod sut;
use sut::{Sut, ended};

struct InvitationTest<const LATE: bool>;

impl<const LATE: bool> StateMachineTest for InvitationTest<LATE> {
    type SystemUnderTest = Sut;
    type Reference = InvitationModel<LATE>;

    fn init_test(ref_state: &Model) -> Sut {
        Sut::new(ref_state)
    }

    fn apply(mut sut: Sut, ref_state: &Model, step: Step) -> Sut {
        sut.step(ref_state, step);
        sut
    }

    fn check_invariants(sut: &Sut, m: &Model) {
        REACHED.with(|r| r.borrow_mut().extend([seen_kind(m.seen), end_kind(m.ended)]));
        assert_eq!(sut.seen, m.seen, "what the guest saw");
        assert_eq!(sut.host.state(), m.state(), "the host's state");
        assert_eq!(sut.host.attempts_left(), m.budget, "the host's attempts left");
        assert_eq!(sut.host.admitted().len(), m.admitted, "guests admitted");
        let r = &sut.persisted;
        assert_eq!(
            (r.attempts_left, r.admitted.len(), r.ended),
            (m.budget, m.admitted, ended(m.ended)),
            "the persisted record (attempts left, admitted, end)"
        );
        assert!(sut.tested <= m.attempts_max, "{} wrong PINs tested, attempts_max {}", sut.tested, m.attempts_max);
        assert_eq!(sut.tested, m.tested, "wrong PINs tested");
    }
}

std::thread_local! {
    /// What the checked steps predicted (guest outcomes and ends), so a run that never reaches
    /// an outcome fails instead of passing vacuously.
    static REACHED: std::cell::RefCell<std::collections::BTreeSet<&'static str>> = Default::default();
}

/// Every guest outcome and end the honest run must reach.
const MUST_REACH: [&str; 14] = [
    "nothing",
    "admitted",
    "wrong-pin",
    "already-used",
    "expired",
    "cancelled",
    "burned",
    "busy",
    "no-answer",
    "open",
    "end-completed",
    "end-cancelled",
    "end-expired",
    "end-burned",
];

fn end_kind(e: Option<End>) -> &'static str {
    match e {
        None => "open",
        Some(End::Completed) => "end-completed",
        Some(End::Cancelled) => "end-cancelled",
        Some(End::Expired) => "end-expired",
        Some(End::Burned) => "end-burned",
    }
}

fn seen_kind(s: Seen) -> &'static str {
    match s {
        Seen::Nothing => "nothing",
        Seen::Admitted => "admitted",
        Seen::WrongPin(_) => "wrong-pin",
        Seen::Failed(Refusal::AlreadyUsed) => "already-used",
        Seen::Failed(Refusal::Expired) => "expired",
        Seen::Failed(Refusal::Cancelled) => "cancelled",
        Seen::Failed(Refusal::AttemptsExhausted) => "burned",
        Seen::Failed(_) => "other",
        Seen::Busy => "busy",
        Seen::NoAnswer => "no-answer",
    }
}

/// The deterministic runner: the same cases on every run, no failure files.
fn runner(cases: u32) -> TestRunner {
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 256, ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Runs the model against the host; `Err` carries the (shrunk) failing case.
fn run_model<const LATE: bool>(cases: u32) -> Result<(), String> {
    let mut runner = runner(cases);
    let config = runner.config().clone();
    let strategy = InvitationModel::<LATE>::sequential_strategy(STEPS);
    runner
        .run(&strategy, |(initial, steps, seen)| {
            InvitationTest::<LATE>::test_sequential(config.clone(), initial, steps, seen);
            Ok(())
        })
        .map_err(|e| match e {
            TestError::Abort(why) => format!("aborted: {why}"),
            TestError::Fail(why, (initial, steps, _)) => format!("{why}\ninitial: {initial:?}\nsteps: {steps:#?}"),
        })
}

#[test]
fn the_host_follows_the_invitation_model() {
    if let Err(e) = run_model::<false>(CASES) {
        panic!("the host disagrees with the model: {e}");
    }
    let missed: Vec<_> = REACHED.with(|r| MUST_REACH.into_iter().filter(|k| !r.borrow().contains(k)).collect());
    assert!(missed.is_empty(), "the run never reached {missed:?}");
}

/// Each invitation mutant the model can reach makes the same deterministic run fail.
///
/// Not reachable from one non-delegated host driven by honest guests:
/// - `DelegatedFullShares`: only delegated invitations split the budget between hosts.
/// - `DropPrologueBinding`: both sides leave the prologue out alike; only a tampered code shows it.
/// - `LeakPinIntoFrame`: a guest-side secrecy bug; the model checks outcomes, not the wire.
/// - `GuestTrustsGrant`: an honest host never sends a grant the guest should refuse.
#[cfg(feature = "mutants")]
#[test]
fn planted_invitation_bugs_fail_the_model() {
    use spaces_protocol::mutants::{Mutant, set};
    let reachable = [
        Mutant::AcceptAnyPin,
        Mutant::PerSessionBudget,
        Mutant::IgnoreExpiry,
        Mutant::ForgetBudgetOnRestart,
        Mutant::AdmitAfterCancel,
        Mutant::RejoinAfterRemoval,
        Mutant::FreeGuessAfterCompletion,
        Mutant::ChargeUnconfirmedAttempts,
    ];
    // Failing cases panic inside the runner (which catches them): keep their noise, on this
    // thread only, out of the log.
    std::thread_local! { static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) }; }
    let loud = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !QUIET.with(|q| q.get()) {
            loud(info);
        }
    }));
    let mut survived = Vec::new();
    for mutant in reachable {
        set(Some(mutant));
        QUIET.with(|q| q.set(true));
        let result = run_model::<false>(CASES);
        QUIET.with(|q| q.set(false));
        set(None);
        match result {
            Err(e) => eprintln!("{} caught: {e}", mutant.name()),
            Ok(()) => survived.push(mutant.name()),
        }
    }
    assert!(survived.is_empty(), "mutants the model did not catch: {survived:?}");
}

/// SPEC §7.6.3 and §7.7.1 step 3: a retry of an admitted guest is admitted without the expiry
/// check, also when its `PakeStart` reaches the host at the expiry before the host's own expiry
/// timer ran. Found by this model (it failed on 9d2f795: the host refused `Expired` and the
/// guest, in doubt, ended `EXPIRED` though admitted; minimal case: a guest admitted, then
/// `LateRetry { i: 0 }`); fixed in `InvitationHost::start_pake` (SPEC §7.11).
#[test]
fn late_retry_at_expiry_gets_its_grant() {
    if let Err(e) = run_model::<true>(CASES) {
        panic!("the host disagrees with the model: {e}");
    }
}
