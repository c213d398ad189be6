//! Durability as an output (SPEC.md §9.5): what a device must remember, as records a driver
//! appends to a log, and how a log (a snapshot, then records) becomes a device again.
//!
//! After every input the Peer compares its state with what its records already hold
//! (`Logged`) and emits the difference as one `Output::Persist { seq, records }` ahead of
//! that input's other outputs, which it withholds until the driver reports `Durable { seq }`.
//! So no entry the device signed, no credential it issued and no answer of an invitation host
//! leaves the device before the record that makes it survive a crash: a restarted device
//! never signs a second entry at a position it already published.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientSnapshot, SpaceSnapshot};
use crate::codec::{self, Canonical, DecodeError};
use crate::credential::{Credential, CredentialId};
use crate::feed::{Equivocation, FeedEntry};
use crate::invitation::host::HostRecord;
use crate::keys::PublicKey;
use crate::time::Timestamp;

/// One record of a device's log. Every record but `Snapshot` applies to the state before it;
/// every kind holds secrets or what was signed with them, so a driver stores the log with the
/// protection it gives the device's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// Everything: the base the later records apply to. The Peer emits one when it is created
    /// and when a DEVICE grant gives it another identity; a driver compacting its log writes
    /// `Peer::snapshot()` as one and drops every record before it.
    Snapshot(Box<PeerSnapshot>),
    /// A space created or joined: its keys and everything held of it.
    Space(Box<SpaceSnapshot>),
    /// The device dropped its replica of a space.
    Left {
        space: PublicKey,
    },
    /// Credentials stored for a space (issued here, or received).
    Credentials {
        space: PublicKey,
        credentials: Vec<Credential>,
    },
    /// Feed entries stored for a space: signed here, or accepted from others.
    Entries {
        space: PublicKey,
        entries: Vec<FeedEntry>,
    },
    /// Feed secrets prepared for a join in progress.
    Joining {
        control_secret: [u8; 32],
        data_secret: [u8; 32],
    },
    Contact(PublicKey),
    /// An `AuthorizedDevice` credential of our identity.
    Device(Credential),
    /// A hosted invitation's record (SPEC.md §7.6.4), replacing the one before it.
    Host(Box<HostRecord>),
    /// The user left a space whose replica the device still holds to hand its feeds off, until
    /// `until` at the latest (SPEC.md §9.4.4); a restart keeps the leave. `Left` ends it.
    Leaving {
        space: PublicKey,
        until: Timestamp,
    },
    /// Proven forks of feeds of a space (SPEC.md §5.6): each feed is cut at its lowest one, and
    /// a restored replica cuts it again before it takes back the entries logged earlier.
    Forks {
        space: PublicKey,
        evidence: Vec<Equivocation>,
    },
}

/// The whole durable state of a device: its client and its hosted invitations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSnapshot {
    pub version: u8,
    pub client: ClientSnapshot,
    /// The last record of each hosted invitation, by code payload.
    pub hosts: Vec<HostRecord>,
    /// Spaces the user left that the device still hands off, and until when: sorted by key,
    /// each a space the client holds.
    pub leaving: Vec<(PublicKey, Timestamp)>,
}

impl Canonical for Record {
    const ENCODED_SIZE_MAX: usize = ClientSnapshot::ENCODED_SIZE_MAX;

    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            Record::Snapshot(s) => s.validate(),
            Record::Host(r) => r.validate(),
            _ => Ok(()),
        }
    }
}

impl Canonical for PeerSnapshot {
    const ENCODED_SIZE_MAX: usize = ClientSnapshot::ENCODED_SIZE_MAX;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.version)?;
        self.client.validate()?;
        let keys: Vec<PublicKey> = self.leaving.iter().map(|(k, _)| *k).collect();
        if !codec::strictly_ascending(&keys) || !keys.iter().all(|k| self.client.spaces.iter().any(|s| s.key == *k)) {
            return Err(DecodeError::Invalid("leaving must be sorted spaces the snapshot holds"));
        }
        self.hosts.iter().try_for_each(Canonical::validate)
    }
}

/// Why a log does not make a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreError {
    /// No `Snapshot` record, or another record before the first one: the log lost its base.
    NoSnapshot,
    /// The snapshot's keys do not make an identity (SPEC.md §9.5.1).
    Client(crate::client::ClientError),
}

impl core::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RestoreError::NoSnapshot => f.write_str("the log holds no snapshot to start from"),
            RestoreError::Client(e) => write!(f, "the snapshot does not restore: {e}"),
        }
    }
}

impl std::error::Error for RestoreError {}

/// Replays a log: the last `Snapshot`, then every record after it, in order. Nothing is
/// verified here; `Client::restore` verifies everything again.
pub fn replay(log: impl IntoIterator<Item = Record>) -> Result<PeerSnapshot, RestoreError> {
    let mut base: Option<PeerSnapshot> = None;
    for record in log {
        match (record, base.as_mut()) {
            (Record::Snapshot(s), _) => base = Some(*s),
            (_, None) => return Err(RestoreError::NoSnapshot),
            (r, Some(b)) => apply(b, r),
        }
    }
    base.ok_or(RestoreError::NoSnapshot)
}

fn apply(base: &mut PeerSnapshot, record: Record) {
    let client = &mut base.client;
    let space_of = |spaces: &mut Vec<SpaceSnapshot>, key: PublicKey| spaces.iter_mut().position(|s| s.key == key);
    match record {
        Record::Snapshot(_) => unreachable!("a snapshot replaces the base"),
        Record::Space(s) => {
            client.spaces.retain(|held| held.key != s.key);
            client.joining.retain(|(c, _)| *c != s.control_secret);
            client.left.retain(|k| *k != s.key);
            let at = client.spaces.partition_point(|held| held.key < s.key);
            client.spaces.insert(at, *s);
        }
        Record::Left { space } => {
            client.spaces.retain(|s| s.key != space);
            if let Err(at) = client.left.binary_search(&space) {
                client.left.insert(at, space);
            }
            base.leaving.retain(|(k, _)| *k != space);
        }
        Record::Leaving { space, until } => {
            if client.spaces.iter().any(|s| s.key == space) {
                base.leaving.retain(|(k, _)| *k != space);
                let at = base.leaving.partition_point(|(k, _)| *k < space);
                base.leaving.insert(at, (space, until));
            }
        }
        Record::Credentials { space, credentials } => {
            if let Some(i) = space_of(&mut client.spaces, space) {
                client.spaces[i].credentials.extend(credentials);
            }
        }
        Record::Entries { space, entries } => {
            if let Some(i) = space_of(&mut client.spaces, space) {
                client.spaces[i].entries.extend(entries);
            }
        }
        Record::Forks { space, evidence } => {
            if let Some(i) = space_of(&mut client.spaces, space) {
                client.spaces[i].forks.extend(evidence);
            }
        }
        Record::Joining { control_secret, data_secret } => client.joining.push((control_secret, data_secret)),
        Record::Contact(k) => {
            if let Err(at) = client.contacts.binary_search(&k) {
                client.contacts.insert(at, k);
            }
        }
        Record::Device(c) => client.devices.push(c),
        Record::Host(r) => {
            base.hosts.retain(|h| h.code != r.code);
            base.hosts.push(*r);
        }
    }
}

/// What the records emitted so far hold, so the next `Persist` carries only what is new.
#[derive(Debug, Clone, Default)]
pub(super) struct Logged {
    /// Identity and device key: another pair means another client (a DEVICE grant).
    identity: Option<(PublicKey, PublicKey)>,
    spaces: BTreeMap<PublicKey, LoggedSpace>,
    joining: BTreeSet<PublicKey>,
    contacts: BTreeSet<PublicKey>,
    devices: BTreeSet<CredentialId>,
    /// The last record of each hosted invitation, by invitation id.
    hosts: BTreeMap<[u8; 16], HostRecord>,
    /// Spaces being handed off, as logged.
    leaving: BTreeMap<PublicKey, Timestamp>,
}

#[derive(Debug, Clone, Default)]
struct LoggedSpace {
    /// Our control feed in the space: another one means the space was left and joined again.
    control: Option<PublicKey>,
    credentials: BTreeSet<CredentialId>,
    /// Entries logged per feed. Feeds grow, except where a fork cuts them (then no entry
    /// at or past the cut is ever taken again).
    feeds: BTreeMap<PublicKey, u64>,
    /// Forks logged: (feed, sequence number of the cut).
    forks: BTreeSet<(PublicKey, u64)>,
}

impl Logged {
    /// The state of a restored device: its log holds exactly this.
    pub(super) fn of(
        client: &Client,
        hosts: impl IntoIterator<Item = HostRecord>,
        leaving: &BTreeMap<PublicKey, Timestamp>,
    ) -> Self {
        let mut logged = Logged::default();
        let _ = logged.diff(client, leaving);
        for r in hosts {
            let _ = logged.host(r);
        }
        logged
    }

    /// Everything the log holds, as one snapshot.
    pub(super) fn snapshot(&self, client: &Client) -> PeerSnapshot {
        let hosts = self.hosts.values().cloned().collect();
        let leaving = self.leaving.iter().map(|(k, t)| (*k, *t)).collect();
        PeerSnapshot { version: codec::VERSION, client: client.snapshot(), hosts, leaving }
    }

    /// The records that bring the log up to `client` and the host records of this input,
    /// and marks them logged.
    pub(super) fn records(
        &mut self,
        client: &Client,
        hosts: Vec<HostRecord>,
        leaving: &BTreeMap<PublicKey, Timestamp>,
    ) -> Vec<Record> {
        let ours = (client.identity_key(), client.identity().device_key());
        if self.identity.is_some_and(|i| i != ours) {
            let kept: Vec<HostRecord> = std::mem::take(&mut self.hosts).into_values().chain(hosts).collect();
            *self = Logged::of(client, kept, leaving);
            return vec![Record::Snapshot(Box::new(self.snapshot(client)))];
        }
        let mut out = self.diff(client, leaving);
        out.extend(hosts.into_iter().filter_map(|r| self.host(r)));
        out
    }

    /// A hosted invitation the Peer let go (ended and expired): the next snapshot leaves its
    /// record out. Records already in the log restore it ended, and it goes again.
    pub(super) fn forget_host(&mut self, id: &[u8; 16]) {
        self.hosts.remove(id);
    }

    fn host(&mut self, r: HostRecord) -> Option<Record> {
        let id = crate::invitation::InvitationCode::from_payload(&r.code).ok()?.id;
        if self.hosts.get(&id) == Some(&r) {
            return None;
        }
        self.hosts.insert(id, r.clone());
        Some(Record::Host(Box::new(r)))
    }

    fn diff(&mut self, client: &Client, leaving: &BTreeMap<PublicKey, Timestamp>) -> Vec<Record> {
        self.identity = Some((client.identity_key(), client.identity().device_key()));
        let mut out = Vec::new();
        for (control, (c, d)) in client.joining_secrets() {
            if self.joining.insert(control) {
                out.push(Record::Joining { control_secret: c, data_secret: d });
            }
        }
        self.joining.retain(|k| client.joining_secrets().any(|(c, _)| c == *k));
        let left: Vec<PublicKey> = self.spaces.keys().filter(|k| client.space(k).is_none()).copied().collect();
        for space in left {
            self.spaces.remove(&space);
            self.leaving.remove(&space);
            out.push(Record::Left { space });
        }
        let keys: Vec<PublicKey> = client.space_keys().copied().collect();
        for key in keys {
            self.space(client, key, &mut out);
        }
        for (space, until) in leaving {
            if client.space(space).is_some() && self.leaving.insert(*space, *until) != Some(*until) {
                out.push(Record::Leaving { space: *space, until: *until });
            }
        }
        for k in client.contacts() {
            if self.contacts.insert(*k) {
                out.push(Record::Contact(*k));
            }
        }
        for (_, c) in client.halo().devices() {
            if self.devices.insert(c.id()) {
                out.push(Record::Device(c.clone()));
            }
        }
        out
    }

    fn space(&mut self, client: &Client, key: PublicKey, out: &mut Vec<Record>) {
        let space = client.space(&key).expect("a key of the client's spaces");
        let control = client.own_control_feed(&key);
        let mark = self.spaces.entry(key).or_default();
        if mark.control != control {
            let snapshot = client.space_snapshot(&key).expect("a key of the client's spaces");
            if mark.control.is_some() {
                out.push(Record::Left { space: key });
            }
            *mark = LoggedSpace {
                control,
                credentials: snapshot.credentials.iter().map(Credential::id).collect(),
                feeds: space.feeds().map(|f| (f.key(), f.len())).collect(),
                forks: space.forks().map(|e| (e.first.body.feed, e.first.body.seq)).collect(),
            };
            out.push(Record::Space(Box::new(snapshot)));
            return;
        }
        let membership = space.membership();
        if membership.len() != mark.credentials.len() {
            let new: Vec<Credential> =
                membership.credentials().filter(|c| !mark.credentials.contains(&c.id())).cloned().collect();
            mark.credentials.extend(new.iter().map(Credential::id));
            if !new.is_empty() {
                out.push(Record::Credentials { space: key, credentials: new });
            }
        }
        let forks: Vec<Equivocation> =
            space.forks().filter(|e| !mark.forks.contains(&(e.first.body.feed, e.first.body.seq))).cloned().collect();
        if !forks.is_empty() {
            mark.forks.extend(forks.iter().map(|e| (e.first.body.feed, e.first.body.seq)));
            out.push(Record::Forks { space: key, evidence: forks });
        }
        let mut entries = Vec::new();
        for feed in space.feeds() {
            let logged = mark.feeds.entry(feed.key()).or_default();
            *logged = (*logged).min(feed.len());
            if feed.len() > *logged {
                entries.extend(feed.entries()[*logged as usize..].iter().cloned());
                *logged = feed.len();
            }
        }
        if !entries.is_empty() {
            out.push(Record::Entries { space: key, entries });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn a_log_of_records_replays_to_the_snapshot_of_the_state_it_recorded() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let now = crate::Timestamp::from_millis(1_000);
        let mut client = Client::create_identity(&mut rng, now);
        let mut logged = Logged::default();
        let mut log = vec![Record::Snapshot(Box::new(logged.snapshot(&client)))];
        let _ = logged.records(&client, Vec::new(), &BTreeMap::new());
        let space = client.create_space(&mut rng, now);
        log.extend(logged.records(&client, Vec::new(), &BTreeMap::new()));
        let _ = client.join_request(&mut rng);
        client.create_item(&mut rng, &space, "note", Vec::new()).expect("the owner writes");
        log.extend(logged.records(&client, Vec::new(), &BTreeMap::new()));
        assert!(logged.records(&client, Vec::new(), &BTreeMap::new()).is_empty(), "nothing new, nothing logged");
        let bytes: Vec<Vec<u8>> = log.iter().map(Canonical::to_bytes).collect();
        let decoded = bytes.iter().map(|b| Record::from_bytes(b).expect("records decode strictly"));
        let replayed = replay(decoded).expect("the log starts with a snapshot");
        assert_eq!(replayed.client.joining.len(), 1);
        let restored = Client::restore(replayed.client).expect("the replayed snapshot restores");
        assert_eq!(restored.spaces(), client.spaces());
        assert_eq!(restored.items(&space), client.items(&space));
        assert_eq!(restored.members(&space), client.members(&space));
        assert_eq!(replay(log.into_iter().skip(1)), Err(RestoreError::NoSnapshot));
    }
}
