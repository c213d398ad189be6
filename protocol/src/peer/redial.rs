//! Which devices the Peer wants a swarm connection to, and when it dials them (SPEC.md
//! §9.1.1). A pure table: the Peer tells it what signaling and connections did, and asks it
//! which dials are due. Every wait grows exponentially with jitter, so a device that is
//! unreachable, refuses us or was invented by the signaling server costs a bounded and
//! shrinking rate of dials, and many devices that lost the same server do not redial in step.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::RngCore;

use super::ConnId;
use crate::hash::Digest;
use crate::keys::{NoiseKey, PublicKey};
use crate::signal::PeerInfo;
use crate::time::Timestamp;

/// First wait before redialling a device whose connection (dialled by us) ended.
pub const RECONNECT_MIN_MS: u64 = 1_000;
/// The wait doubles after every connection that ends without replicating, up to this: a
/// departed or hostile device costs at most about one dial a minute.
pub const RECONNECT_MAX_MS: u64 = 60_000;
/// Devices the table remembers at most. Signaling already bounds peers per topic; this
/// bounds the sum over topics, so an inventive server cannot grow it with its topic count.
pub const WANTED_MAX: usize = 1024;

/// Where a wanted device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialState {
    /// Dial at this time.
    Due(Timestamp),
    /// A connection we dialled is open or being opened.
    Dialling(ConnId),
    /// Another connection (one it dialled, or a duplicate we closed) links us already.
    Linked,
    /// Its handshake showed a device that is a member of none of our spaces: dialled again
    /// only when a membership of ours changes.
    Parked,
}

#[derive(Debug, Clone)]
struct Wanted {
    info: PeerInfo,
    /// The space topics signaling reports it on; the entry goes when the last one does.
    topics: BTreeSet<Digest>,
    /// Its authenticated Noise key, once a handshake showed it.
    noise: Option<NoiseKey>,
    backoff_ms: u64,
    state: DialState,
    /// When it was parked: a parked device is still dialled once per `RECONNECT_MAX_MS`,
    /// since the judgement may rest on a membership we had not fully learned, or on whoever
    /// a lying server sent us to.
    parked_at: Timestamp,
    /// Dials so far: successive dials rotate over the addresses signaling reports for it.
    attempts: u64,
}

/// The devices we dial (those with a greater device key on a shared space topic).
#[derive(Debug, Default)]
pub struct Redial {
    wanted: BTreeMap<PublicKey, Wanted>,
}

impl Redial {
    /// Signaling reports `info` on a space topic: want it (dial at once if new). A known
    /// device only gets its address and topic updated; no second dial is started.
    pub fn appeared(&mut self, topic: Digest, info: PeerInfo, now: Timestamp) {
        if let Some(w) = self.wanted.get_mut(&info.peer) {
            let new_topic = w.topics.insert(topic);
            // Parking judged the spaces we shared then, with whoever answered at the old
            // address (a lying server may have sent us to someone else): a device met on
            // another space's topic, or at a new address, deserves a dial of its own.
            if (new_topic || w.info.addr != info.addr) && w.state == DialState::Parked {
                w.state = DialState::Due(now);
                w.noise = None;
            }
            w.info = info;
            return;
        }
        if self.wanted.len() >= WANTED_MAX {
            return;
        }
        let topics = BTreeSet::from([topic]);
        let w = Wanted {
            info,
            topics,
            noise: None,
            backoff_ms: RECONNECT_MIN_MS,
            state: DialState::Due(now),
            parked_at: now,
            attempts: 0,
        };
        self.wanted.insert(w.info.peer, w);
        assert!(self.wanted.len() <= WANTED_MAX);
    }

    /// Signaling says `peer` left `topic` (or we did): forget it once it is on none of ours.
    pub fn gone(&mut self, topic: &Digest, peer: &PublicKey) {
        let Some(w) = self.wanted.get_mut(peer) else { return };
        w.topics.remove(topic);
        if w.topics.is_empty() {
            self.wanted.remove(peer);
        }
    }

    /// We no longer dial for the space of `topic` (we were removed from it): forget it as a
    /// reason to dial anyone, and the devices it was the last reason for.
    pub fn forget_topic(&mut self, topic: &Digest) {
        for w in self.wanted.values_mut() {
            w.topics.remove(topic);
        }
        self.wanted.retain(|_, w| !w.topics.is_empty());
    }

    /// The devices whose dial is due, in key order.
    pub fn due(&self, now: Timestamp) -> Vec<(PeerInfo, Option<NoiseKey>)> {
        let due = |w: &&Wanted| w.due_at().is_some_and(|t| t <= now);
        self.wanted.values().filter(due).map(|w| (w.info.clone(), w.noise)).collect()
    }

    pub fn next_due(&self) -> Option<Timestamp> {
        self.wanted.values().filter_map(Wanted::due_at).min()
    }

    /// Parks `peer`: it showed no membership of ours.
    pub fn park(&mut self, peer: &PublicKey, now: Timestamp) {
        if let Some(w) = self.wanted.get_mut(peer) {
            w.state = DialState::Parked;
            w.parked_at = now;
        }
    }

    /// The space topics signaling reports `peer` on.
    pub fn topics(&self, peer: &PublicKey) -> Vec<Digest> {
        self.wanted.get(peer).map(|w| w.topics.iter().copied().collect()).unwrap_or_default()
    }

    /// Counts a dial to `peer`; returns how many came before it.
    pub fn attempt(&mut self, peer: &PublicKey) -> u64 {
        let Some(w) = self.wanted.get_mut(peer) else { return 0 };
        w.attempts += 1;
        w.attempts - 1
    }

    pub fn state(&self, peer: &PublicKey) -> Option<DialState> {
        self.wanted.get(peer).map(|w| w.state)
    }

    /// The Noise key a handshake with `peer` showed last, if any.
    pub fn noise(&self, peer: &PublicKey) -> Option<NoiseKey> {
        self.wanted.get(peer).and_then(|w| w.noise)
    }

    pub fn len(&self) -> usize {
        self.wanted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.wanted.is_empty()
    }

    pub fn set(&mut self, peer: &PublicKey, state: DialState) {
        if let Some(w) = self.wanted.get_mut(peer) {
            w.state = state;
        }
    }

    /// Dialling is not possible now (too many connections): try again after the backoff.
    pub fn postpone(&mut self, peer: &PublicKey, now: Timestamp, rng: &mut impl RngCore) {
        if let Some(w) = self.wanted.get_mut(peer) {
            w.state = DialState::Due(now.saturating_add_millis(next_wait(&mut w.backoff_ms, rng)));
        }
    }

    /// The handshake of a connection we dialled showed this Noise key.
    pub fn established(&mut self, peer: &PublicKey, noise: NoiseKey) {
        if let Some(w) = self.wanted.get_mut(peer) {
            w.noise = Some(noise);
        }
    }

    /// Both sides replicate on the link: the next drop is redialled after the minimum wait.
    pub fn replicating(&mut self, peer: &PublicKey) {
        if let Some(w) = self.wanted.get_mut(peer) {
            w.backoff_ms = RECONNECT_MIN_MS;
        }
    }

    /// The connection `conn` we dialled to `peer` ended. `linked`: another open connection
    /// reaches the same device, so there is nothing to redial until that one ends.
    pub fn closed(&mut self, peer: &PublicKey, conn: ConnId, linked: bool, now: Timestamp, rng: &mut impl RngCore) {
        let Some(w) = self.wanted.get_mut(peer) else { return };
        if w.state != DialState::Dialling(conn) {
            return;
        }
        w.state = if linked {
            DialState::Linked
        } else {
            DialState::Due(now.saturating_add_millis(next_wait(&mut w.backoff_ms, rng)))
        };
    }

    /// An open connection to the device with Noise key `noise` ended: devices that relied on
    /// it are dialled again after their backoff.
    pub fn link_closed(&mut self, noise: &NoiseKey, now: Timestamp, rng: &mut impl RngCore) {
        for w in self.wanted.values_mut() {
            if w.state == DialState::Linked && w.noise.as_ref() == Some(noise) {
                w.state = DialState::Due(now.saturating_add_millis(next_wait(&mut w.backoff_ms, rng)));
            }
        }
    }

    /// The membership of the space with discovery topic `topic` changed: a device refused
    /// before may be a member now. Its backoff is kept, so churn cannot make it a flood.
    pub fn membership_changed(&mut self, topic: &Digest, now: Timestamp, rng: &mut impl RngCore) {
        for w in self.wanted.values_mut() {
            if w.state == DialState::Parked && w.topics.contains(topic) {
                w.state = DialState::Due(now.saturating_add_millis(next_wait(&mut w.backoff_ms, rng)));
            }
        }
    }
}

impl Wanted {
    fn due_at(&self) -> Option<Timestamp> {
        match self.state {
            DialState::Due(t) => Some(t),
            DialState::Parked => Some(self.parked_at.saturating_add_millis(RECONNECT_MAX_MS)),
            DialState::Dialling(_) | DialState::Linked => None,
        }
    }
}

/// The wait before the next dial: the current backoff less up to a quarter of it, drawn
/// from the Peer's seeded generator (deterministic, yet not in step with other devices);
/// then the backoff doubles up to `RECONNECT_MAX_MS`.
fn next_wait(backoff_ms: &mut u64, rng: &mut impl RngCore) -> u64 {
    assert!((RECONNECT_MIN_MS..=RECONNECT_MAX_MS).contains(backoff_ms));
    let base = *backoff_ms;
    let jitter = u64::from(rng.next_u32()) % (base / 4 + 1);
    *backoff_ms = (base * 2).min(RECONNECT_MAX_MS);
    let wait = base - jitter;
    assert!((RECONNECT_MIN_MS * 3 / 4..=RECONNECT_MAX_MS).contains(&wait));
    wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn info(b: u8) -> PeerInfo {
        PeerInfo { peer: PublicKey([b; 32]), addr: vec![b] }
    }

    #[test]
    fn waits_double_with_jitter_up_to_the_cap_and_reset_after_replicating() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut r = Redial::default();
        let now = Timestamp::from_millis(0);
        r.appeared(Digest([1; 32]), info(2), now);
        let peer = PublicKey([2; 32]);
        let mut waits = Vec::new();
        for conn in 0..10 {
            r.set(&peer, DialState::Dialling(conn));
            r.closed(&peer, conn, false, now, &mut rng);
            let Some(DialState::Due(t)) = r.state(&peer) else { panic!() };
            waits.push(t.as_millis());
        }
        for (i, w) in waits.iter().enumerate() {
            let base = (RECONNECT_MIN_MS << i.min(6)).min(RECONNECT_MAX_MS);
            assert!(*w <= base && *w >= base - base / 4, "wait {i}: {w} for {base}");
        }
        r.replicating(&peer);
        r.set(&peer, DialState::Dialling(99));
        r.closed(&peer, 99, false, now, &mut rng);
        assert!(matches!(r.state(&peer), Some(DialState::Due(t)) if t.as_millis() <= RECONNECT_MIN_MS));
    }

    #[test]
    fn a_device_is_forgotten_when_it_leaves_every_topic_and_the_table_is_bounded() {
        let now = Timestamp::from_millis(0);
        let mut r = Redial::default();
        r.appeared(Digest([1; 32]), info(2), now);
        r.appeared(Digest([3; 32]), info(2), now);
        r.gone(&Digest([1; 32]), &PublicKey([2; 32]));
        assert_eq!(r.len(), 1);
        r.gone(&Digest([3; 32]), &PublicKey([2; 32]));
        assert_eq!(r.len(), 0);
        for i in 0..WANTED_MAX + 10 {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_be_bytes());
            r.appeared(Digest([1; 32]), PeerInfo { peer: PublicKey(key), addr: vec![] }, now);
        }
        assert_eq!(r.len(), WANTED_MAX);
    }

    #[test]
    fn forgetting_a_topic_keeps_only_devices_wanted_for_another() {
        let now = Timestamp::from_millis(0);
        let mut r = Redial::default();
        r.appeared(Digest([1; 32]), info(2), now);
        r.appeared(Digest([3; 32]), info(2), now);
        r.appeared(Digest([1; 32]), info(4), now);
        r.forget_topic(&Digest([1; 32]));
        assert_eq!(r.topics(&PublicKey([2; 32])), vec![Digest([3; 32])]);
        assert_eq!(r.state(&PublicKey([4; 32])), None, "its only reason is gone");
        assert_eq!(r.len(), 1);
    }
}
