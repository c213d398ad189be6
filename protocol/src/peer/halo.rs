//! HALO replication (SPEC.md §9.8): the devices of one identity meet on its HALO topic, link,
//! and tell each other what their HALO holds (devices, contacts, the identity's spaces). A
//! device that lacks one of those spaces asks a sibling to admit two new feeds of its own as
//! the identity's and to send the space's credentials; once they show the admission, it holds
//! the space and replicates it like any member (a device linked by a DEVICE invitation starts
//! with none).

use super::*;
use crate::credential::Credential;
use crate::identity::halo_topic;
use crate::space::Space;
use crate::swarm::{CREDENTIALS_PER_MESSAGE_MAX, HALO_DEVICES_PER_MESSAGE_MAX, HALO_KEYS_PER_MESSAGE_MAX};

/// Joins from siblings in progress at once, at most. Each holds a replica a sibling is
/// filling, as large as its space, so they are few; the rest are asked once these end (the
/// HALO is told again every anti-entropy round).
pub const SIBLING_JOINS_MAX: usize = 8;

/// A space being joined from a sibling: the link it was asked on, our new control feed, and
/// the replica its credentials build.
pub(super) struct SiblingJoin {
    conn: ConnId,
    control: PublicKey,
    replica: Space,
}

impl Peer {
    /// Our HALO topic, once our HALO knows another device of ours (alone, no one is there).
    pub(super) fn halo_topic_wanted(&self) -> Option<Digest> {
        let siblings = self.client.halo().devices().nth(1).is_some();
        let keeps = crate::mutants::active(crate::mutants::Mutant::RemovedKeepsDialling);
        (siblings && (keeps || !self.client.disowned())).then(|| halo_topic(&self.client.identity_key()))
    }

    /// Whether `topic` is our HALO topic and we dial for it.
    pub(super) fn is_halo_topic(&self, topic: &Digest) -> bool {
        self.halo_topic_wanted() == Some(*topic)
    }

    /// Tells every sibling link our HALO, where it changed since it was last told (`force`:
    /// whether or not): the anti-entropy round forces it, so a join a sibling could not start
    /// (`SIBLING_JOINS_MAX`) starts later.
    pub(super) fn tell_halo(&mut self, force: bool, now: Timestamp) {
        let siblings: Vec<ConnId> =
            self.conns.links().filter(|(_, l)| l.is_open() && l.is_sibling()).map(|(c, _)| c).collect();
        if siblings.is_empty() {
            return;
        }
        let messages = self.halo_messages();
        let digest = halo_digest(&messages);
        for conn in siblings {
            let Some(l) = self.conns.link_mut(conn) else { continue };
            if l.note_halo(digest) || force {
                for m in &messages {
                    self.send(conn, m, now);
                }
            }
        }
    }

    /// Our HALO as `Halo` messages, each within its bounds: all our devices, contacts, and the
    /// spaces in which we are a current member and have not begun to leave.
    fn halo_messages(&self) -> Vec<SwarmMessage> {
        let devices: Vec<Credential> = self.client.halo().devices().map(|(_, c)| c.clone()).collect();
        let contacts: Vec<PublicKey> = self.client.contacts().iter().copied().collect();
        let spaces: Vec<PublicKey> = self.client.halo_spaces().into_iter().filter(|s| !self.is_leaving(s)).collect();
        let pages = [
            devices.len().div_ceil(HALO_DEVICES_PER_MESSAGE_MAX),
            contacts.len().div_ceil(HALO_KEYS_PER_MESSAGE_MAX),
            spaces.len().div_ceil(HALO_KEYS_PER_MESSAGE_MAX),
        ];
        let pages = pages.into_iter().max().unwrap_or(0).max(1);
        let page = |v: &[PublicKey], i: usize| {
            v.iter().skip(i * HALO_KEYS_PER_MESSAGE_MAX).take(HALO_KEYS_PER_MESSAGE_MAX).copied().collect()
        };
        (0..pages)
            .map(|i| SwarmMessage::Halo {
                devices: devices
                    .iter()
                    .skip(i * HALO_DEVICES_PER_MESSAGE_MAX)
                    .take(HALO_DEVICES_PER_MESSAGE_MAX)
                    .cloned()
                    .collect(),
                contacts: page(&contacts, i),
                spaces: page(&spaces, i),
            })
            .collect()
    }

    /// A `Halo` or `HaloJoin` on link `conn`: heeded only from a sibling (another device of
    /// our identity as our HALO knows it); from anyone else it is ignored.
    pub(super) fn halo_message(&mut self, conn: ConnId, m: SwarmMessage, now: Timestamp) {
        let Some(remote) = self.conns.link(conn).and_then(Link::remote) else { return };
        let Some(device) = self.client.sibling(&remote) else { return };
        match m {
            SwarmMessage::Halo { devices, contacts, spaces } => {
                if self.client.merge_halo(devices, &contacts) {
                    self.topics_dirty = true;
                }
                for space in spaces {
                    self.ask_sibling(conn, space, now);
                }
            }
            SwarmMessage::HaloJoin { space, control_feed, data_feed } => {
                match self.client.admit_sibling(&space, (device, remote), control_feed, data_feed, now) {
                    Ok(issued) => {
                        if issued {
                            self.space_changed(space, now);
                        }
                        self.send_space_credentials(conn, space, now);
                    }
                    Err(_) => self.send(conn, &SwarmMessage::Refused { space }, now),
                }
            }
            _ => {}
        }
    }

    /// Every credential of `space` we hold, in our order (causal), to a sibling joining it.
    fn send_space_credentials(&mut self, conn: ConnId, space: PublicKey, now: Timestamp) {
        let Some(sp) = self.client.space(&space) else { return };
        let all: Vec<Credential> = sp.membership().credentials().cloned().collect();
        for chunk in all.chunks(CREDENTIALS_PER_MESSAGE_MAX) {
            self.send(conn, &SwarmMessage::Credentials { space, credentials: chunk.to_vec() }, now);
        }
    }

    /// A sibling on `conn` lists `space`: unless we hold it, left it, or join it already, ask
    /// the sibling to admit two new feeds of ours (their keys are durable before the ask goes,
    /// since it waits behind their `Joining` record).
    fn ask_sibling(&mut self, conn: ConnId, space: PublicKey, now: Timestamp) {
        let busy = self.sibling_joins.len() >= SIBLING_JOINS_MAX;
        if busy || self.client.space(&space).is_some() || self.client.has_left(&space) {
            return;
        }
        if self.sibling_joins.contains_key(&space) || crate::mutants::active(crate::mutants::Mutant::HaloNoJoin) {
            return;
        }
        let request = self.client.join_request(&mut self.rng);
        let (control_feed, data_feed) = (request.control_feed, request.data_feed);
        self.sibling_joins.insert(space, SiblingJoin { conn, control: control_feed, replica: Space::new(space) });
        self.send(conn, &SwarmMessage::HaloJoin { space, control_feed, data_feed }, now);
    }

    /// Whether `m` on `conn` is about a space we join from that sibling: its credentials, its
    /// refusal, or (since admitting us made us a member device in its replica) its summary.
    pub(super) fn answers_sibling_join(&self, conn: ConnId, m: &SwarmMessage) -> bool {
        m.space().is_some_and(|space| self.sibling_joins.get(&space).is_some_and(|j| j.conn == conn))
    }

    /// A message from the sibling about a space we join from it: credentials fill the replica,
    /// which is stored once it shows our feed admitted and us a member; a refusal ends the
    /// join. Anything else (its summary, sent as it admitted us, before the credentials) waits:
    /// once we hold the space our own summary draws what we lack, so we need not refuse it.
    pub(super) fn sibling_join_answer(&mut self, m: SwarmMessage, now: Timestamp) {
        match m {
            SwarmMessage::Credentials { space, credentials } => {
                let me = self.client.identity_key();
                let Some(join) = self.sibling_joins.get_mut(&space) else { return };
                join.replica.insert_credentials(credentials);
                let m = join.replica.membership();
                let admitted = m.feed(&join.control).is_some_and(|f| f.identity == me) && m.is_member(&me);
                if !admitted {
                    return;
                }
                let join = self.sibling_joins.remove(&space).expect("held above");
                if self.client.accept_sibling_replica(&space, join.replica).is_ok() {
                    self.event(Event::Joined { space });
                    self.topics_dirty = true;
                    self.space_changed(space, now);
                }
            }
            SwarmMessage::Refused { space } => {
                if let Some(join) = self.sibling_joins.remove(&space) {
                    self.client.forget_join(&join.control);
                }
            }
            _ => {}
        }
    }

    /// Link `conn` closed: the joins asked on it end (they are asked again on the next link).
    pub(super) fn sibling_link_closed(&mut self, conn: ConnId) {
        let ended: Vec<PublicKey> =
            self.sibling_joins.iter().filter(|(_, j)| j.conn == conn).map(|(s, _)| *s).collect();
        for space in ended {
            if let Some(join) = self.sibling_joins.remove(&space) {
                self.client.forget_join(&join.control);
            }
        }
    }
}

/// A digest of our HALO as told, so an unchanged one is not told again. Local only (it never
/// leaves the device), so it needs no domain tag.
fn halo_digest(messages: &[SwarmMessage]) -> Digest {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for m in messages {
        h.update(m.to_bytes());
    }
    Digest(h.finalize().into())
}
