//! One connection's state, in one value: what it carries, when it closes unless something
//! arrives, and whether the driver reported it open (quinn-proto's `Connection` beside its
//! `Endpoint`). The Peer keeps one per `ConnId` and nothing about a connection anywhere else,
//! so a connection's state cannot drift apart across tables.

use std::collections::{BTreeMap, BTreeSet};

use super::ConnId;
use crate::credential::FeedPosition;
use crate::feed::FeedEntry;
use crate::hash::Digest;
use crate::keys::{NoiseKey, PublicKey};
use crate::signal::PeerInfo;
use crate::swarm::{FeedHead, SwarmError, SwarmEvent, SwarmMessage, SwarmSession};
use crate::time::Timestamp;

/// A connection the Peer holds.
pub(super) struct Connection {
    pub(super) purpose: Purpose,
    /// When it is closed unless something arrives (see the `_TIMEOUT_MS` and `_IDLE_MS`
    /// limits): every connection has one, so none is held forever.
    pub(super) deadline: Timestamp,
    /// An outbound connection the driver has not reported `Connected` yet: frames on it
    /// are ignored, and a close counts as a failed dial.
    pub(super) dialling: bool,
}

/// What a connection carries.
pub(super) enum Purpose {
    /// Inbound, no frame yet: its first frame decides.
    Fresh,
    /// Outbound, for the invitation `id` we accept.
    Guest { id: [u8; 16] },
    /// Inbound, for the invitation `id` we host.
    Host { id: [u8; 16] },
    /// A swarm link between two devices.
    Swarm(Link),
}

impl Connection {
    pub(super) fn inbound(deadline: Timestamp) -> Self {
        Connection { purpose: Purpose::Fresh, deadline, dialling: false }
    }

    pub(super) fn dialled(purpose: Purpose, deadline: Timestamp) -> Self {
        Connection { purpose, deadline, dialling: true }
    }

    pub(super) fn link(&self) -> Option<&Link> {
        match &self.purpose {
            Purpose::Swarm(l) => Some(l),
            _ => None,
        }
    }

    pub(super) fn link_mut(&mut self) -> Option<&mut Link> {
        match &mut self.purpose {
            Purpose::Swarm(l) => Some(l),
            _ => None,
        }
    }
}

/// A swarm link: its Noise session and what it replicates (SPEC.md §9.2).
pub(super) struct Link {
    session: SwarmSession,
    /// The device we dialled (outbound), for reconnecting.
    dialled: Option<PeerInfo>,
    /// Spaces this member device may replicate with us.
    spaces: BTreeSet<PublicKey>,
    /// The last summary we sent, per space, so an unchanged one is not repeated.
    sent: BTreeMap<PublicKey, Vec<FeedHead>>,
    /// Our credential digest when we last sent this link our loose credentials, per space:
    /// a remote repeating a `Summary` with another digest gets them once per change of ours,
    /// not once per message (each costs a decode of every control entry we hold).
    loose_sent: BTreeMap<PublicKey, Digest>,
    /// What the remote holds of each space as far as we know: its last whole summary,
    /// advanced by every entry sent to it or received from it since (SPEC.md §9.3.3 rule 2).
    /// Lets a local change push the new entries at once instead of waiting for a pull.
    known: BTreeMap<PublicKey, Vec<FeedPosition>>,
    /// How far we pushed each of our feeds here, per space: an entry is pushed at most once per
    /// link (a remote that does not take it gets it by the pull), so a summary that resets
    /// `known` cannot make every change resend it (hostile seed 675 livelocked that way).
    pushed: BTreeMap<PublicKey, BTreeMap<PublicKey, u64>>,
    /// The spaces the remote is heard for (SPEC.md §9.2.2 rule 6), each with whether one of
    /// its whole summaries drew nothing yet (settled). The link stays while one is unsettled:
    /// closing on the first space's summary lost the next space's notice (hostile seed 1224).
    /// At most one entry per space we hold: only our own replicas make a remote heard.
    heard: BTreeMap<PublicKey, bool>,
    /// A remote we authorise for no space and hear for none: what we learn from it, if
    /// anything (SPEC.md §9.2.2 rule 8).
    probe: Probe,
    /// The remote is another device of our identity (SPEC.md §9.8): it gets our HALO.
    sibling: bool,
    /// A digest of the HALO we last told it, so an unchanged one is not told again.
    halo_told: Option<Digest>,
}

/// A stranger link's state: none (an ordinary link), waiting for its first summary, or
/// probing the one space that summary showed we hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Probe {
    #[default]
    None,
    Waiting,
    Of(PublicKey),
}

impl Link {
    /// A link we dial to `info`; `session` until the driver reports it up (then `initiate`).
    pub(super) fn dialling(info: PeerInfo, session: SwarmSession) -> Self {
        Link::new(session, Some(info))
    }

    /// A link another device opened, answering its handshake with `session`.
    pub(super) fn answering(session: SwarmSession) -> Self {
        Link::new(session, None)
    }

    fn new(session: SwarmSession, dialled: Option<PeerInfo>) -> Self {
        Link {
            session,
            dialled,
            spaces: BTreeSet::new(),
            sent: BTreeMap::new(),
            loose_sent: BTreeMap::new(),
            known: BTreeMap::new(),
            pushed: BTreeMap::new(),
            heard: BTreeMap::new(),
            probe: Probe::None,
            sibling: false,
            halo_told: None,
        }
    }

    /// The remote is a device of our identity (the handshake's judgment).
    pub(super) fn set_sibling(&mut self) {
        self.sibling = true;
    }

    pub(super) fn is_sibling(&self) -> bool {
        self.sibling
    }

    /// We tell it the HALO whose digest is `digest`; whether that differs from the last told.
    pub(super) fn note_halo(&mut self, digest: Digest) -> bool {
        self.halo_told.replace(digest) != Some(digest)
    }

    /// The driver reported our dial up: the handshake starts with this session.
    pub(super) fn initiate(&mut self, session: SwarmSession) {
        self.session = session;
    }

    /// The authenticated remote device, once the handshake is done.
    pub(super) fn remote(&self) -> Option<NoiseKey> {
        self.session.remote()
    }

    pub(super) fn is_to(&self, noise: &NoiseKey) -> bool {
        self.remote() == Some(*noise)
    }

    pub(super) fn is_open(&self) -> bool {
        self.session.is_open()
    }

    /// The device we dialled, if we dialled.
    pub(super) fn dialled(&self) -> Option<&PeerInfo> {
        self.dialled.as_ref()
    }

    pub(super) fn is_outbound(&self) -> bool {
        self.dialled.is_some()
    }

    pub(super) fn on_frame(&mut self, bytes: &[u8]) -> Result<SwarmEvent, SwarmError> {
        self.session.on_frame(bytes)
    }

    pub(super) fn seal(&mut self, m: &SwarmMessage) -> Result<Vec<u8>, SwarmError> {
        self.session.seal(m)
    }

    pub(super) fn carries(&self, space: &PublicKey) -> bool {
        self.spaces.contains(space)
    }

    /// The spaces it carries, ascending.
    pub(super) fn spaces(&self) -> impl Iterator<Item = &PublicKey> {
        self.spaces.iter()
    }

    /// Carries `space` from now on; whether it did not before.
    pub(super) fn carry(&mut self, space: PublicKey) -> bool {
        self.heard.remove(&space);
        self.probe = Probe::None;
        self.spaces.insert(space)
    }

    /// Authorises exactly `spaces` (the handshake's judgment).
    pub(super) fn carry_only(&mut self, spaces: BTreeSet<PublicKey>) {
        self.spaces = spaces;
    }

    pub(super) fn probe(&self) -> Probe {
        self.probe
    }

    pub(super) fn set_probe(&mut self, probe: Probe) {
        self.probe = probe;
    }

    /// The remote is heard for `space` (again): a whole summary of it must draw nothing
    /// before the link may close on its account.
    pub(super) fn hear(&mut self, space: PublicKey) {
        self.heard.insert(space, false);
    }

    /// A whole summary of heard `space` drew nothing (no notice owed, nothing to pull).
    /// A second such summary of a settled space settles every space: the remote sends its
    /// summaries of all spaces together (on connecting and each anti-entropy round), so by
    /// then it summarised every space it holds, and one it never summarises (it holds none
    /// of it any more) cannot keep the link open.
    pub(super) fn settle(&mut self, space: PublicKey) {
        if self.heard.insert(space, true) == Some(true) {
            self.heard.values_mut().for_each(|settled| *settled = true);
        }
    }

    /// Nothing carried and no heard space unsettled: the link has nothing more to do.
    pub(super) fn is_spent(&self) -> bool {
        let first = crate::mutants::active(crate::mutants::Mutant::CloseOnFirstHeardSpace);
        self.spaces.is_empty() && (first && self.heard.values().any(|s| *s) || self.heard.values().all(|s| *s))
    }

    /// Stops carrying `space`; whether it did.
    pub(super) fn drop_space(&mut self, space: &PublicKey) -> bool {
        // Carried again later, the space starts afresh: our summary goes out even if it is
        // the one last sent (the remote may have dropped the space too), and theirs is unknown.
        self.sent.remove(space);
        self.known.remove(space);
        self.pushed.remove(space);
        self.spaces.remove(space)
    }

    /// The remote's whole summary of `space` (ascending by feed) arrived: what it holds.
    pub(super) fn note_known(&mut self, space: PublicKey, positions: Vec<FeedPosition>) {
        self.known.insert(space, positions);
    }

    /// A page of a summary arrived: what we knew of the remote is no longer sure, and a push
    /// from a stale view would resend what it holds, so nothing is pushed until the next
    /// whole summary.
    pub(super) fn forget_known(&mut self, space: &PublicKey) {
        self.known.remove(space);
    }

    /// What a push of `space` may start from: `known`, with each feed past what we pushed here.
    pub(super) fn push_base(&self, space: &PublicKey) -> Option<Vec<FeedPosition>> {
        let mut base = self.known.get(space)?.clone();
        for (feed, length) in self.pushed.get(space).into_iter().flatten() {
            match base.binary_search_by(|p| p.feed.cmp(feed)) {
                Ok(i) => base[i].length = base[i].length.max(*length),
                Err(i) => base.insert(i, FeedPosition { feed: *feed, length: *length }),
            }
        }
        Some(base)
    }

    /// `entries` of `space` were pushed here.
    pub(super) fn note_pushed(&mut self, space: PublicKey, entries: &[FeedEntry]) {
        let pushed = self.pushed.entry(space).or_default();
        for e in entries {
            let at = pushed.entry(e.body.feed).or_default();
            *at = (*at).max(e.body.seq.saturating_add(1));
        }
    }

    /// `entries` of `space` went to the remote or came from it: it holds them.
    pub(super) fn note_carried(&mut self, space: &PublicKey, entries: &[FeedEntry]) {
        let Some(known) = self.known.get_mut(space) else { return };
        for e in entries {
            let length = e.body.seq.saturating_add(1);
            match known.binary_search_by(|p| p.feed.cmp(&e.body.feed)) {
                Ok(i) => known[i].length = known[i].length.max(length),
                // Feeds are held as prefixes: holding entry `seq` is holding all before it.
                Err(i) => known.insert(i, FeedPosition { feed: e.body.feed, length }),
            }
        }
    }

    /// Notes `feeds` as the summary of `space` sent now; whether it differs from the last
    /// one (an unchanged summary is repeated only when forced).
    pub(super) fn note_summary(&mut self, space: PublicKey, feeds: &[FeedHead]) -> bool {
        if self.sent.get(&space).is_some_and(|f| f == feeds) {
            return false;
        }
        self.sent.insert(space, feeds.to_vec());
        true
    }

    /// The last summary of `space` sent on this link.
    pub(super) fn summary_sent(&self, space: &PublicKey) -> Option<&[FeedHead]> {
        self.sent.get(space).map(Vec::as_slice)
    }

    /// Notes that our loose credentials of `space` at `digest` go out now; whether they had
    /// not gone out at this digest before.
    pub(super) fn note_loose(&mut self, space: PublicKey, digest: Digest) -> bool {
        self.loose_sent.insert(space, digest) != Some(digest)
    }
}

/// The connections of a Peer, by id, each with its whole state; at most `CONNECTIONS_MAX`.
#[derive(Default)]
pub(super) struct Connections {
    by_id: BTreeMap<ConnId, Connection>,
}

impl Connections {
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(super) fn contains(&self, conn: ConnId) -> bool {
        self.by_id.contains_key(&conn)
    }

    pub(super) fn get(&self, conn: ConnId) -> Option<&Connection> {
        self.by_id.get(&conn)
    }

    pub(super) fn get_mut(&mut self, conn: ConnId) -> Option<&mut Connection> {
        self.by_id.get_mut(&conn)
    }

    pub(super) fn insert(&mut self, conn: ConnId, c: Connection) {
        assert!(self.by_id.len() < super::CONNECTIONS_MAX, "callers check the bound first");
        assert!(self.by_id.insert(conn, c).is_none(), "connection ids are unique");
    }

    pub(super) fn remove(&mut self, conn: ConnId) -> Option<Connection> {
        self.by_id.remove(&conn)
    }

    pub(super) fn link(&self, conn: ConnId) -> Option<&Link> {
        self.by_id.get(&conn).and_then(Connection::link)
    }

    pub(super) fn link_mut(&mut self, conn: ConnId) -> Option<&mut Link> {
        self.by_id.get_mut(&conn).and_then(Connection::link_mut)
    }

    /// Every swarm link, by ascending id.
    pub(super) fn links(&self) -> impl Iterator<Item = (ConnId, &Link)> {
        self.by_id.iter().filter_map(|(c, k)| k.link().map(|l| (*c, l)))
    }

    /// The links that carry `space`, by ascending id.
    pub(super) fn carrying(&self, space: &PublicKey) -> Vec<ConnId> {
        self.links().filter(|(_, l)| l.carries(space)).map(|(c, _)| c).collect()
    }

    /// Is there a swarm link to the device with this Noise key?
    pub(super) fn has_link(&self, noise: &NoiseKey) -> bool {
        self.links().any(|(_, l)| l.is_to(noise))
    }

    /// A connection we dialled to `peer` that is still open, if any.
    pub(super) fn dialled_to(&self, peer: &PublicKey) -> Option<ConnId> {
        self.links().find(|(_, l)| l.dialled().is_some_and(|d| d.peer == *peer)).map(|(c, _)| c)
    }

    /// Connections whose deadline is at or before `now`, ascending.
    pub(super) fn due(&self, now: Timestamp) -> Vec<ConnId> {
        self.by_id.iter().filter(|(_, c)| c.deadline <= now).map(|(id, _)| *id).collect()
    }

    /// The earliest deadline.
    pub(super) fn next_deadline(&self) -> Option<Timestamp> {
        self.by_id.values().map(|c| c.deadline).min()
    }
}
