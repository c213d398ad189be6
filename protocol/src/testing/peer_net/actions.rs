//! What the users of a `Net` do in many tests, each step run until it took effect: create a
//! space and invite its members, promote an admin, delegate an invitation, link a device, write a
//! note, and check that replicas agree.

use super::{INVITATION_LIFETIME_MS, Net, WAIT_MS};
use crate::credential::Role;
use crate::invitation::guest::GuestEvent;
use crate::invitation::{AuthMethod, InvitationCode, Pin, State};
use crate::item::{ItemId, Op, Value};
use crate::keys::PublicKey;
use crate::peer::{Command, Event};

impl Net {
    /// Creates a single-use PIN invitation to `space` (as editor) on `host`; its code and PIN.
    pub fn open_invitation(&mut self, host: usize, space: PublicKey, lifetime_ms: u64) -> (InvitationCode, Pin) {
        self.pin_invitation(host, Some(space), lifetime_ms)
    }

    /// Creates a single-use PIN invitation (to `space` as editor, or to link a device) on `host`.
    fn pin_invitation(&mut self, host: usize, space: Option<PublicKey>, lifetime_ms: u64) -> (InvitationCode, Pin) {
        let command = Command::CreateInvitation {
            space,
            auth: AuthMethod::Pin,
            role: Role::Editor,
            guest: None,
            lifetime_ms,
            use_limit: 1,
        };
        self.command(host, command);
        self.created_invitation(host)
    }

    /// The code and PIN of the invitation `host` created last.
    ///
    /// # Panics
    /// If `host` created no invitation, or its last one has no PIN.
    #[must_use]
    pub fn created_invitation(&self, host: usize) -> (InvitationCode, Pin) {
        let (code, pin) = self.events[host]
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::InvitationCreated { code, pin, .. } => Some((*code, pin.clone())),
                _ => None,
            })
            .expect("the host created an invitation");
        (code, pin.expect("the host's last invitation is a PIN invitation"))
    }

    /// Peer 0 creates a space and invites each of `guests`; returns it once all replicas agree.
    ///
    /// # Panics
    /// If a guest does not join, or the replicas do not converge, within `WAIT_MS` each.
    pub fn shared_space(&mut self, guests: &[usize]) -> PublicKey {
        self.command(0, Command::CreateSpace);
        let created = |e: &Event| if let Event::SpaceCreated { space } = e { Some(*space) } else { None };
        let space = self.events[0].iter().rev().find_map(created).expect("the space was created");
        for g in guests {
            self.invite(0, *g, space);
        }
        let all: Vec<usize> = std::iter::once(0).chain(guests.iter().copied()).collect();
        assert!(self.run(WAIT_MS, |n| n.converged(&space, &all)), "the members converged");
        space
    }

    /// `by` makes `member` an admin of `space`; returns once both replicas show it.
    ///
    /// # Panics
    /// If both replicas do not show it within `WAIT_MS`.
    pub fn promote(&mut self, by: usize, member: usize, space: PublicKey) {
        let admin = self.key(member);
        self.command(by, Command::SetRole { space, member: admin, role: Role::Admin });
        let promoted = |n: &Net| {
            [by, member].iter().all(|i| {
                n.peers[*i].client().space(&space).is_some_and(|s| s.membership().role(&admin) == Some(Role::Admin))
            })
        };
        assert!(self.run(WAIT_MS, promoted), "the member is an admin on both");
    }

    /// Makes `delegate` an admin, issues a delegated PIN invitation on `creator` and waits until
    /// `delegate` hosts it too; its code and PIN.
    ///
    /// # Panics
    /// If the promotion or the delegation does not reach both within `WAIT_MS`.
    pub fn delegated_invitation(&mut self, creator: usize, delegate: usize, space: PublicKey) -> (InvitationCode, Pin) {
        self.promote(creator, delegate, space);
        let command = Command::DelegateInvitation {
            space,
            auth: AuthMethod::Pin,
            role: Role::Editor,
            guest: None,
            lifetime_ms: INVITATION_LIFETIME_MS,
            use_limit: 1,
        };
        self.command(creator, command);
        let (code, pin) = self.created_invitation(creator);
        let hosted =
            |n: &Net| [creator, delegate].iter().all(|i| n.peers[*i].hosting().any(|h| h.code().id == code.id));
        assert!(self.run(WAIT_MS, hosted), "creator and delegate both host it");
        (code, pin)
    }

    /// `host` invites `guest` to `space` by PIN; returns once the guest joined.
    ///
    /// # Panics
    /// If the guest has not joined within `WAIT_MS` of being ready.
    pub fn invite(&mut self, host: usize, guest: usize, space: PublicKey) {
        let (code, pin) = self.open_invitation(host, space, INVITATION_LIFETIME_MS);
        self.accept_with_pin(guest, code, pin);
        let joined = |n: &Net| n.events[guest].contains(&Event::Joined { space });
        assert!(self.run(WAIT_MS, joined), "guest joined");
    }

    /// `guest` accepts `code` and, once ready, proves `pin`.
    fn accept_with_pin(&mut self, guest: usize, code: InvitationCode, pin: Pin) {
        self.command(guest, Command::AcceptInvitation { code });
        let ready = |n: &Net| {
            n.events[guest]
                .iter()
                .any(|e| matches!(e, Event::Joining { event: GuestEvent::State(State::ReadyForAuthentication), id } if *id == code.id))
        };
        assert!(self.run(WAIT_MS, ready), "guest reached READY_FOR_AUTHENTICATION");
        self.command(guest, Command::Authenticate { id: code.id, pin });
    }

    /// Peer `host` links blank peer `blank` to its identity by a DEVICE invitation.
    ///
    /// # Panics
    /// If the device is not linked within `WAIT_MS` of being ready.
    pub fn link_device(&mut self, host: usize, blank: usize) {
        let (code, pin) = self.pin_invitation(host, None, INVITATION_LIFETIME_MS);
        self.accept_with_pin(blank, code, pin);
        let linked = |n: &Net| n.events[blank].iter().any(|e| matches!(e, Event::Linked { .. }));
        assert!(self.run(WAIT_MS, linked), "the new device was linked");
    }

    /// Peer `i` creates a note saying `text` in `space`; its item id (one per peer: a second
    /// write by the same peer creates the same item again).
    pub fn write(&mut self, i: usize, space: PublicKey, text: &str) -> ItemId {
        let tag = u8::try_from(i + 1).expect("a peer's index fits its address byte");
        let item = ItemId([tag; 16]);
        let ops = vec![
            Op::Create { item, type_name: "note".into() },
            Op::Set { item, field: "text".into(), value: Value::Text(text.into()) },
        ];
        self.command(i, Command::Write { space, ops });
        item
    }

    /// Whether peers `who` all hold `space` with the same members and items.
    #[must_use]
    pub fn converged(&self, space: &PublicKey, who: &[usize]) -> bool {
        let views: Vec<_> = who
            .iter()
            .map(|i| {
                let s = self.peers[*i].client().space(space);
                s.map(|s| (s.members(), s.items()))
            })
            .collect();
        views.iter().all(|v| v.is_some() && *v == views[0])
    }
}

/// The first space peer `i` created.
///
/// # Panics
/// If peer `i` created no space.
#[must_use]
pub fn space_of(net: &Net, i: usize) -> PublicKey {
    net.events[i]
        .iter()
        .find_map(|e| if let Event::SpaceCreated { space } = e { Some(*space) } else { None })
        .expect("the peer created a space")
}
