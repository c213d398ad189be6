//! The signaling topics a Peer holds, kept equal to what it needs (SPEC.md §8.4, §9.1.1),
//! and what it does with what signaling reports.

use std::collections::BTreeSet;

use super::*;
use crate::invitation::host::Ended;

impl Peer {
    /// Holds exactly the topics this device needs, leaving the rest. Invitations come first
    /// (a guest or a host waits on them now), then spaces: all of them when the signaling limit
    /// (`topics_per_client_max`) leaves room, else the spaces take turns (`rotation`).
    pub(super) fn sync_topics(&mut self, now: Timestamp) {
        let mut wanted: Vec<Digest> = Vec::new();
        wanted.extend(self.invitations.guests().filter(|g| !g.state().is_terminal()).map(|g| g.code().topic()));
        let hosts = self.invitations.hosts().filter(|h| hosted_topic_held(h, now) && self.may_serve(h));
        wanted.extend(hosts.map(|h| h.code().topic()));
        // Then our HALO's: a newly linked device learns its spaces there (§9.8).
        wanted.extend(self.halo_topic_wanted());
        let slots = self.signal.topic_limit().saturating_sub(wanted.len());
        let spaces: Vec<PublicKey> = self.client.space_keys().copied().collect();
        let (held, next) = rotation(&spaces, slots, now);
        self.rotation_at = next;
        wanted.extend(held.iter().map(space_topic));
        let keep: BTreeSet<Digest> = wanted.iter().copied().collect();
        let stale: Vec<Digest> = self.signal.topics().filter(|t| !keep.contains(t)).copied().collect();
        for topic in stale {
            self.signal.leave(topic).expect("a topic the client holds");
        }
        for topic in wanted {
            if self.signal.join(topic).is_err() {
                break; // At the limit: what follows has lower priority.
            }
        }
        assert!(self.signal.topics().all(|t| keep.contains(t)), "no topic is held without a reason");
        let invitations = &self.invitations;
        let live = |id: &[u8; 16]| invitations.guest(id).is_some_and(|g| !g.state().is_terminal());
        self.guest_dialled.retain(|id, _| live(id));
        self.guest_waiting.retain(live);
    }

    /// Whether we answer on a hosted invitation's topic. A share of a delegated invitation
    /// that is still open is served only while our identity may manage members in our replica
    /// (SPEC.md §7.7.2 step 2): another host of the delegation may still admit, and a guest
    /// that reached us would end on our final `NotAuthorised` instead (calm seed 644: a demoted
    /// admin kept answering and turned away a guest its issuer could admit). Our own invitations
    /// keep their topic: no one else hosts them, and the refusal tells the guest why.
    fn may_serve(&self, host: &InvitationHost) -> bool {
        let r = host.record();
        if r.delegation.is_none() || r.ended.is_some() {
            return true;
        }
        // Our standing, not only our identity's role: a device our identity removed admits no one.
        let standing = r.space.and_then(|s| self.client.standing(&s).ok());
        matches!(standing, Some(crate::space::Standing::Member(role)) if role.can_manage_members())
    }

    /// When a completed invitation's topic is to be left (its expiry), while it is held.
    pub(super) fn completed_expiry(&self, host: &InvitationHost) -> Option<Timestamp> {
        let topic = host.code().topic();
        let completed = host.record().ended == Some(Ended::Completed);
        (completed && self.signal.topics().any(|t| *t == topic)).then(|| host.code().expires_at())
    }

    pub(super) fn on_signal_event(&mut self, e: SignalEvent, now: Timestamp) {
        match &e {
            SignalEvent::PeerAppeared { topic, info } => self.peer_appeared(*topic, info, now),
            SignalEvent::PeerGone { topic, peer } => self.redial.gone(topic, peer),
            SignalEvent::Relayed { .. } | SignalEvent::Error(..) => {}
        }
        self.event(Event::Signal(e));
    }

    fn peer_appeared(&mut self, topic: Digest, info: &PeerInfo, now: Timestamp) {
        // Dialled by `dial_due`, at once for a device not wanted before (`standing.rs`).
        self.want(topic, info, now);
        // Accepted invitations that found no host on this topic yet.
        let waiting: Vec<[u8; 16]> = self
            .guest_waiting
            .iter()
            .filter(|id| {
                self.invitations.guest(id).is_some_and(|g| g.code().topic() == topic && !g.state().is_terminal())
            })
            .copied()
            .collect();
        for id in waiting {
            self.open_guest_conn(id, info.clone(), now);
        }
    }
}

/// A hosted invitation's topic is held while it is open, and after it completed until it
/// expires: a guest it admitted may not have seen the grant and retries, in doubt, until the
/// expiry (SPEC.md §7.6.3, §7.6.5). Cancelled, expired and burned invitations admit no one
/// again, so their topics go at once.
fn hosted_topic_held(host: &InvitationHost, now: Timestamp) -> bool {
    match host.record().ended {
        None => true,
        Some(Ended::Completed) => now < host.code().expires_at(),
        Some(Ended::Cancelled | Ended::Expired | Ended::Burned) => false,
    }
}

/// How long a rotation epoch lasts: three anti-entropy rounds, long enough to meet the devices
/// on a topic and dial them (a link, once up, outlives the topic).
pub const TOPIC_EPOCH_MS: u64 = 30_000;

/// The spaces whose discovery topics to hold in `slots` slots at `now`, in the order to join
/// them, and when the choice changes next (`None`: every space fits, nothing rotates).
///
/// With more spaces than slots, time is cut into epochs of `TOPIC_EPOCH_MS` and space `s` is
/// *due* in epoch `e` when `H(s, e) mod k = 0`, where `H` is the first 8 bytes (big-endian) of
/// `SHA-256(tagged("spaces/1 topic-rotation", s || u64(e)))` and `k` the smallest power of two
/// with `k * slots >= 2 * spaces`: about half the slots go to due spaces, the rest to the others
/// by ascending `H`. Two devices that share `s` meet on its topic: `k` is a power of two, so an
/// epoch in which `s` is due for the device with the larger `k` is one in which it is due for
/// the other too, and a device with room for every space holds `s` always.
pub fn rotation(spaces: &[PublicKey], slots: usize, now: Timestamp) -> (Vec<PublicKey>, Option<Timestamp>) {
    if spaces.len() <= slots {
        return (spaces.to_vec(), None);
    }
    let k = rotation_modulus(spaces.len(), slots);
    let mut ranked: Vec<(bool, u64, PublicKey)> = spaces
        .iter()
        .map(|s| {
            let h = rotation_hash(s, now);
            (!h.is_multiple_of(k), h, *s)
        })
        .collect();
    ranked.sort();
    let held = ranked.into_iter().take(slots).map(|(_, _, s)| s).collect();
    let epoch = now.as_millis() / TOPIC_EPOCH_MS;
    (held, Some(Timestamp::from_millis((epoch + 1) * TOPIC_EPOCH_MS)))
}

/// `k` of `rotation`: the smallest power of two with `k * slots >= 2 * spaces`.
pub fn rotation_modulus(spaces: usize, slots: usize) -> u64 {
    (2 * spaces).div_ceil(slots.max(1)).next_power_of_two() as u64
}

/// Whether `space` is due at `now` for a device whose modulus is `k` (see `rotation`).
pub fn rotation_due(space: &PublicKey, k: u64, now: Timestamp) -> bool {
    rotation_hash(space, now).is_multiple_of(k)
}

/// `H(s, e)` of `rotation`, for the epoch of `now`.
fn rotation_hash(space: &PublicKey, now: Timestamp) -> u64 {
    let epoch = now.as_millis() / TOPIC_EPOCH_MS;
    let mut body = space.0.to_vec();
    body.extend_from_slice(&epoch.to_be_bytes());
    let d = crate::hash::hash_tagged(crate::hash::domain::TOPIC_ROTATION, &body);
    u64::from_be_bytes(d.0[..8].try_into().expect("8 bytes"))
}
