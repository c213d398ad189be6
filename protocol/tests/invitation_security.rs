//! The holes an outside review found in the host (issue 10), each as a check that held on the
//! code it was written against only in the fixed form. The simulator found each first (its
//! seeds are in SPEC §7.11); these pin them at the host's surface. `invitation_mutants.rs`
//! shows each check failing with the planted bug that restores the hole.

use spaces_protocol::Client;
use spaces_protocol::invitation::guest::{GuestEvent, GuestInput};
use spaces_protocol::invitation::host::{HostParams, InvitationHost};
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind, Limits, Pin, Refusal};
use spaces_protocol::testing::invitation_pair::{Dir, World};
use spaces_protocol::{PublicKey, Role};

const HOUR: u64 = 3_600_000;

/// A world whose host 0 holds a space and an invitation to it.
fn hosted(seed: u64, auth: AuthMethod, guest: Option<PublicKey>, use_limit: u32) -> (World, InvitationCode, PublicKey) {
    let mut w = World::new(seed);
    let (code, space) = host_in(&mut w, auth, guest, use_limit);
    (w, code, space)
}

fn host_in(w: &mut World, auth: AuthMethod, guest: Option<PublicKey>, use_limit: u32) -> (InvitationCode, PublicKey) {
    let mut client = w.client();
    let space = client.create_space(&mut w.rng, w.now);
    let p = HostParams {
        kind: Kind::Space,
        auth,
        role: Role::Editor,
        space: Some(space),
        guest,
        expires_at: w.now.saturating_add_millis(HOUR),
        use_limit,
        delegation: None,
    };
    let noise = client.identity().noise_keypair().clone();
    let (mut host, code) = InvitationHost::create(p, &noise, Limits::default(), w.now, &mut w.rng).unwrap();
    host.set_point(client.space(&space).unwrap().membership().heads());
    w.add_host(client, host);
    (code, space)
}

fn pin(w: &World) -> Option<Pin> {
    w.hosts[0].host.pin().cloned()
}

fn copy(c: &Client) -> Client {
    Client::restore(c.snapshot()).expect("a snapshot restores")
}

/// Guest `client` opens `code` and, when asked, types `typed`; runs until its flow ends.
fn join(w: &mut World, client: Client, code: InvitationCode, typed: Option<Pin>) -> usize {
    let g = w.space_guest(client, code);
    if let Some(p) = typed {
        w.run_until(60_000, |w| w.guest_waits_for_pin(g) || w.guests[g].guest.state().is_terminal());
        if !w.guests[g].guest.state().is_terminal() {
            w.input_guest(g, GuestInput::Authenticate(p));
        }
    }
    w.settle();
    g
}

/// A member admitted by a code, then removed, opens the same code again with the same device
/// (same identity and Noise key, a new request): it must be refused and stay removed.
pub fn removed_member_stays_removed(auth: AuthMethod, use_limit: u32) -> bool {
    let mut w = World::new(31);
    let guest_client = w.client();
    let me = guest_client.identity_key();
    let (code, space) = host_in(&mut w, auth, (auth == AuthMethod::Key).then_some(me), use_limit);
    let typed = pin(&w);
    let g = join(&mut w, guest_client, code, typed);
    if w.guests[g].guest.outcome().is_none_or(|o| o.is_err()) {
        return false; // the first admission must work
    }
    let now = w.now;
    w.hosts[0].client.remove_member(&space, me, now).expect("the owner removes");
    let again = copy(&w.guests[g].client);
    let typed = pin(&w);
    let g2 = join(&mut w, again, code, typed);
    let refused = w.guests[g2].guest.outcome().is_some_and(|o| o.is_err());
    let role = w.hosts[0].client.space(&space).unwrap().membership().role(&me);
    refused && role == Some(Role::Removed)
}

/// After its use limit is reached, an invitation answers a stranger the same whether its PIN
/// is right or wrong, before any PAKE, and its budget does not move.
pub fn completed_invitation_is_no_pin_oracle() -> bool {
    let (mut w, code, _) = hosted(32, AuthMethod::Pin, None, 1);
    let right = pin(&w).unwrap();
    let c = w.client();
    let g = join(&mut w, c, code, Some(right.clone()));
    if w.guests[g].guest.outcome().is_none_or(|o| o.is_err()) {
        return false;
    }
    let wrong = Pin::parse(if right.reveal() == "000000" { "000001" } else { "000000" }).unwrap();
    let mut answers = Vec::new();
    for typed in [wrong.clone(), right, wrong] {
        let c = w.client();
        let s = join(&mut w, c, code, Some(typed));
        let heard_wrong = w.guests[s].events.iter().any(|e| matches!(e, GuestEvent::WrongPin { .. }));
        answers.push((w.guests[s].guest.outcome().cloned().map(|o| o.err()), heard_wrong));
    }
    let same = answers.iter().all(|a| *a == (Some(Some(Refusal::AlreadyUsed)), false));
    same && w.hosts[0].host.attempts_left() == Limits::default().attempts_max
}

/// A path that drops the guest's first three confirmations (the guest, in doubt, retries on
/// its own) costs the invitation nothing: the one correct PIN typed is admitted, and the host
/// never reports itself open while refusing.
pub fn dropped_confirmations_cost_nothing() -> bool {
    let (mut w, code, _) = hosted(33, AuthMethod::Pin, None, 1);
    // Each connection sends Hello, handshake, PakeStart, Confirm to the host.
    w.tap =
        Some(Box::new(|dir, i, bytes| if dir == Dir::ToHost && i % 4 == 3 && i < 12 { vec![] } else { vec![bytes] }));
    let c = w.client();
    let typed = pin(&w);
    let g = join(&mut w, c, code, typed);
    let admitted = w.guests[g].guest.outcome().is_some_and(|o| o.is_ok());
    admitted && w.hosts[0].host.attempts_left() == Limits::default().attempts_max
}

#[test]
fn a_removed_member_is_not_readmitted_by_the_code_that_admitted_it() {
    for (auth, limit) in [(AuthMethod::Pin, 0), (AuthMethod::Pin, 1), (AuthMethod::None, 1), (AuthMethod::Key, 1)] {
        assert!(removed_member_stays_removed(auth, limit), "{auth:?} with use limit {limit}");
    }
}

#[test]
fn a_completed_invitation_answers_no_pin_to_a_stranger() {
    assert!(completed_invitation_is_no_pin_oracle());
}

#[test]
fn dropped_confirmations_cost_no_attempt() {
    assert!(dropped_confirmations_cost_nothing());
}
