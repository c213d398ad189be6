//! The host holes of issue 10; the driver plays the host.
//!
//! - `rejoin-after-removal-*`: a member admitted through an invitation, then removed, comes
//!   back with the same identity, the same Noise key and the same code after the invitation
//!   completed. The host's record still lists it as admitted, and "a guest it admitted is
//!   served whatever the end" (SPEC §7.6) admits it again. It MUST be refused and not become
//!   a member again. Planted bug: `rejoin-after-removal`.
//! - `free-guess-after-completion`: after the invitation completed (its use limit reached),
//!   a code holder who was never admitted may still run the PAKE: a wrong PIN is answered
//!   `wrong_pin` and burns an attempt, the right one `already_used`, so every connection is
//!   a free PIN oracle. The host MUST answer both the same way before any PAKE reply, and the
//!   budget MUST NOT move. Planted bug: `free-guess-after-completion`.
//!
//! - `dropped-confirmations-cost-nothing`: a path drops the guest's key confirmation on its
//!   first `attempts_max` connections; the guest, in doubt, retries with the same right PIN.
//!   No wrong PIN was ever sent, so the budget MUST be whole and the next try MUST succeed.
//!   Planted bug: `charge-unconfirmed-attempts` (an attempt charged when the PAKE starts).
//!
//! The first four failed with the reference driver at 797769a and pass since the host's fix
//! (issue 10).

use spaces_protocol::codec::Canonical;
use spaces_protocol::invitation::wire::{Frame, FrameBody};

use super::cases::{HOUR, MINUTE, agree, pin_of, settle, show, type_pin, wrong, wrong_pins};
use super::net::{Net, Step, check};
use super::{DriverRole, Scenario};
use crate::flow::{Dir, LocalFlow};
use crate::wire::{FlowInput, Outcome, count_text, json_text};
use spaces_protocol::Timestamp;

/// Scenarios the reference driver is allowed to fail: none. They failed on the code the issue
/// was filed against (797769a) and pass since the host was fixed; the list stays so an open
/// hole found later can be recorded the same way.
pub const OPEN: &[&str] = &[];

pub const ALL: &[Scenario] = &[
    Scenario {
        name: "rejoin-after-removal-none",
        driver: DriverRole::Host,
        description: "a member admitted by a method-none invitation, then removed, is refused when it comes back with the code",
        run: rejoin_none,
    },
    Scenario {
        name: "rejoin-after-removal-pin",
        driver: DriverRole::Host,
        description: "a member admitted with the PIN, then removed, is refused when it comes back with the code and PIN",
        run: rejoin_pin,
    },
    Scenario {
        name: "rejoin-after-removal-key",
        driver: DriverRole::Host,
        description: "a member invited by key, then removed, is refused when it comes back with the code",
        run: rejoin_key,
    },
    Scenario {
        name: "free-guess-after-completion",
        driver: DriverRole::Host,
        description: "after the invitation completed, a stranger's right and wrong PINs get the same refusal, before any PAKE reply, and cost no attempt",
        run: free_guess_after_completion,
    },
    Scenario {
        name: "dropped-confirmations-cost-nothing",
        driver: DriverRole::Host,
        description: "a path that drops the guest's confirmation three times spends no attempt: the right PIN still gets in",
        run: dropped_confirmations_cost_nothing,
    },
];

/// The guest's frames on each connection: Hello, Handshake, PakeStart, Confirm.
const GUEST_FRAMES_PER_TRY: usize = 4;
/// Connections whose Confirm the path drops: as many as the default budget.
const DROPPED_TRIES: usize = 3;

fn dropped_confirmations_cost_nothing(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let (g, guest) = net.local_guest(&created.code)?;
    net.tap = Some(Box::new(|d, i, bytes| {
        let confirm = i % GUEST_FRAMES_PER_TRY == GUEST_FRAMES_PER_TRY - 1;
        if d == Dir::ToHost && confirm && i < GUEST_FRAMES_PER_TRY * DROPPED_TRIES { vec![] } else { vec![bytes] }
    }));
    type_pin(net, g, &pin)?;
    settle(net, &[g])?;
    check(
        net.sessions_of(g) > DROPPED_TRIES,
        "the guest, in doubt, retried after each lost confirmation",
        format!("{} sessions; {}", net.sessions_of(g), show(net, g)),
    )?;
    agree(net, h, g, &guest.identity, &created.space)
}

fn rejoin_none(net: &mut Net<'_>) -> Step {
    rejoin_after_removal(net, "none")
}

fn rejoin_pin(net: &mut Net<'_>) -> Step {
    rejoin_after_removal(net, "pin")
}

fn rejoin_key(net: &mut Net<'_>) -> Step {
    rejoin_after_removal(net, "key")
}

/// Runs a harness guest from `seed` on `code` to its end, typing `pin` if asked.
fn join(net: &mut Net<'_>, code: &str, seed: &str, pin: Option<&str>) -> Step<usize> {
    let (g, _) = net.local_guest_seeded(code, seed)?;
    if let Some(pin) = pin {
        net.run_until(MINUTE, |n| n.waits_for_pin(g) || n.terminal(g))?;
        if !net.terminal(g) {
            type_pin(net, g, pin)?;
        }
    }
    settle(net, &[g])?;
    Ok(g)
}

fn is_member(members: &std::collections::BTreeMap<String, String>, identity: &str) -> bool {
    members.get(identity).is_some_and(|role| role != "removed")
}

fn rejoin_after_removal(net: &mut Net<'_>, auth: &str) -> Step {
    let seed = net.seed();
    let mut args = net.host_args(auth, HOUR, 1);
    if auth == "key" {
        let identity = LocalFlow::guest_identity(&seed, Timestamp::from_millis(net.now))
            .map_err(|e| super::net::Abort::Driver(e.message))?;
        args.guest = Some(identity);
    }
    let (h, created) = net.driver_host(&args)?;
    let pin = if auth == "pin" { Some(pin_of(&created)?) } else { None };
    let first = join(net, &created.code, &seed, pin.as_deref())?;
    let member = LocalFlow::guest_identity(&seed, Timestamp::from_millis(net.now))
        .map_err(|e| super::net::Abort::Driver(e.message))?;
    agree(net, h, first, &member, &created.space)?;
    net.remove_member(h, &member)?;
    let members = net.members(h)?;
    check(
        !is_member(&members, &member),
        "the removed guest is no longer a member",
        format!("members {}", json_text(&members)),
    )?;
    // It comes back as itself: same seed, so same identity, device and Noise key.
    let again = join(net, &created.code, &seed, pin.as_deref())?;
    let members = net.members(h)?;
    check(
        !matches!(net.status(again).outcome, Some(Outcome::Success { .. })),
        "the removed member coming back with the code is refused",
        show(net, again),
    )?;
    check(
        !is_member(&members, &member),
        "the removed member did not become a member again",
        format!("members {}", json_text(&members)),
    )
}

/// Host frames on the sessions opened since wire index `from` that are sealed (PakeReply,
/// Admitted, Refused), per session.
fn sealed_from_host(net: &Net<'_>, from: usize) -> Vec<(u64, usize)> {
    let mut per: std::collections::BTreeMap<u64, usize> = Default::default();
    for (session, dir, bytes) in &net.wire[from..] {
        let sealed = matches!(Frame::from_bytes(bytes), Ok(Frame { body: FrameBody::Sealed { .. }, .. }));
        let e = per.entry(*session).or_default();
        if *dir == Dir::ToGuest && sealed {
            *e += 1;
        }
    }
    per.into_iter().collect()
}

fn free_guess_after_completion(net: &mut Net<'_>) -> Step {
    let args = net.host_args("pin", HOUR, 1);
    let (h, created) = net.driver_host(&args)?;
    let pin = pin_of(&created)?;
    let seed = net.seed();
    let first = join(net, &created.code, &seed, Some(&pin))?;
    let member = LocalFlow::guest_identity(&seed, Timestamp::from_millis(net.now))
        .map_err(|e| super::net::Abort::Driver(e.message))?;
    agree(net, h, first, &member, &created.space)?;
    let budget = net.status(h).attempts_left;
    let mut answers = Vec::new();
    for typed in [pin.clone(), wrong(&pin)] {
        let from = net.wire.len();
        let (g, _) = net.local_guest(&created.code)?;
        net.run_until(MINUTE, |n| n.waits_for_pin(g) || n.terminal(g))?;
        if !net.terminal(g) {
            net.input(g, FlowInput::Authenticate { pin: typed })?;
        }
        net.run_until(MINUTE, |n| n.terminal(g) || wrong_pins(n, g) > 0)?;
        let answer = match &net.status(g).outcome {
            Some(Outcome::Failure { reason }) => reason.clone(),
            Some(Outcome::Success { .. }) => "admitted".into(),
            None if wrong_pins(net, g) > 0 => "wrong_pin".into(),
            None => format!("no answer ({})", net.state(g)),
        };
        if !net.terminal(g) {
            net.input(g, FlowInput::Cancel)?;
        }
        net.wait(MINUTE)?;
        let sealed = sealed_from_host(net, from);
        answers.push((answer, sealed));
    }
    let (right, wrong_answer) = (&answers[0], &answers[1]);
    check(
        right.0 == wrong_answer.0 && right.0 != "admitted",
        "the right and the wrong PIN get the same refusal",
        format!("right PIN: {}, wrong PIN: {}", right.0, wrong_answer.0),
    )?;
    for (what, (_, sealed)) in [("right", right), ("wrong", wrong_answer)] {
        check(
            sealed.iter().all(|(_, n)| *n <= 1),
            format!("the {what} PIN is refused before any PAKE reply (at most one sealed host frame per session)"),
            format!("sealed host frames per session {}", json_text(sealed)),
        )?;
    }
    check(
        net.status(h).attempts_left == budget,
        format!("the attempt budget stays {}", count_text(budget)),
        show(net, h),
    )?;
    check(net.status(h).admitted == [member.clone()], "the host admitted the first guest only", show(net, h))
}
