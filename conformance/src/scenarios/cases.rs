//! The scenario catalogue. Each is a short script over `Net`; a failed `check` names what
//! should have held. The harness's own flows are our protocol crate, honest unless the
//! scenario says otherwise.

use super::net::{Abort, Net, Step, check};
use super::{DriverRole, Scenario};
use crate::flow::Dir;
use crate::wire::{FlowInput, FlowOutput, HostCreated, Outcome, count_text, json_text};

pub(super) const SECOND: u64 = 1_000;
pub(super) const MINUTE: u64 = 60 * SECOND;
pub(super) const HOUR: u64 = 60 * MINUTE;
/// Long enough for any honest flow, retries included, to end.
pub(super) const SETTLE_MS: u64 = 30 * MINUTE;

pub const ALL: &[Scenario] = &[
    Scenario {
        name: "honest-guest-pin",
        driver: DriverRole::Host,
        description: "an honest guest with the right PIN is admitted; both sides agree",
        run: honest_guest_pin,
    },
    Scenario {
        name: "honest-guest-no-auth",
        driver: DriverRole::Host,
        description: "an honest guest of a method-none invitation is admitted; both sides agree",
        run: honest_guest_no_auth,
    },
    Scenario {
        name: "honest-host-pin",
        driver: DriverRole::Guest,
        description: "an honest host admits the driver's guest; both sides agree",
        run: honest_host_pin,
    },
    Scenario {
        name: "wrong-pin-then-right",
        driver: DriverRole::Host,
        description: "a wrong PIN is refused (2 attempts left, nobody admitted), then the right one admits",
        run: wrong_pin_then_right,
    },
    Scenario {
        name: "guest-wrong-pin-then-right",
        driver: DriverRole::Guest,
        description: "the guest reports a wrong PIN and may try again; the right one admits",
        run: guest_wrong_pin_then_right,
    },
    Scenario {
        name: "single-use",
        driver: DriverRole::Host,
        description: "a single-use invitation admits one guest; a second with the right PIN is refused",
        run: single_use,
    },
    Scenario {
        name: "concurrent-guests",
        driver: DriverRole::Host,
        description: "two guests typing the PIN at once are both admitted (one waits its turn); both agree",
        run: concurrent_guests,
    },
    Scenario {
        name: "budget-across-reconnects",
        driver: DriverRole::Host,
        description: "three wrong PINs on three connections burn the invitation; the right PIN is then refused",
        run: budget_across_reconnects,
    },
    Scenario {
        name: "budget-across-restart",
        driver: DriverRole::Host,
        description: "the budget survives a host restart (flow.restart): 1 wrong, restart, 2 wrong burn it",
        run: budget_across_restart,
    },
    Scenario {
        name: "restart-after-admission",
        driver: DriverRole::Host,
        description: "the grant is lost and the host restarts: the guest's retry gets its admission from the record",
        run: restart_after_admission,
    },
];

// ----- helpers -----

pub(super) fn pin_of(created: &HostCreated) -> Step<String> {
    created.pin.clone().ok_or_else(|| Abort::Driver("host.create of a PIN invitation returned no pin".into()))
}

pub(super) fn wrong(pin: &str) -> String {
    if pin == "000000" { "000001".into() } else { "000000".into() }
}

pub(super) fn show(net: &Net<'_>, slot: usize) -> String {
    let s = net.status(slot);
    format!(
        "{} is {} (outcome {}, attempts_left {}, admitted {})",
        net.name(slot),
        s.state,
        s.outcome.as_ref().map_or_else(|| "none".to_owned(), |o| o.to_string()),
        count_text(s.attempts_left),
        s.admitted.len()
    )
}

/// Runs until the guest waits for its PIN, then types `pin`.
pub(super) fn type_pin(net: &mut Net<'_>, guest: usize, pin: &str) -> Step {
    net.run_until(MINUTE, |n| n.waits_for_pin(guest) || n.terminal(guest))?;
    check(net.waits_for_pin(guest), "the guest waits for its PIN (READY_FOR_AUTHENTICATION)", show(net, guest))?;
    net.input(guest, FlowInput::Authenticate { pin: pin.to_owned() })
}

/// Runs until the guest has the host's answer to a PIN: a count of attempts, or an end.
pub(super) fn await_answer(net: &mut Net<'_>, guest: usize, before: usize) -> Step {
    let answered = |n: &Net<'_>| n.terminal(guest) || wrong_pins(n, guest) > before;
    net.run_until(MINUTE, answered).map(|_| ())
}

pub(super) fn wrong_pins(net: &Net<'_>, guest: usize) -> usize {
    net.events(guest).iter().filter(|e| matches!(e, FlowOutput::WrongPin { .. })).count()
}

pub(super) fn settle(net: &mut Net<'_>, slots: &[usize]) -> Step {
    net.run_until(SETTLE_MS, |n| slots.iter().all(|s| n.terminal(*s))).map(|_| ())
}

/// Both sides agree: the guest holds a grant to `space` as EDITOR, the host admitted it,
/// and every transcript both sides report for an untouched session is equal.
pub(super) fn agree(net: &Net<'_>, host: usize, guest: usize, identity: &str, space: &str) -> Step {
    let expected = Outcome::Success { space: space.to_owned(), role: "editor".into() };
    check(
        net.status(guest).outcome.as_ref() == Some(&expected),
        format!("{} ends with {expected}", net.name(guest)),
        show(net, guest),
    )?;
    check(
        net.status(host).admitted.iter().any(|k| k == identity),
        format!("{} admitted the guest {identity}", net.name(host)),
        format!("{} admitted {}", net.name(host), json_text(&net.status(host).admitted)),
    )?;
    transcripts_agree(net, host, guest)
}

pub(super) fn transcripts_agree(net: &Net<'_>, a: usize, b: usize) -> Step {
    let (ta, tb) = (&net.status(a).transcripts, &net.status(b).transcripts);
    for (session, hash) in ta {
        let Some(other) = tb.get(session) else { continue };
        let untouched = session.parse().is_ok_and(|s| !net.session_touched(s));
        check(
            !untouched || hash == other,
            format!("equal transcript hashes on session {session}"),
            format!("{}: {hash}, {}: {other}", net.name(a), net.name(b)),
        )?;
    }
    Ok(())
}

pub(super) fn refused(net: &Net<'_>, guest: usize, reasons: &[&str]) -> Step {
    let ok =
        matches!(&net.status(guest).outcome, Some(Outcome::Failure { reason }) if reasons.contains(&reason.as_str()));
    check(ok, format!("{} ends refused ({})", net.name(guest), reasons.join(" or ")), show(net, guest))
}

pub(super) fn nobody_admitted(net: &Net<'_>, host: usize) -> Step {
    check(net.status(host).admitted.is_empty(), format!("{} admitted nobody", net.name(host)), show(net, host))
}

pub(super) fn admissions_on(net: &Net<'_>, host: usize, session: u64) -> usize {
    net.events(host).iter().filter(|e| matches!(e, FlowOutput::Admitted { session: s, .. } if *s == session)).count()
}

pub(super) fn state_is(net: &Net<'_>, slot: usize, state: &str) -> Step {
    check(net.state(slot) == state, format!("{} is {state}", net.name(slot)), show(net, slot))
}

pub(super) fn reached(net: &Net<'_>, slot: usize, state: &str) -> bool {
    net.events(slot).iter().any(|e| matches!(e, FlowOutput::State { state: s } if s == state))
}

/// A harness guest on a fresh connection types `pin` and waits for the answer.
pub(super) fn attempt(net: &mut Net<'_>, code: &str, pin: &str) -> Step<usize> {
    let (g, _) = net.local_guest(code)?;
    type_pin(net, g, pin)?;
    await_answer(net, g, 0)?;
    Ok(g)
}

// ----- honest flows -----

fn honest_guest_pin(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.local_guest(&created.code)?;
    type_pin(net, g, &pin)?;
    settle(net, &[g, h])?;
    agree(net, h, g, &guest.identity, &created.space)?;
    state_is(net, h, "SUCCESS")
}

fn honest_guest_no_auth(net: &mut Net<'_>) -> Step {
    let args = net.host_args("none", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let (g, guest) = net.local_guest(&created.code)?;
    settle(net, &[g, h])?;
    agree(net, h, g, &guest.identity, &created.space)
}

fn honest_host_pin(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.local_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.driver_guest(&created.code)?;
    type_pin(net, g, &pin)?;
    settle(net, &[g, h])?;
    agree(net, h, g, &guest.identity, &created.space)
}

// ----- PINs and the attempt budget -----

fn wrong_pin_then_right(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.local_guest(&created.code)?;
    type_pin(net, g, &wrong(&pin))?;
    await_answer(net, g, 0)?;
    check(
        !net.terminal(g) && net.status(g).attempts_left == Some(2),
        "the host answers wrong_pin with 2 attempts left",
        show(net, g),
    )?;
    nobody_admitted(net, h)?;
    type_pin(net, g, &pin)?;
    settle(net, &[g])?;
    agree(net, h, g, &guest.identity, &created.space)
}

fn guest_wrong_pin_then_right(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.local_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.driver_guest(&created.code)?;
    type_pin(net, g, &wrong(&pin))?;
    await_answer(net, g, 0)?;
    check(
        net.events(g).contains(&FlowOutput::WrongPin { attempts_left: 2 }),
        "the guest reports wrong_pin with 2 attempts left",
        json_text(&net.events(g)),
    )?;
    nobody_admitted(net, h)?;
    type_pin(net, g, &pin)?;
    settle(net, &[g])?;
    agree(net, h, g, &guest.identity, &created.space)
}

fn single_use(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g1, first) = net.local_guest(&created.code)?;
    type_pin(net, g1, &pin)?;
    settle(net, &[g1])?;
    agree(net, h, g1, &first.identity, &created.space)?;
    let (g2, _) = net.local_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g2) || n.terminal(g2))?;
    if !net.terminal(g2) {
        net.input(g2, FlowInput::Authenticate { pin })?;
    }
    settle(net, &[g2])?;
    refused(net, g2, &["already_used"])?;
    check(net.status(h).admitted == [first.identity.clone()], "the host admitted the first guest only", show(net, h))
}

fn concurrent_guests(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 2);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g1, first) = net.local_guest(&created.code)?;
    let (g2, second) = net.local_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g1) && n.waits_for_pin(g2))?;
    net.input(g1, FlowInput::Authenticate { pin: pin.clone() })?;
    net.input(g2, FlowInput::Authenticate { pin })?;
    settle(net, &[g1, g2])?;
    agree(net, h, g1, &first.identity, &created.space)?;
    agree(net, h, g2, &second.identity, &created.space)?;
    state_is(net, h, "SUCCESS")
}

fn budget_across_reconnects(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    for _ in 0..3 {
        let g = attempt(net, &created.code, &wrong(&pin))?;
        net.input(g, FlowInput::Cancel)?;
        net.wait(SECOND)?;
    }
    let g = net.local_guest(&created.code)?.0;
    net.run_until(MINUTE, |n| n.waits_for_pin(g) || n.terminal(g))?;
    if !net.terminal(g) {
        net.input(g, FlowInput::Authenticate { pin })?;
    }
    settle(net, &[g])?;
    refused(net, g, &["attempts_exhausted"])?;
    nobody_admitted(net, h)?;
    state_is(net, h, "ERROR")
}

fn budget_across_restart(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    for round in 0..3 {
        if round == 1 {
            net.restart(h)?;
        }
        let g = attempt(net, &created.code, &wrong(&pin))?;
        net.input(g, FlowInput::Cancel)?;
        net.wait(SECOND)?;
    }
    let g = net.local_guest(&created.code)?.0;
    net.run_until(MINUTE, |n| n.waits_for_pin(g) || n.terminal(g))?;
    if !net.terminal(g) {
        net.input(g, FlowInput::Authenticate { pin })?;
    }
    settle(net, &[g])?;
    refused(net, g, &["attempts_exhausted"])?;
    nobody_admitted(net, h)
}

fn restart_after_admission(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.local_guest(&created.code)?;
    // Host frames: Handshake, PakeReply, Admitted (index 2), which is lost.
    net.tap = Some(Box::new(|d, i, bytes| if d == Dir::ToGuest && i == 2 { vec![] } else { vec![bytes] }));
    type_pin(net, g, &pin)?;
    net.run_until(MINUTE, |n| !n.status(h).admitted.is_empty())?;
    check(!net.status(h).admitted.is_empty(), "the host admits the guest", show(net, h))?;
    net.restart(h)?;
    settle(net, &[g])?;
    agree(net, h, g, &guest.identity, &created.space)?;
    check(net.status(h).admitted == [guest.identity.clone()], "one admission, kept across the restart", show(net, h))
}
