//! Scenarios of a hostile or faulty network: replayed sessions, tampered and duplicated
//! frames, random connection resets, and relays in the middle.

use spaces_protocol::Role;
use spaces_protocol::invitation::InvitationCode;

use super::cases::*;
use super::net::{Chaos, Net, Step, check};
use super::{DriverRole, Scenario};
use crate::flow::Dir;
use crate::wire::{FlowInput, FlowOutput, Outcome, count_text};

pub const ALL: &[Scenario] = &[
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
];

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
    let _replayer = net.replayer(&topic, recorded)?;
    net.wait(MINUTE)?;
    let after = net.events(h).iter().filter(|e| matches!(e, FlowOutput::Admitted { .. })).count();
    check(
        after == admitted_events,
        "no admission on the replayed session",
        format!("{} more", after - admitted_events),
    )?;
    check(
        net.status(h).attempts_left == attempts,
        format!("attempts_left stays {}", count_text(attempts)),
        count_text(net.status(h).attempts_left),
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
