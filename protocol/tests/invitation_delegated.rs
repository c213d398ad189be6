//! Delegated invitations (SPEC.md §7.8): hosted by any admin device while the creator is
//! offline, cancelled everywhere, dead with their issuer, use limits after merges, and one
//! attempt budget shared by all hosts.

use spaces_protocol::invitation::guest::GuestInput;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Limits, Pin, Refusal, State};
use spaces_protocol::testing::invitation_pair::World;
use spaces_protocol::{Client, CredentialId, PublicKey, Role};

const HOUR: u64 = 3_600_000;

/// Owner `o` with a space, and admins admitted directly (as if invited earlier), all replicas
/// in sync.
fn space_with_admins(w: &mut World, admins: usize) -> (Client, Vec<Client>, PublicKey) {
    let mut owner = w.client();
    let space = owner.create_space(&mut w.rng, w.now);
    let mut others = Vec::new();
    for _ in 0..admins {
        let mut a = w.client();
        let request = a.join_request(&mut w.rng);
        owner.admit(&space, &request, Role::Admin, None, w.now).unwrap();
        others.push(a);
    }
    for a in &mut others {
        sync(&owner, a, &space);
    }
    (owner, others, space)
}

/// One-way replication of credentials (the swarm of issue 4 stands in).
fn sync(from: &Client, to: &mut Client, space: &PublicKey) {
    let creds: Vec<_> = from.space(space).unwrap().membership().credentials().cloned().collect();
    if to.space(space).is_some() {
        to.receive_credentials(space, creds).unwrap();
    } else {
        to.accept(space, creds).unwrap();
    }
}

fn delegate(w: &mut World, by: &mut Client, space: &PublicKey, use_limit: u32) -> (CredentialId, InvitationCode, Pin) {
    let expires = w.now.saturating_add_millis(HOUR);
    let (cred, code, pin) = by
        .delegate_invitation(
            space,
            AuthMethod::Pin,
            Role::Editor,
            expires,
            use_limit,
            None,
            Limits::default(),
            w.now,
            &mut w.rng,
        )
        .unwrap();
    (cred.id(), code, pin.unwrap())
}

fn host(w: &mut World, client: Client, space: &PublicKey, d: &CredentialId) -> usize {
    let host = client.host_delegated(space, d, Limits::default(), &mut w.rng).unwrap();
    w.add_host(client, host)
}

fn join(w: &mut World, code: InvitationCode, pin: &str) -> usize {
    let c = w.client();
    let g = w.space_guest(c, code);
    assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(g) || w.guests[g].guest.state().is_terminal()));
    w.input_guest(g, GuestInput::Authenticate(Pin::parse(pin).unwrap()));
    assert!(w.settle());
    g
}

#[test]
fn second_admin_hosts_while_the_creator_is_offline() {
    let mut w = World::new(20);
    let (mut owner, mut admins, space) = space_with_admins(&mut w, 1);
    let (d, code, pin) = delegate(&mut w, &mut owner, &space, 1);
    sync(&owner, &mut admins[0], &space);
    // The owner goes offline; only the admin hosts.
    let b = admins.pop().unwrap();
    let h = host(&mut w, b, &space, &d);
    let g = join(&mut w, code, pin.reveal());
    assert_eq!(w.guests[g].guest.state(), State::Success);
    let guest_key = w.guests[g].client.identity_key();
    let hosted = &w.hosts[h].client;
    assert_eq!(hosted.space(&space).unwrap().membership().role(&guest_key), Some(Role::Editor));
    // Back online, the owner learns the admission and counts the use.
    sync(hosted, &mut owner, &space);
    let m = owner.space(&space).unwrap().membership();
    assert_eq!(m.role(&guest_key), Some(Role::Editor));
    assert_eq!(m.delegation(&d).unwrap().uses, 1);
    assert!(!m.delegation(&d).unwrap().active, "single use, used");
}

#[test]
fn use_limit_holds_after_two_concurrent_offline_admissions() {
    let mut w1 = World::new(21);
    let (mut owner, mut admins, space) = space_with_admins(&mut w1, 1);
    let (d, code, pin) = delegate(&mut w1, &mut owner, &space, 1);
    sync(&owner, &mut admins[0], &space);
    // Partitioned: each admin admits a different guest through the same single-use invitation.
    let mut w2 = World::new(22);
    w2.now = w1.now;
    let b = admins.pop().unwrap();
    let h1 = host(&mut w1, owner, &space, &d);
    let h2 = host(&mut w2, b, &space, &d);
    let g1 = join(&mut w1, code, pin.reveal());
    let g2 = join(&mut w2, code, pin.reveal());
    assert_eq!(w1.guests[g1].guest.state(), State::Success);
    assert_eq!(w2.guests[g2].guest.state(), State::Success);
    let (k1, k2) = (w1.guests[g1].client.identity_key(), w2.guests[g2].client.identity_key());
    // The partition heals: both replicas merge and agree that exactly one guest got in.
    let mut a = std::mem::replace(&mut w1.hosts[h1].client, Client::create_identity(&mut w1.rng, w1.now));
    let mut b = std::mem::replace(&mut w2.hosts[h2].client, Client::create_identity(&mut w2.rng, w2.now));
    let (a_creds, b_creds): (Vec<_>, Vec<_>) = (
        a.space(&space).unwrap().membership().credentials().cloned().collect(),
        b.space(&space).unwrap().membership().credentials().cloned().collect(),
    );
    a.receive_credentials(&space, b_creds).unwrap();
    b.receive_credentials(&space, a_creds).unwrap();
    let (ma, mb) = (a.space(&space).unwrap().membership(), b.space(&space).unwrap().membership());
    assert_eq!(ma.members(), mb.members());
    let admitted = [k1, k2].iter().filter(|k| ma.is_member(k)).count();
    assert_eq!(admitted, 1, "a use limit of 1 admits one guest after the merge");
    assert_eq!(ma.delegation(&d).unwrap().uses, 1);
}

#[test]
fn cancel_ends_the_delegation_everywhere() {
    let mut w = World::new(23);
    let (mut owner, mut admins, space) = space_with_admins(&mut w, 1);
    let (d, code, pin) = delegate(&mut w, &mut owner, &space, 0);
    owner.cancel_delegation(&space, d, w.now).unwrap();
    sync(&owner, &mut admins[0], &space);
    let b = admins.pop().unwrap();
    host(&mut w, b, &space, &d);
    let g = join(&mut w, code, pin.reveal());
    assert_eq!(w.guests[g].guest.state(), State::Cancelled);
}

#[test]
fn invitation_dies_when_its_issuer_is_removed() {
    let mut w = World::new(24);
    let (mut owner, mut admins, space) = space_with_admins(&mut w, 2);
    let mut c = admins.pop().unwrap();
    let mut b = admins.pop().unwrap();
    let (d, code, pin) = delegate(&mut w, &mut b, &space, 0);
    sync(&b, &mut owner, &space);
    owner.remove_member(&space, b.identity_key(), w.now).unwrap();
    sync(&owner, &mut c, &space);
    assert!(!c.space(&space).unwrap().membership().delegation(&d).unwrap().active);
    host(&mut w, c, &space, &d);
    let g = join(&mut w, code, pin.reveal());
    match w.guests[g].guest.outcome() {
        Some(Err(r)) => assert_eq!(*r, Refusal::NotAuthorised),
        other => panic!("expected refusal, got {other:?}"),
    }
}

#[test]
fn attempt_budget_is_shared_by_all_hosts() {
    let mut w = World::new(25);
    let (mut owner, mut admins, space) = space_with_admins(&mut w, 1);
    let (d, code, pin) = delegate(&mut w, &mut owner, &space, 1);
    sync(&owner, &mut admins[0], &space);
    let b = admins.pop().unwrap();
    let ho = host(&mut w, owner, &space, &d);
    let hb = host(&mut w, b, &space, &d);
    let shares = (w.hosts[ho].host.attempts_left(), w.hosts[hb].host.attempts_left());
    assert_eq!(u32::from(shares.0) + u32::from(shares.1), 3, "the hosts' shares add up to the budget");
    let wrong = Pin::parse(if pin.reveal() == "000000" { "000001" } else { "000000" }).unwrap();
    let topic = code.topic();
    // An attacker guesses at every host, on fresh connections, until each refuses for good.
    for h in [ho, hb] {
        w.route.insert(topic, h);
        for round in 0.. {
            assert!(round < 10, "the host never burned the invitation");
            let c = w.client();
            let g = w.space_guest(c, code);
            assert!(w.run_until(60_000, |w| w.guest_waits_for_pin(g) || w.guests[g].guest.state().is_terminal()));
            w.input_guest(g, GuestInput::Authenticate(wrong.clone()));
            assert!(w.run_until(60_000, |w| {
                w.guests[g].guest.attempts_left().is_some() || w.guests[g].guest.state().is_terminal()
            }));
            let burned = w.guests[g].guest.outcome() == Some(&Err(Refusal::AttemptsExhausted));
            w.input_guest(g, GuestInput::Cancel);
            if burned {
                break;
            }
        }
    }
    let failed = |h: usize| {
        w.hosts[h]
            .events
            .iter()
            .filter(|e| matches!(e, spaces_protocol::invitation::host::HostEvent::AttemptFailed { .. }))
            .count()
    };
    assert_eq!(failed(ho) + failed(hb), 3, "exactly the budget, across both hosts");
    assert_eq!(w.hosts[ho].host.attempts_left() + w.hosts[hb].host.attempts_left(), 0);
}
