//! The scenario catalogue. Each is a short script over `Net`; a failed `check` names what
//! should have held. The harness's own flows are our protocol crate, honest unless the
//! scenario says otherwise.

use spaces_protocol::Role;
use spaces_protocol::invitation::InvitationCode;

use super::net::{Abort, Chaos, Net, Step, check};
use super::{DriverRole, Scenario};
use crate::flow::Dir;
use crate::wire::{FlowInput, FlowOutput, HostCreated, Outcome};

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
    Scenario {
        name: "replayed-session",
        driver: DriverRole::Host,
        description: "a recorded successful session replayed on a new connection admits nobody and costs nothing",
        run: replayed_session,
    },
    Scenario {
        name: "tampered-frame-to-host",
        driver: DriverRole::Host,
        description: "a tampered Confirm frame admits nobody on its session; the guest's retry then succeeds",
        run: tampered_frame_to_host,
    },
    Scenario {
        name: "tampered-frame-to-guest",
        driver: DriverRole::Guest,
        description: "a tampered Admitted frame is not accepted; the guest reconnects and gets its grant",
        run: tampered_frame_to_guest,
    },
    Scenario {
        name: "duplicated-frame-to-guest",
        driver: DriverRole::Guest,
        description: "a duplicated PakeReply breaks that session only; the guest still ends admitted",
        run: duplicated_frame_to_guest,
    },
    Scenario {
        name: "flaky-network-host",
        driver: DriverRole::Host,
        description: "connections reset at random: the guest still joins, and the sides never disagree",
        run: flaky_network_host,
    },
    Scenario {
        name: "flaky-network-guest",
        driver: DriverRole::Guest,
        description: "connections reset at random: the driver's guest still joins, in agreement",
        run: flaky_network_guest,
    },
    Scenario {
        name: "relay-mitm",
        driver: DriverRole::Guest,
        description: "a relay answering with its own Noise key never completes the handshake",
        run: relay_mitm,
    },
    Scenario {
        name: "relay-rewrites-role",
        driver: DriverRole::Host,
        description: "a guest handed a code rewritten to ADMIN (topic patched by a relay) never completes the handshake",
        run: relay_rewrites_role,
    },
    Scenario {
        name: "slow-guest-past-expiry",
        driver: DriverRole::Host,
        description: "a guest typing the right PIN after the expiry is refused; the host ends EXPIRED",
        run: slow_guest_past_expiry,
    },
    Scenario {
        name: "expired-code",
        driver: DriverRole::Guest,
        description: "a guest started after the code's expiry ends EXPIRED without admission",
        run: expired_code,
    },
    Scenario {
        name: "host-cancel",
        driver: DriverRole::Host,
        description: "a cancel reaches the waiting guest, and later guests with the right PIN are refused",
        run: host_cancel,
    },
    Scenario {
        name: "guest-cancel",
        driver: DriverRole::Guest,
        description: "a guest cancelled while waiting for its PIN ends CANCELLED, admitted nowhere",
        run: guest_cancel,
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
        "{} is {} (outcome {:?}, attempts_left {:?}, admitted {})",
        net.name(slot),
        s.state,
        s.outcome,
        s.attempts_left,
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
        format!("{} ends with {expected:?}", net.name(guest)),
        show(net, guest),
    )?;
    check(
        net.status(host).admitted.iter().any(|k| k == identity),
        format!("{} admitted the guest {identity}", net.name(host)),
        format!("{} admitted {:?}", net.name(host), net.status(host).admitted),
    )?;
    transcripts_agree(net, host, guest)
}

fn transcripts_agree(net: &Net<'_>, a: usize, b: usize) -> Step {
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

fn admissions_on(net: &Net<'_>, host: usize, session: u64) -> usize {
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
        format!("{:?}", net.events(g)),
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

// ----- damaged and replayed frames -----

fn replayed_session(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 0);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.local_guest(&created.code)?;
    type_pin(net, g, &pin)?;
    settle(net, &[g])?;
    agree(net, h, g, &guest.identity, &created.space)?;
    let first = net.wire.first().map(|(s, _, _)| *s).expect("the honest flow sent frames");
    let recorded: Vec<Vec<u8>> =
        net.wire.iter().filter(|(s, d, _)| *s == first && *d == Dir::ToHost).map(|(_, _, b)| b.clone()).collect();
    let attempts = net.status(h).attempts_left;
    let admitted_events = net.events(h).iter().filter(|e| matches!(e, FlowOutput::Admitted { .. })).count();
    let topic = hex::encode(InvitationCode::decode(&created.code).expect("routed codes decode").topic().0);
    let _replayer = net.replayer(&topic, recorded);
    net.wait(MINUTE)?;
    let after = net.events(h).iter().filter(|e| matches!(e, FlowOutput::Admitted { .. })).count();
    check(
        after == admitted_events,
        "no admission on the replayed session",
        format!("{} more", after - admitted_events),
    )?;
    check(
        net.status(h).attempts_left == attempts,
        format!("attempts_left stays {attempts:?}"),
        format!("{:?}", net.status(h).attempts_left),
    )
}

/// Flips the last byte of the `index`th frame in direction `dir`.
fn flip(dir: Dir, index: usize) -> super::net::Tap {
    Box::new(move |d, i, mut bytes| {
        if d == dir && i == index {
            let last = bytes.len() - 1;
            bytes[last] ^= 0x01;
        }
        vec![bytes]
    })
}

fn tampered_frame_to_host(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.local_guest(&created.code)?;
    // Guest frames: Hello, Handshake, PakeStart, Confirm (index 3).
    net.tap = Some(flip(Dir::ToHost, 3));
    type_pin(net, g, &pin)?;
    settle(net, &[g])?;
    check(admissions_on(net, h, 1) == 0, "no admission on the session whose Confirm was tampered", show(net, h))?;
    check(net.sessions_of(g) >= 2, "the guest (in doubt) reconnected", format!("{} sessions", net.sessions_of(g)))?;
    agree(net, h, g, &guest.identity, &created.space)
}

fn tampered_frame_to_guest(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.local_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.driver_guest(&created.code)?;
    // Host frames: Handshake, PakeReply, Admitted (index 2).
    net.tap = Some(flip(Dir::ToGuest, 2));
    type_pin(net, g, &pin)?;
    settle(net, &[g])?;
    check(
        net.sessions_of(g) >= 2,
        "the guest refused the tampered grant and reconnected",
        format!("{} sessions; {}", net.sessions_of(g), show(net, g)),
    )?;
    agree(net, h, g, &guest.identity, &created.space)
}

fn duplicated_frame_to_guest(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.local_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.driver_guest(&created.code)?;
    net.tap = Some(Box::new(
        |d, i, bytes| if d == Dir::ToGuest && i == 1 { vec![bytes.clone(), bytes] } else { vec![bytes] },
    ));
    type_pin(net, g, &pin)?;
    settle(net, &[g])?;
    agree(net, h, g, &guest.identity, &created.space)
}

// ----- a flaky network -----

/// Rounds of the flaky-network scenarios, each with its own fault seed.
const FLAKY_ROUNDS: u64 = 4;
/// Frames exposed to faults in each round; the rest pass, so that a conformant flow always
/// ends: a safety phase, then a liveness phase.
const FLAKY_FRAMES: usize = 16;

/// Resets only: a duplicated or damaged frame before the guest is in doubt ends its flow in
/// ERROR by design (SPEC §7.6.5), so only resets leave liveness to check.
fn flaky(seed: u64) -> Chaos {
    Chaos::new(seed, 25, 0, FLAKY_FRAMES)
}

/// Types the PIN whenever the guest asks for it, until it ends.
fn join_through_faults(net: &mut Net<'_>, guest: usize, pin: &str) -> Step {
    for _ in 0..8 {
        net.run_until(SETTLE_MS, |n| n.waits_for_pin(guest) || n.terminal(guest))?;
        if net.terminal(guest) {
            return Ok(());
        }
        net.input(guest, FlowInput::Authenticate { pin: pin.to_owned() })?;
    }
    settle(net, &[guest])
}

/// Safety under faults: the host admitted no one but the guest, and a guest that ended for a
/// reason other than an in-doubt timeout agrees with the host about its admission.
fn consistent(net: &Net<'_>, host: usize, guest: usize, identity: &str, space: &str) -> Step {
    let admitted = &net.status(host).admitted;
    check(admitted.iter().all(|k| k == identity), "the host admitted only the guest", show(net, host))?;
    match &net.status(guest).outcome {
        Some(Outcome::Success { .. }) => agree(net, host, guest, identity, space),
        Some(Outcome::Failure { reason }) if reason != "timeout" => nobody_admitted(net, host),
        _ => Ok(()),
    }
}

fn flaky_network_host(net: &mut Net<'_>) -> Step {
    for round in 0..FLAKY_ROUNDS {
        net.chaos = None;
        let args = net.host_args("pin", HOUR, 1);
        let (h, created) = net.driver_host(&args)?;
        let pin = pin_of(&created)?;
        let (g, guest) = net.local_guest(&created.code)?;
        net.chaos = Some(flaky(round));
        join_through_faults(net, g, &pin)?;
        consistent(net, h, g, &guest.identity, &created.space)?;
        check(net.state(g) == "SUCCESS", format!("round {round}: the guest joins once faults stop"), show(net, g))?;
    }
    check(net.resets() > 0, "the network reset some connection", "no reset happened")
}

fn flaky_network_guest(net: &mut Net<'_>) -> Step {
    for round in 0..FLAKY_ROUNDS {
        net.chaos = None;
        let args = net.host_args("pin", HOUR, 1);
        let (h, created) = net.local_host(&args)?;
        let pin = pin_of(&created)?;
        let (g, guest) = net.driver_guest(&created.code)?;
        net.chaos = Some(flaky(100 + round));
        join_through_faults(net, g, &pin)?;
        consistent(net, h, g, &guest.identity, &created.space)?;
        check(net.state(g) == "SUCCESS", format!("round {round}: the guest joins once faults stop"), show(net, g))?;
    }
    check(net.resets() > 0, "the network reset some connection", "no reset happened")
}

// ----- relays -----

fn relay_mitm(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.local_host(&args)?;
    let relay = net.impostor_of(h)?;
    let topic = hex::encode(InvitationCode::decode(&created.code).expect("our codes decode").topic().0);
    net.route.insert(topic, relay);
    let (g, _) = net.driver_guest(&created.code)?;
    settle(net, &[g])?;
    check(!reached(net, g, "CONNECTED"), "the guest never reaches CONNECTED through the relay", show(net, g))?;
    check(net.state(g) != "SUCCESS", "the guest is not admitted", show(net, g))?;
    check(!reached(net, relay, "CONNECTED"), "the relay never completes a handshake", show(net, relay))?;
    check(net.status(h).attempts_left == Some(3), "the real host's budget is untouched", show(net, h))
}

fn relay_rewrites_role(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let real = InvitationCode::decode(&created.code).expect("routed codes decode");
    let forged = InvitationCode { role: Some(Role::Admin), ..real };
    net.route.insert(hex::encode(forged.topic().0), h);
    let (real_topic, forged_topic) = (real.topic().0, forged.topic().0);
    net.tap = Some(Box::new(move |d, _, mut b| {
        if d == Dir::ToHost
            && let Some(at) = b.windows(32).position(|x| x == forged_topic)
        {
            b[at..at + 32].copy_from_slice(&real_topic);
        }
        vec![b]
    }));
    let (g, _) = net.local_guest(&forged.encode())?;
    net.run_until(5 * MINUTE, |n| n.terminal(g))?;
    check(!reached(net, g, "CONNECTED"), "the forged code never completes a handshake", show(net, g))?;
    nobody_admitted(net, h)?;
    let budget = net.status(h).attempts_left;
    check(budget.is_none() || budget == Some(3), "no PIN attempt was possible", show(net, h))
}

// ----- expiry and cancellation -----

fn slow_guest_past_expiry(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", 30 * SECOND, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, _) = net.local_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g))?;
    let deadline = args.expires_at_ms + 10 * SECOND;
    let wait = deadline.saturating_sub(net.now);
    net.wait(wait)?;
    if !net.terminal(g) {
        net.input(g, FlowInput::Authenticate { pin })?;
    }
    settle(net, &[g])?;
    refused(net, g, &["expired", "timeout"])?;
    nobody_admitted(net, h)?;
    state_is(net, h, "EXPIRED")
}

fn expired_code(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", 30 * SECOND, 1);
    let (h, created) = net.local_host(&args)?;
    net.wait(MINUTE)?;
    let (g, _) = net.driver_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.terminal(g))?;
    state_is(net, g, "EXPIRED")?;
    nobody_admitted(net, h)
}

fn host_cancel(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g1, _) = net.local_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g1))?;
    net.input(h, FlowInput::Cancel)?;
    net.input(g1, FlowInput::Authenticate { pin: pin.clone() })?;
    settle(net, &[g1])?;
    refused(net, g1, &["cancelled"])?;
    let (g2, _) = net.local_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g2) || n.terminal(g2))?;
    if !net.terminal(g2) {
        net.input(g2, FlowInput::Authenticate { pin })?;
    }
    settle(net, &[g2])?;
    refused(net, g2, &["cancelled"])?;
    nobody_admitted(net, h)?;
    state_is(net, h, "CANCELLED")
}

fn guest_cancel(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.local_host(&args)?;
    let (g, _) = net.driver_guest(&created.code)?;
    net.run_until(MINUTE, |n| n.waits_for_pin(g))?;
    check(net.waits_for_pin(g), "the guest waits for its PIN", show(net, g))?;
    net.input(g, FlowInput::Cancel)?;
    net.wait(10 * SECOND)?;
    state_is(net, g, "CANCELLED")?;
    nobody_admitted(net, h)
}
