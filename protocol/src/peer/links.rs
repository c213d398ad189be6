//! Swarm links: which spaces each authenticated device may replicate with us (SPEC.md
//! §9.2.2), and the replication rules over them (§9.3.3).

use std::collections::BTreeSet;

use super::*;
use crate::credential::FeedPosition;
use crate::feed::FeedEntry;
use crate::swarm::FeedHead;

/// What a summary page (a `Summary`, `Have` or `HavePage`) says we hold.
enum Theirs {
    Positions(Vec<FeedPosition>),
    /// Positions with heads: a `Summary`, which lets us notice another branch (§9.3.5).
    Heads(Vec<FeedHead>),
}

impl Theirs {
    fn positions(&self) -> Vec<FeedPosition> {
        match self {
            Theirs::Positions(p) => p.clone(),
            Theirs::Heads(h) => h.iter().map(FeedHead::position).collect(),
        }
    }
}

impl Peer {
    /// Decides which spaces a freshly authenticated device may replicate, and announces ours.
    pub(super) fn authorise(&mut self, conn: ConnId, now: Timestamp) {
        let Some(remote) = self.conns.link(conn).and_then(Link::remote) else { return };
        let shared = self.spaces_where(|sp| replication::is_member_device(sp, &remote));
        // A removed member's device may hold credentials every member needs, and may not know
        // of its removal: the link stays until its summary of each such space shows it lacks
        // nothing we must tell it and holds nothing we need (rule 6).
        let heard = self.spaces_where(|sp| replication::is_heard_device(sp, &remote));
        // Another device of our identity gets our HALO, whatever spaces we share (§9.8).
        let sibling = self.client.sibling(&remote).is_some();
        if sibling && let Some(l) = self.conns.link_mut(conn) {
            l.set_sibling();
        }
        if shared.is_empty() && heard.is_empty() {
            if sibling {
                return self.tell_halo(false, now);
            }
            return self.hold_stranger(conn, remote, now);
        }
        if let Some(l) = self.conns.link_mut(conn) {
            l.carry_only(shared.clone());
            heard.iter().for_each(|space| l.hear(*space));
        }
        for space in shared {
            self.send_have(conn, space, true, now);
            self.send_forks(conn, space, now);
        }
        // A heard device may not know us as a member (we were admitted after it last heard
        // of the space): it holds us as a stranger, and waits for our summary (rule 8).
        for space in heard {
            self.send_have(conn, space, true, now);
        }
        if sibling {
            self.tell_halo(false, now);
        }
    }

    /// The spaces we hold whose replica satisfies `judge`.
    fn spaces_where(&self, judge: impl Fn(&crate::Space) -> bool) -> BTreeSet<PublicKey> {
        self.client.space_keys().filter(|k| self.client.space(k).is_some_and(&judge)).copied().collect()
    }

    /// Tells `conn` every proven fork of `space` we hold (SPEC.md §5.6).
    fn send_forks(&mut self, conn: ConnId, space: PublicKey, now: Timestamp) {
        let Some(sp) = self.client.space(&space) else { return };
        for m in replication::fork_messages(sp) {
            self.send(conn, &m, now);
        }
    }

    /// After entries or evidence of `space` were taken: a fork newly proven is told to every
    /// link of the space, and credentials only its cut branch carried are carried again.
    pub(super) fn after_taking(&mut self, space: PublicKey, forks_before: usize, changed: bool, now: Timestamp) {
        let forks = self.client.space(&space).map_or(0, |sp| sp.forks().count());
        let recarried = self.client.recarry(&space);
        if forks != forks_before {
            for conn in self.conns.carrying(&space) {
                self.send_forks(conn, space, now);
            }
        }
        if changed || forks != forks_before || recarried > 0 {
            self.space_changed(space, now);
        }
    }

    fn forks_held(&self, space: &PublicKey) -> usize {
        self.client.space(space).map_or(0, |sp| sp.forks().count())
    }

    /// Closes a link to a device that is a member of none of our spaces. If we dialled it, it
    /// is not dialled again until one of our memberships changes.
    pub(super) fn refuse_link(&mut self, conn: ConnId, remote: NoiseKey, now: Timestamp) {
        if let Some(peer) = self.conns.link(conn).and_then(Link::dialled).map(|d| d.peer) {
            self.redial.park(&peer, now);
        }
        self.event(Event::Refused { conn, remote: Some(remote) });
        self.close(conn, now);
    }

    pub(super) fn swarm_message(&mut self, conn: ConnId, m: SwarmMessage, now: Timestamp) {
        let Some(link) = self.conns.link(conn) else { return };
        if matches!(m, SwarmMessage::Halo { .. } | SwarmMessage::HaloJoin { .. }) {
            return self.halo_message(conn, m, now);
        }
        if self.answers_sibling_join(conn, &m) {
            return self.sibling_join_answer(m, now);
        }
        let Some(space) = m.space() else { unreachable!("a Halo is taken above") };
        let remote = link.remote();
        // Membership may have changed since the link was authorised (we joined the space
        // since, or learned the remote's admission): judge again before refusing.
        let now_member =
            remote.is_some_and(|r| self.client.space(&space).is_some_and(|sp| replication::is_member_device(sp, &r)));
        let mut newly = false;
        if !link.carries(&space)
            && now_member
            && !matches!(m, SwarmMessage::Refused { .. })
            && let Some(l) = self.conns.link_mut(conn)
        {
            newly = l.carry(space);
        }
        let Some(link) = self.conns.link(conn) else { return };
        let heard = !link.carries(&space)
            && !matches!(m, SwarmMessage::Refused { .. })
            && remote.is_some_and(|r| self.client.space(&space).is_some_and(|sp| replication::is_heard_device(sp, &r)));
        if heard {
            return self.heard_message(conn, space, m, now);
        }
        if link.probe() != Probe::None {
            return self.stranger_message(conn, space, m, now);
        }
        if !link.carries(&space) {
            // A space we never authorised on this link (or no longer hold): say so, once.
            if !matches!(m, SwarmMessage::Refused { .. }) {
                self.send(conn, &SwarmMessage::Refused { space }, now);
            }
            return;
        }
        if !matches!(m, SwarmMessage::Refused { .. })
            && let Some(info) = link.dialled()
        {
            // The other side replicates with us: a later drop is worth a prompt redial.
            let peer = info.peer;
            self.redial.replicating(&peer);
        }
        self.carried_message(conn, space, m, now);
        if newly {
            // It may have stopped carrying the space when we refused it; our summary makes
            // it judge again and answer with its own, which a push needs (rule 2).
            self.send_have(conn, space, false, now);
            if !crate::mutants::active(crate::mutants::Mutant::ForksOnAuthoriseOnly) {
                self.send_forks(conn, space, now);
            }
        }
    }

    /// A message for `space` on a link that carries it.
    fn carried_message(&mut self, conn: ConnId, space: PublicKey, m: SwarmMessage, now: Timestamp) {
        let remote = self.conns.link(conn).and_then(Link::remote);
        match m {
            SwarmMessage::Have { feeds, .. } => {
                if let Some(l) = self.conns.link_mut(conn) {
                    l.note_known(space, feeds.clone());
                }
                self.on_have(conn, space, &Theirs::Positions(feeds.clone()), (None, None), now);
                self.note_handoff(space, remote, &feeds);
            }
            SwarmMessage::HavePage { after, through, feeds, .. } => {
                if let Some(l) = self.conns.link_mut(conn) {
                    l.forget_known(&space);
                }
                self.on_have(conn, space, &Theirs::Positions(feeds.clone()), (after.as_ref(), through.as_ref()), now);
                self.note_handoff(space, remote, &feeds);
            }
            SwarmMessage::Summary { after, through, feeds, credentials, .. } => {
                let whole = after.is_none() && through.is_none();
                let same = self.client.space(&space).is_some_and(|sp| replication::heads(sp) == feeds);
                let theirs = Theirs::Heads(feeds);
                if let Some(l) = self.conns.link_mut(conn) {
                    if whole { l.note_known(space, theirs.positions()) } else { l.forget_known(&space) }
                }
                self.on_have(conn, space, &theirs, (after.as_ref(), through.as_ref()), now);
                self.note_handoff(space, remote, &theirs.positions());
                if whole && same {
                    self.send_loose(conn, space, credentials, now);
                }
            }
            SwarmMessage::Forks { evidence, .. } => self.on_forks(space, evidence, now),
            SwarmMessage::Credentials { credentials, .. } => self.on_credentials(space, credentials, now),
            SwarmMessage::Entries { entries, .. } => {
                let before = self.forks_held(&space);
                if let Some(l) = self.conns.link_mut(conn) {
                    // It holds what it sent: a push of ours after this change skips them.
                    l.note_carried(&space, &entries);
                }
                let Some(sp) = self.client.space_mut(&space) else { return };
                let report = replication::ingest_batch(sp, entries);
                self.after_taking(space, before, report.new > 0, now);
            }
            SwarmMessage::Halo { .. } | SwarmMessage::HaloJoin { .. } => {}
            SwarmMessage::Refused { .. } => {
                if let Some(l) = self.conns.link_mut(conn) {
                    l.drop_space(&space);
                }
            }
        }
    }

    /// A message for `space` from a heard device (a removed member's, §9.2.2 rule 6): its
    /// summary gets pages asking for the control-feed entries we lack, up to what can still
    /// matter (`replication::heard_limit`), only those of its entries are ingested, and it is
    /// sent nothing else. A link that carries nothing more is closed (and
    /// parked, if we dialled it) once such a summary (all of it) shows we lack nothing of it.
    fn heard_message(&mut self, conn: ConnId, space: PublicKey, m: SwarmMessage, now: Timestamp) {
        let (summary, after, last, digest) = match m {
            SwarmMessage::Have { feeds, .. } => (Theirs::Positions(feeds), None, true, None),
            SwarmMessage::HavePage { feeds, after, through, .. } => {
                (Theirs::Positions(feeds), after, through.is_none(), None)
            }
            SwarmMessage::Summary { feeds, after, through, credentials, .. } => {
                let whole = after.is_none() && through.is_none();
                (Theirs::Heads(feeds), after, through.is_none(), whole.then_some(credentials))
            }
            SwarmMessage::Forks { evidence, .. } => return self.on_forks(space, evidence, now),
            SwarmMessage::Credentials { .. } => return,
            SwarmMessage::Entries { entries, .. } => {
                let before = self.forks_held(&space);
                let Some(sp) = self.client.space_mut(&space) else { return };
                let new = replication::ingest_heard(sp, entries).new;
                return self.after_taking(space, before, new > 0, now);
            }
            SwarmMessage::Refused { .. } | SwarmMessage::Halo { .. } | SwarmMessage::HaloJoin { .. } => return,
        };
        // A device that believes it is still a member (it sends a whole summary) learns what
        // removed it (rule 7); one batch per summary, so its reconnects cost bounded work.
        let theirs = summary.positions();
        let notified = after.is_none() && self.send_removal_notice(conn, space, &summary, now);
        let Some(sp) = self.client.space(&space) else { return };
        let pages = replication::pull_pages(sp, &theirs, after.as_ref());
        if !pages.is_empty() {
            for page in &pages {
                self.send(conn, page, now);
            }
            return;
        }
        // It holds every entry of ours that could tell it, yet other credentials: what removed
        // it may travel in no entry (the remover's fork was cut, and only a replica that took
        // the credentials loose holds them: hostile seed 1311). It gets them as a member would.
        let planted = crate::mutants::active(crate::mutants::Mutant::NoLooseToHeard);
        let loose = !notified && !planted && digest.is_some_and(|d| self.send_loose(conn, space, d, now));
        // Only once its whole summary was seen (a `Have`, or the last page of one), and shows
        // it holds what removed it (a close would drop a notice still on its way), and so for
        // every space it is heard for.
        if !last || notified || loose {
            return;
        }
        let Some(link) = self.conns.link_mut(conn) else { return };
        link.settle(space);
        if link.is_spent()
            && let Some(remote) = link.remote()
        {
            self.refuse_link(conn, remote, now);
        }
    }

    /// A whole summary whose credential digest `theirs` differs from ours though its entries
    /// leave nothing to send: some credentials we hold travel in no entry (a grant's, or those
    /// of a fork's branch no one else holds), so they go out as `Credentials` (SPEC.md §9.3.5),
    /// once per link and value of our digest. Returns whether any went.
    fn send_loose(&mut self, conn: ConnId, space: PublicKey, theirs: Digest, now: Timestamp) -> bool {
        let Some(ours) = self.client.space(&space).map(crate::Space::credentials_digest) else { return false };
        if ours == theirs || !self.conns.link_mut(conn).is_some_and(|l| l.note_loose(space, ours)) {
            return false;
        }
        let messages = self.client.space(&space).map(replication::loose_messages).unwrap_or_default();
        for m in &messages {
            self.send(conn, m, now);
        }
        !messages.is_empty()
    }

    /// Sends a device that is no member of `space` any more the control-feed entries past
    /// `theirs`, which carry its removal (SPEC.md §9.2.2 rule 7), if it lacks any.
    /// Returns whether a notice is owed (sent now, or an earlier one still on its way).
    fn send_removal_notice(&mut self, conn: ConnId, space: PublicKey, theirs: &Theirs, now: Timestamp) -> bool {
        if crate::mutants::active(crate::mutants::Mutant::NoRemovalNotice) {
            return false;
        }
        let Some(sp) = self.client.space(&space) else { return false };
        let entries = match theirs {
            Theirs::Heads(h) if !crate::mutants::active(crate::mutants::Mutant::PositionsOnlyNotice) => {
                replication::removal_notice_for_summary(sp, h)
            }
            _ => replication::removal_notice(sp, &theirs.positions()),
        };
        if entries.is_empty() {
            return false;
        }
        // A notice still on its way is not sent again for each summary the device repeats.
        let entries = self.answer(conn, space, &theirs.positions(), entries, now);
        if !entries.is_empty() {
            self.send(conn, &SwarmMessage::Entries { space, entries }, now);
        }
        true
    }

    /// Credentials of `space` from a link: judged by our replica; a new one is a change.
    pub(super) fn on_credentials(
        &mut self,
        space: PublicKey,
        credentials: Vec<crate::credential::Credential>,
        now: Timestamp,
    ) {
        let Some(sp) = self.client.space_mut(&space) else { return };
        if sp.insert_credentials(credentials).contains(&Ok(crate::membership::Inserted::New)) {
            self.space_changed(space, now);
        }
    }

    /// Evidence of forks from another replica: each verified piece for a feed we carry cuts it.
    pub(super) fn on_forks(&mut self, space: PublicKey, evidence: Vec<crate::feed::Equivocation>, now: Timestamp) {
        let before = self.forks_held(&space);
        let Some(sp) = self.client.space_mut(&space) else { return };
        for e in evidence {
            let _ = sp.learn_fork(e);
        }
        self.after_taking(space, before, false, now);
    }

    /// A summary (or one page of it, over `(after, through]`): send what it lacks, and pull
    /// if it shows us behind.
    fn on_have(
        &mut self,
        conn: ConnId,
        space: PublicKey,
        theirs: &Theirs,
        (after, through): (Option<&PublicKey>, Option<&PublicKey>),
        now: Timestamp,
    ) {
        let Some(sp) = self.client.space(&space) else { return };
        let missing = match theirs {
            Theirs::Positions(p) => replication::missing_in(sp, p, after, through),
            Theirs::Heads(h) => replication::missing_for_summary(sp, h, after, through),
        };
        let positions = theirs.positions();
        let behind = replication::behind(sp, &positions);
        let missing = self.answer(conn, space, &positions, missing, now);
        if !missing.is_empty() {
            if let Some(l) = self.conns.link_mut(conn) {
                l.note_carried(&space, &missing);
            }
            self.send(conn, &SwarmMessage::Entries { space, entries: missing }, now);
        }
        if behind {
            // Pull: tell the sender what we hold even if we said so before, or a device
            // already in sync would wait for the next anti-entropy round. Only for entries we
            // would take (`replication::behind`), or two replicas could ask each other forever.
            self.send_have(conn, space, true, now);
        }
    }

    /// After our replica of `space` changed: re-check who may replicate it, close links to
    /// devices no longer members, and tell the others what we now hold.
    pub(super) fn space_changed(&mut self, space: PublicKey, now: Timestamp) {
        self.event(Event::Changed { space });
        self.note_own_standing(space, now);
        let membership_changed = self.note_membership(space, now);
        self.relink(space, now);
        if membership_changed {
            for other in self.spread_device_removals(space, now) {
                self.space_changed(other, now);
            }
        }
    }

    /// Every link re-judged after a change of `space`: members get what changed, devices no
    /// longer members their removal notice.
    fn relink(&mut self, space: PublicKey, now: Timestamp) {
        let links: Vec<(ConnId, NoiseKey)> =
            self.conns.links().filter_map(|(c, l)| l.remote().map(|r| (c, r))).collect();
        for (conn, remote) in links {
            let member = self.client.space(&space).is_some_and(|sp| replication::is_member_device(sp, &remote));
            let Some(l) = self.conns.link_mut(conn) else { continue };
            if member {
                let newly = l.carry(space) && !crate::mutants::active(crate::mutants::Mutant::ForksOnAuthoriseOnly);
                self.push(conn, space, now);
                self.send_have(conn, space, false, now);
                if newly {
                    // Forks proven while it was no member were told only to members: a
                    // device admitted again on this link would keep a cut branch, and
                    // credentials that only the cut's recarrying would bring (hostile seed 1872).
                    self.send_forks(conn, space, now);
                }
            } else if l.probe() == Probe::Of(space) {
                // A stranger we learn from: what we hold now, so it knows what to send next.
                self.send_have(conn, space, false, now);
            } else if l.carries(&space) {
                // A member until this change: it learns what removed it before the link
                // drops the space (rule 7), from what we last told it we hold.
                // A frame sent just before a close may be lost with it, so a notified device
                // that is now heard (its control feeds still count) keeps the link until its
                // next summary shows it holds the notice (`heard_message`).
                let sent: Vec<FeedPosition> =
                    l.summary_sent(&space).unwrap_or_default().iter().map(FeedHead::position).collect();
                let notified = self.send_removal_notice(conn, space, &Theirs::Positions(sent), now);
                let heard = self.client.space(&space).is_some_and(|sp| replication::is_heard_device(sp, &remote));
                let Some(l) = self.conns.link_mut(conn) else { continue };
                if l.drop_space(&space) {
                    if notified && heard {
                        l.hear(space);
                    }
                    if l.is_spent() {
                        self.refuse_link(conn, remote, now);
                    }
                }
            }
        }
    }

    /// After a local change: sends `conn` the entries of our own feeds of `space` its remote is
    /// known to lack, before our new summary (SPEC.md §9.3.3 rule 2), so a device in sync receives a write in
    /// the frames the write sends, not after a pull round trip. Unknown (no whole summary
    /// heard yet, or only pages since): nothing, and the summary starts a pull.
    fn push(&mut self, conn: ConnId, space: PublicKey, now: Timestamp) {
        if crate::mutants::active(crate::mutants::Mutant::PullOnly) {
            return;
        }
        let Some(base) = self.conns.link(conn).and_then(|l| l.push_base(&space)) else { return };
        let Some(sp) = self.client.space(&space) else { return };
        let entries = replication::push(sp, &base, &self.client.identity().device_key());
        if entries.is_empty() {
            return;
        }
        if let Some(l) = self.conns.link_mut(conn) {
            l.note_carried(&space, &entries);
            l.note_pushed(space, &entries);
        }
        self.send(conn, &SwarmMessage::Entries { space, entries }, now);
    }

    /// A membership change of `space` (not a mere write) may make devices we refused before
    /// members: dial them again.
    /// Returns whether the membership changed (not a mere write).
    fn note_membership(&mut self, space: PublicKey, now: Timestamp) -> bool {
        let Some(count) = self.client.space(&space).map(|sp| sp.membership().len()) else { return false };
        if self.credentials_seen.insert(space, count) == Some(count) {
            return false;
        }
        self.redial.membership_changed(&space_topic(&space), now, &mut self.rng);
        self.dial_readmitted(space, now);
        self.sync_delegations(space, now);
        // Our role may have changed, and with it which delegated shares we serve.
        self.topics_dirty = true;
        true
    }

    /// Of `entries`, what we answer a summary of `space` showing `theirs` on `conn` with: none
    /// of a feed still in flight to that device (SPEC.md §9.3.3 rule 3, `in_flight.rs`).
    fn answer(
        &mut self,
        conn: ConnId,
        space: PublicKey,
        theirs: &[FeedPosition],
        entries: Vec<FeedEntry>,
        now: Timestamp,
    ) -> Vec<FeedEntry> {
        let Some(remote) = self.conns.link(conn).and_then(Link::remote) else { return Vec::new() };
        self.answered.entry((remote, space)).or_default().answer(theirs, entries, now)
    }

    /// Announces our summary of `space` on `conn` (in pages if large), unless unchanged since
    /// the last one sent there and not `force`d.
    pub(super) fn send_have(&mut self, conn: ConnId, space: PublicKey, force: bool, now: Timestamp) {
        let Some(sp) = self.client.space(&space) else { return };
        let feeds = replication::heads(sp);
        let Some(l) = self.conns.link_mut(conn) else { return };
        if !l.note_summary(space, &feeds) && !force {
            return;
        }
        let messages = replication::summary_messages(space, &feeds, sp.credentials_digest());
        for m in &messages {
            self.send(conn, m, now);
        }
    }

    /// Seals and sends `m`; a session that cannot seal (failed, or a message over its bound) is
    /// of no further use, so the connection is closed.
    pub(super) fn send(&mut self, conn: ConnId, m: &SwarmMessage, now: Timestamp) {
        let Some(l) = self.conns.link_mut(conn) else { return };
        match l.seal(m) {
            Ok(frame) => self.transmit(conn, PeerBody::Swarm(frame)),
            Err(_) => self.close(conn, now),
        }
    }

    /// Every `SYNC_INTERVAL_MS`: every link re-announces every space in its set.
    pub(super) fn anti_entropy(&mut self, now: Timestamp) {
        self.answered.retain(|_, f| !f.is_spent(now));
        let links: Vec<(ConnId, Vec<PublicKey>)> =
            self.conns.links().filter(|(_, l)| l.is_open()).map(|(c, l)| (c, l.spaces().copied().collect())).collect();
        for (conn, spaces) in links {
            for space in spaces {
                self.send_have(conn, space, true, now);
            }
        }
        self.tell_halo(true, now);
    }
}
