//! The signaling topics a Peer holds, kept equal to what it needs (SPEC.md §8.4, §9.1.1),
//! and what it does with what signaling reports.

use std::collections::BTreeSet;

use super::*;
use crate::invitation::host::Ended;

impl Peer {
    /// Holds exactly the topics this device needs, leaving the rest. Invitations come first
    /// (a guest or a host waits on them now), then spaces by key: when the signaling limit
    /// (`topics_per_client_max`) is too small for all, the spaces past it are not discovered
    /// until a slot frees, and every later call tries again.
    pub(super) fn sync_topics(&mut self, now: Timestamp) {
        let mut wanted: Vec<Digest> = Vec::new();
        wanted.extend(self.invitations.guests().filter(|g| !g.state().is_terminal()).map(|g| g.code().topic()));
        wanted.extend(self.invitations.hosts().filter(|h| hosted_topic_held(h, now)).map(|h| h.code().topic()));
        wanted.extend(self.client.space_keys().map(space_topic));
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
        let me = self.client.identity().device_key();
        let on_space = self.client.space_keys().any(|k| space_topic(k) == topic);
        // One connection per pair of devices: the smaller key dials (`dial_due`, at once for
        // a device not wanted before).
        if on_space && me < info.peer {
            self.redial.appeared(topic, info.clone(), now);
            if let Some(conn) = self.conns.dialled_to(&info.peer)
                && matches!(self.redial.state(&info.peer), Some(redial::DialState::Due(_)))
            {
                // Still connected from before signaling forgot it: no second dial.
                self.redial.set(&info.peer, redial::DialState::Dialling(conn));
            }
        }
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
