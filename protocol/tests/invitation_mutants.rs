//! Each invitation checker fails on its planted bug (the mutant catalogue, SPEC.md §7.10).
//! Every check is run twice: it must hold on the real code and fail with the mutant.
#![cfg(feature = "mutants")]

#[path = "invitation_security.rs"]
#[allow(dead_code)]
mod security;

use spaces_protocol::invitation::guest::{GuestEvent, GuestInput};
use spaces_protocol::invitation::host::{HostInput, HostParams, InvitationHost};
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind, Limits, Pin, Refusal, State};
use spaces_protocol::mutants::{Mutant, set};
use spaces_protocol::testing::invitation_pair::{Dir, World};
use spaces_protocol::{Role, Timestamp};

const HOUR: u64 = 3_600_000;

fn world_with_host(seed: u64, use_limit: u32) -> (World, InvitationCode, Pin) {
    let mut w = World::new(seed);
    let mut client = w.client();
    let space = client.create_space(&mut w.rng, w.now);
    let p = HostParams {
        kind: Kind::Space,
        auth: AuthMethod::Pin,
        role: Role::Editor,
        space: Some(space),
        guest: None,
        expires_at: w.now.saturating_add_millis(HOUR),
        use_limit,
        delegation: None,
    };
    let noise = client.identity().noise_keypair().clone();
    let (host, code) = InvitationHost::create(p, &noise, Limits::default(), w.now, &mut w.rng).unwrap();
    let pin = host.pin().cloned().unwrap();
    w.add_host(client, host);
    (w, code, pin)
}

fn wrong(pin: &Pin) -> Pin {
    Pin::parse(if pin.reveal() == "000000" { "000001" } else { "000000" }).unwrap()
}

/// One guest on a fresh connection types `pin`; returns its guest index once answered.
fn attempt(w: &mut World, code: InvitationCode, pin: &Pin) -> usize {
    let c = w.client();
    let g = w.space_guest(c, code);
    w.run_until(60_000, |w| w.guest_waits_for_pin(g) || w.guests[g].guest.state().is_terminal());
    w.input_guest(g, GuestInput::Authenticate(pin.clone()));
    w.run_until(60_000, |w| w.guests[g].guest.attempts_left().is_some() || w.guests[g].guest.state().is_terminal());
    g
}

fn wrong_pin_is_refused() -> bool {
    let (mut w, code, pin) = world_with_host(1, 1);
    let g = attempt(&mut w, code, &wrong(&pin));
    w.hosts[0].host.admitted().is_empty() && w.guests[g].guest.state() != State::Success
}

fn budget_holds_across_reconnects() -> bool {
    let (mut w, code, pin) = world_with_host(2, 1);
    for _ in 0..3 {
        let g = attempt(&mut w, code, &wrong(&pin));
        w.input_guest(g, GuestInput::Cancel);
        w.run_until(1_000, |_| false);
    }
    let g = attempt(&mut w, code, &pin);
    w.settle();
    w.guests[g].guest.outcome() == Some(&Err(Refusal::AttemptsExhausted))
}

fn budget_holds_across_restart() -> bool {
    let (mut w, code, pin) = world_with_host(3, 1);
    let g = attempt(&mut w, code, &wrong(&pin));
    w.input_guest(g, GuestInput::Cancel);
    w.run_until(1_000, |_| false);
    w.restart_host(0);
    w.hosts[0].host.attempts_left() == 2
}

fn host_expires() -> bool {
    let (mut w, _, _) = world_with_host(4, 1);
    w.run_until(2 * HOUR, |w| w.hosts[0].host.state() == State::Expired);
    w.hosts[0].host.state() == State::Expired
}

fn role_rewrite_breaks_the_handshake() -> bool {
    let (mut w, code, _) = world_with_host(5, 1);
    let forged = InvitationCode { role: Some(Role::Admin), ..code };
    w.route.insert(forged.topic(), 0);
    let (real_topic, forged_topic) = (code.topic(), forged.topic());
    w.tap = Some(Box::new(move |dir, _, mut b| {
        if dir == Dir::ToHost
            && let Some(at) = b.windows(32).position(|x| x == forged_topic.0)
        {
            b[at..at + 32].copy_from_slice(&real_topic.0);
        }
        vec![b]
    }));
    let c = w.client();
    let g = w.space_guest(c, forged);
    w.run_until(60_000, |w| w.guest_waits_for_pin(g) || w.guests[g].guest.state().is_terminal());
    // The handshake never completes: the guest never becomes CONNECTED.
    !w.guests[g].events.contains(&GuestEvent::State(State::Connected))
}

fn cancel_is_final() -> bool {
    let (mut w, code, pin) = world_with_host(6, 1);
    w.input_host(0, HostInput::Cancel);
    let g = attempt(&mut w, code, &pin);
    w.settle();
    w.guests[g].guest.state() == State::Cancelled && w.hosts[0].host.admitted().is_empty()
}

/// SPEC §7.8: the shares of a delegated invitation add up to the budget, however many hosts.
fn delegated_shares_add_up_to_the_budget() -> bool {
    use spaces_protocol::invitation::delegation::shares;
    (1..=5).all(|hosts| shares(3, hosts).iter().map(|s| u32::from(*s)).sum::<u32>() == 3)
}

#[test]
fn each_invitation_mutant_is_caught() {
    let table: [(Mutant, fn() -> bool); 10] = [
        (Mutant::DelegatedFullShares, delegated_shares_add_up_to_the_budget),
        (Mutant::RejoinAfterRemoval, || security::removed_member_stays_removed(AuthMethod::Pin, 0)),
        (Mutant::FreeGuessAfterCompletion, security::completed_invitation_is_no_pin_oracle),
        (Mutant::ChargeUnconfirmedAttempts, security::dropped_confirmations_cost_nothing),
        (Mutant::AcceptAnyPin, wrong_pin_is_refused),
        (Mutant::PerSessionBudget, budget_holds_across_reconnects),
        (Mutant::ForgetBudgetOnRestart, budget_holds_across_restart),
        (Mutant::IgnoreExpiry, host_expires),
        (Mutant::DropPrologueBinding, role_rewrite_breaks_the_handshake),
        (Mutant::AdmitAfterCancel, cancel_is_final),
    ];
    for (mutant, check) in table {
        set(None);
        assert!(check(), "{}: the check must hold on the real code", mutant.name());
        set(Some(mutant));
        let caught = !check();
        set(None);
        assert!(caught, "{}: the check must fail with the planted bug", mutant.name());
    }
    let _ = Timestamp::ZERO;
}
