//! Strangers (SPEC.md §9.2.2 rule 8): a device we authorise for no space and hear for none.
//!
//! It may be a member admitted after our replica last heard of its space, which our replica
//! cannot place yet, and which may know what we do not: a device removed while away, whose
//! remover is gone for good, meets only such members (§9.7 item 11, test
//! `a_member_removed_while_away_learns_of_it_from_a_member_admitted_since`). So the link is
//! not refused at once: it waits up to `STRANGER_WAIT_MS` for the remote's first summary,
//! sending nothing. A summary of a space we hold opens a probe of that space: we answer with
//! our own summary (the remote showed it knows the space) and take from it, for that space
//! only, control-feed entries by the heard rules (`ingest_heard`), credentials and fork
//! evidence, each judged by our own replica. When what we took lets us authorise it, the link
//! becomes an ordinary one; a `Refused` of the space, or the end of the wait, refuses it.
//! What a stranger can make us do is what a heard device can: one batch judged per message,
//! over one connection it holds no longer than a handshake unless it knows the space.

use super::*;

impl Peer {
    /// `authorise` found no space to share and none the remote is heard for.
    pub(super) fn hold_stranger(&mut self, conn: ConnId, remote: NoiseKey, now: Timestamp) {
        if crate::mutants::active(crate::mutants::Mutant::RefuseStrangers) {
            return self.refuse_link(conn, remote, now);
        }
        if let Some(c) = self.conns.get_mut(conn) {
            c.deadline = now.saturating_add_millis(STRANGER_WAIT_MS);
        }
        if let Some(l) = self.conns.link_mut(conn) {
            l.set_probe(Probe::Waiting);
        }
    }

    /// A message for `space` on a stranger's link.
    pub(super) fn stranger_message(&mut self, conn: ConnId, space: PublicKey, m: SwarmMessage, now: Timestamp) {
        let Some(link) = self.conns.link(conn) else { return };
        let (probe, remote) = (link.probe(), link.remote());
        let summary =
            matches!(m, SwarmMessage::Have { .. } | SwarmMessage::HavePage { .. } | SwarmMessage::Summary { .. });
        let refused = matches!(m, SwarmMessage::Refused { .. });
        // It does not hold the space we probe, or will not tell us of it: nothing to learn.
        if refused && probe == Probe::Of(space) {
            if let Some(remote) = remote {
                self.refuse_link(conn, remote, now);
            }
            return;
        }
        match probe {
            Probe::Waiting if summary && self.client.space(&space).is_some() => {
                if let Some(l) = self.conns.link_mut(conn) {
                    l.set_probe(Probe::Of(space));
                }
                if let Some(c) = self.conns.get_mut(conn) {
                    c.deadline = now.saturating_add_millis(LINK_IDLE_MS);
                }
                self.send_have(conn, space, true, now);
            }
            // Its first summary is of a space we do not hold: it has nothing for us. Refused now,
            // as it was at once before: a `Refused` would make it drop the space from a link it
            // may carry it on (we may join the space an instant later: swarm seed 146, L3).
            Probe::Waiting if summary => {
                if let Some(remote) = remote {
                    self.refuse_link(conn, remote, now);
                }
            }
            // Anything else before its first summary is not judged; the wait bounds it.
            Probe::Waiting => {}
            Probe::Of(probed) if probed == space => self.probed_message(conn, space, m, now),
            Probe::Of(_) | Probe::None if refused => {}
            // Another space: said once per message, as to anyone (rule 4).
            Probe::Of(_) | Probe::None => self.send(conn, &SwarmMessage::Refused { space }, now),
        }
    }

    /// A message for the space a stranger's link probes.
    fn probed_message(&mut self, conn: ConnId, space: PublicKey, m: SwarmMessage, now: Timestamp) {
        match m {
            SwarmMessage::Entries { entries, .. } => {
                let before = self.client.space(&space).map_or(0, |sp| sp.forks().count());
                let Some(sp) = self.client.space_mut(&space) else { return };
                let new = replication::ingest_heard(sp, entries).new;
                self.after_taking(space, before, new > 0, now);
            }
            SwarmMessage::Credentials { credentials, .. } => self.on_credentials(space, credentials, now),
            SwarmMessage::Forks { evidence, .. } => self.on_forks(space, evidence, now),
            // Its summary again: ours, if it changed since.
            SwarmMessage::Have { .. } | SwarmMessage::HavePage { .. } | SwarmMessage::Summary { .. } => {
                self.send_have(conn, space, false, now);
            }
            SwarmMessage::Refused { .. } => {} // Handled by the caller.
            SwarmMessage::Halo { .. } | SwarmMessage::HaloJoin { .. } => {} // Taken before.
        }
    }
}
