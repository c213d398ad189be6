//! The Peer endpoint: one sans-IO object per device that a driver (the simulator, the tokio
//! node) runs. It owns the device's `Client` (identity and spaces), its `SignalClient`, the
//! invitations it hosts and accepts, and one state machine per connection: quinn-proto's
//! endpoint/connection split (SPEC.md §9).
//!
//! Connections are the driver's: it opens them when asked (`Output::Connect`), reports them
//! (`Connected`, `Accepted`, `Closed`), and moves frames. Every frame on a peer connection is a
//! `PeerFrame`, which says whether it belongs to an invitation or to a space swarm.
//!
//! - [`durable`]: the log records a driver stores before the outputs that follow them.
//! - `outputs`: the drain: inner machines into outputs, held until their records are durable.
//! - [`redial`]: the devices we dial, with exponential backoff.
//! - `commands`: what a user asks of the Peer.
//! - `conns`: connection lifecycle: dials, dispatch of inbound connections, idle deadlines,
//!   duplicate links.
//! - `links`: swarm links: authorisation per space and replication.
//! - `topics`: the signaling topics the Peer holds, and what it does with signaling events.

mod commands;
mod connection;
mod conns;
mod delegated;
pub mod durable;
mod halo;
mod in_flight;
mod interface;
mod invitations;
mod leave;
mod links;
mod outputs;
pub mod redial;
mod standing;
mod stranger;
mod topics;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientError};
use crate::codec::{self, Canonical, DecodeError};
use crate::credential::Role;
use crate::hash::Digest;
use crate::invitation::guest::{GuestEvent, GuestInput, GuestOutput, InvitationGuest, Joiner};
use crate::invitation::host::{HostEvent, HostInput, HostOutput, HostParams, HostRecord, InvitationHost};
use crate::invitation::wire::AdmissionGrant;
use crate::invitation::{AuthMethod, InvitationCode, Kind, Limits};
use crate::keys::{NoiseKey, PublicKey};
use crate::replication;
use crate::signal::client::{ClientInput, ClientOutput, SignalEvent};
use crate::signal::{PeerInfo, SignalClient, SignalLimits};
use crate::swarm::{SwarmError, SwarmEvent, SwarmMessage, SwarmSession};
use crate::time::Timestamp;

use connection::{Connection, Connections, Link, Probe, Purpose};
pub use durable::{PeerSnapshot, Record, RestoreError};
pub use interface::{Command, CommandError, Event, Input, Output};
use invitations::Invitations;
pub use invitations::{HOSTED_MAX, JOINING_MAX};

/// A connection as the driver names it.
pub type ConnId = u64;

/// One open swarm link, as [`Peer::swarm_links`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmLink {
    pub conn: ConnId,
    pub remote: NoiseKey,
    pub spaces: Vec<PublicKey>,
    /// Of `spaces`, those whose remote summary this link has heard since it carried them: a
    /// local write is pushed to the remote only there (SPEC.md §9.3.3 rule 2).
    pub known: Vec<PublicKey>,
}

/// Connections a peer keeps at most, inbound and outbound together; beyond it, inbound ones
/// are closed at once and dials wait. Bounds the per-connection state (Noise sessions,
/// summaries) that others can make us hold.
pub const CONNECTIONS_MAX: usize = 256;
/// How often every swarm connection re-announces what it holds (anti-entropy).
pub const SYNC_INTERVAL_MS: u64 = 10_000;
/// How long an answer to a summary holds back a second answer of the same feed on that link
/// (SPEC.md §9.3.3 rule 3): three anti-entropy rounds, after which a remote that could not take
/// it (entries it had to drop) gets it again. Long enough that a member claiming to hold
/// nothing gets a space at most twice in its first minute.
pub const ANSWER_RESEND_MS: u64 = 3 * SYNC_INTERVAL_MS;
/// The longest an answer holds back the next one of its feed, after repeated resends that were
/// not taken (each doubles the wait): a member that claims to hold nothing, summary after
/// summary, gets each feed about once per five minutes, what a newly linked device costs.
pub const ANSWER_RESEND_MAX_MS: u64 = 320_000;
/// First wait before redialling a device whose connection (dialled by us) dropped; the wait
/// then doubles up to `RECONNECT_MAX_MS` (see [`redial`]).
pub const RECONNECT_MS: u64 = redial::RECONNECT_MIN_MS;
pub use halo::SIBLING_JOINS_MAX;
pub use leave::LEAVE_HANDOFF_MS;
pub use redial::{RECONNECT_MAX_MS, WANTED_MAX};
pub use topics::{TOPIC_EPOCH_MS, rotation, rotation_due, rotation_modulus};
/// An outbound connection the driver has not reported `Connected` by then counts as failed:
/// a driver whose transport never answers must not hold a slot or a guest forever.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// An inbound connection must send its first frame within this, or it is closed: silent
/// connections would otherwise fill `CONNECTIONS_MAX` for good.
pub const FIRST_FRAME_TIMEOUT_MS: u64 = 10_000;
/// A swarm handshake (three messages) must complete within this after the connection opens.
pub const HANDSHAKE_TIMEOUT_MS: u64 = 10_000;
/// A link to a stranger (a device we authorise for no space and hear for none) waits this long
/// for its first summary before it is refused (SPEC.md §9.2.2 rule 8): an honest device sends
/// one right after the handshake, and the wait is no longer than the handshake's own.
pub const STRANGER_WAIT_MS: u64 = HANDSHAKE_TIMEOUT_MS;
/// A swarm link that receives nothing for this long is closed: an honest peer sends a `Have`
/// per space every `SYNC_INTERVAL_MS`, so three missed rounds mean a dead or useless link.
pub const LINK_IDLE_MS: u64 = 3 * SYNC_INTERVAL_MS;
/// An invitation connection that receives nothing for this long is closed. Twice the
/// invitation's own session idle limit (60 s, SPEC.md §7.6.1), which the host enforces; this
/// is the backstop for a guest waiting on a host that stalls.
pub const INVITATION_IDLE_MS: u64 = 120_000;

/// Every frame on a peer connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerFrame {
    pub version: u8,
    pub body: PeerBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerBody {
    /// An invitation frame (SPEC.md §7.3).
    Invitation(Vec<u8>),
    /// A swarm frame (SPEC.md §9.2).
    Swarm(Vec<u8>),
}

impl Canonical for PeerFrame {
    const ENCODED_SIZE_MAX: usize = crate::invitation::wire::FRAME_SIZE_MAX + 8192;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.version)
    }
}

fn wrap(body: PeerBody) -> Vec<u8> {
    PeerFrame { version: codec::VERSION, body }.to_bytes()
}

/// One device's endpoint.
pub struct Peer {
    client: Client,
    signal: SignalClient,
    limits: Limits,
    /// The invitations we host and accept (`invitations.rs`).
    invitations: Invitations,
    /// Every connection, each with its whole state (`connection.rs`).
    conns: Connections,
    next_conn: ConnId,
    /// Devices we want a swarm connection to, and when to dial them.
    redial: redial::Redial,
    /// The last host dialled per accepted invitation: the next attempt tries the next one on
    /// the topic, so a stale or hostile first peer cannot hold a guest.
    guest_dialled: BTreeMap<[u8; 16], PublicKey>,
    /// Accepted invitations waiting for a peer to appear on their topic.
    guest_waiting: BTreeSet<[u8; 16]>,
    /// Credentials per space at the last change, to tell membership changes from writes.
    credentials_seen: BTreeMap<PublicKey, usize>,
    /// Spaces whose replica shows this identity removed, once told (`Event::Removed`).
    removed: BTreeSet<PublicKey>,
    /// Devices of our identity we saw removed in some space, whose removal we repeat in every
    /// space we hold (`standing.rs`); HALO devices only, so at most `HALO_DEVICES_MAX`.
    disowned_devices: BTreeSet<PublicKey>,
    /// Per space, the devices of members that were removed once and are members again, which
    /// we dial whatever the key order (`standing.rs`), with the count of credentials they were
    /// computed at. Computed once per membership, so a `PeerAppeared` (which a lying signaling
    /// server sends at will) costs a lookup, not a pass over the space's feed admissions. At
    /// most one set per space we hold, each at most the space's feed admissions.
    readmitted: BTreeMap<PublicKey, (usize, BTreeSet<PublicKey>)>,
    /// Spaces being joined from a sibling device (`halo.rs`), at most `SIBLING_JOINS_MAX`.
    sibling_joins: BTreeMap<PublicKey, halo::SiblingJoin>,
    /// Spaces the user left whose replica stays until a member holds our feeds, with the
    /// deadline (`leave.rs`).
    leaving: BTreeMap<PublicKey, Timestamp>,
    /// Answers to summaries still in flight, per remote device and space (`in_flight.rs`). Per
    /// device, not per connection: a member that reconnects would otherwise get every feed in
    /// full again on each new link (hostile seed 157: a reconnect every second or two). Entries
    /// exist only for devices that completed a swarm handshake and asked about a space we hold,
    /// and go once their marks are `ANSWER_RESEND_MAX_MS` old (`anti_entropy`).
    answered: BTreeMap<(NoiseKey, PublicKey), in_flight::InFlight>,
    /// The set of topics to hold may have changed since it was last reconciled.
    topics_dirty: bool,
    /// When the spaces whose topics are held rotate next (`topics::rotation`), if they do.
    rotation_at: Option<Timestamp>,
    next_sync: Timestamp,
    /// Outputs of the input being handled, not yet behind their `Persist`.
    out: VecDeque<Output>,
    /// What the log records emitted so far hold.
    logged: durable::Logged,
    /// Host records of the input being handled, for its `Persist`.
    staged: Vec<HostRecord>,
    /// The last `Persist` emitted, and the last one the driver reported durable.
    persist_seq: u64,
    durable_seq: u64,
    /// Outputs waiting for the `Persist` they follow (its `seq`) to be durable, in order.
    held: VecDeque<(u64, Output)>,
    /// Outputs the driver may act on, in order.
    ready: VecDeque<Output>,
    /// The `Timeout` that ends the next drain.
    timeout: Option<Timestamp>,
    rng: ChaCha20Rng,
}

impl core::fmt::Debug for Peer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Peer")
            .field("identity", &self.client.identity_key())
            .field("spaces", &self.client.space_keys().count())
            .field("connections", &self.conns.len())
            .finish()
    }
}

impl Peer {
    /// A peer for `client`, announcing `addr` (a transport address its driver understands),
    /// with the default signaling limits. Connection ids it picks count up from 2^62 + 1, so
    /// a driver names inbound connections (in `Accepted`) below 2^62.
    pub fn new<R: RngCore + CryptoRng>(client: Client, addr: Vec<u8>, now: Timestamp, rng: &mut R) -> Self {
        Peer::with_signal_limits(client, addr, SignalLimits::default(), now, rng)
    }

    /// `new` with the signaling limits of the server the driver uses: the client holds at
    /// most `topics_per_client_max` topics (SPEC.md §8.5), so a device in more spaces than
    /// that needs a server configured for more. An address over 64 bytes is cut to 64.
    ///
    /// Its first output is `Persist` of its whole state (a `Snapshot` record), so nothing it
    /// says (its announcement to the signaling server included) goes out before its keys are
    /// on disk.
    pub fn with_signal_limits<R: RngCore + CryptoRng>(
        client: Client,
        addr: Vec<u8>,
        signal_limits: SignalLimits,
        now: Timestamp,
        rng: &mut R,
    ) -> Self {
        let mut peer = Peer::build(client, addr, signal_limits, now, rng);
        peer.logged = durable::Logged::of(&peer.client, [], &BTreeMap::new());
        let snapshot = Record::Snapshot(Box::new(peer.logged.snapshot(&peer.client)));
        peer.persist_seq = 1;
        peer.ready.push_back(Output::Persist { seq: 1, records: vec![snapshot] });
        peer.commit();
        peer.timeout = Some(peer.poll_timeout());
        peer
    }

    fn build<R: RngCore + CryptoRng>(
        client: Client,
        addr: Vec<u8>,
        signal_limits: SignalLimits,
        now: Timestamp,
        rng: &mut R,
    ) -> Self {
        // Removals already told before a restart: the replica shows them, the user was told.
        let removed = client
            .space_keys()
            .filter(|k| client.standing(k) == Ok(crate::space::Standing::Removed))
            .copied()
            .collect();
        let mut addr = addr;
        addr.truncate(crate::signal::wire::ADDR_SIZE_MAX);
        let info = PeerInfo { peer: client.identity().device_key(), addr };
        let signal = SignalClient::new(info, signal_limits).expect("the address was cut to its maximum");
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut peer = Peer {
            client,
            signal,
            limits: Limits::default(),
            invitations: Invitations::default(),
            conns: Connections::default(),
            next_conn: 1 << 62,
            redial: redial::Redial::default(),
            guest_dialled: BTreeMap::new(),
            guest_waiting: BTreeSet::new(),
            credentials_seen: BTreeMap::new(),
            removed,
            disowned_devices: BTreeSet::new(),
            readmitted: BTreeMap::new(),
            sibling_joins: BTreeMap::new(),
            leaving: BTreeMap::new(),
            answered: BTreeMap::new(),
            topics_dirty: false,
            rotation_at: None,
            next_sync: now.saturating_add_millis(SYNC_INTERVAL_MS),
            out: VecDeque::new(),
            logged: durable::Logged::default(),
            staged: Vec::new(),
            persist_seq: 0,
            durable_seq: 0,
            held: VecDeque::new(),
            ready: VecDeque::new(),
            timeout: None,
            rng: ChaCha20Rng::from_seed(seed),
        };
        peer.sync_topics(now);
        peer
    }

    /// Resumes after a restart from the device's log: its last `Snapshot` record and every
    /// record after it (the client, verified again, and the hosted invitations). Connections
    /// and accepted invitations in flight do not survive. The log already holds everything
    /// the restored Peer knows, so it emits no `Persist` until something changes.
    pub fn restore<R: RngCore + CryptoRng>(
        log: impl IntoIterator<Item = Record>,
        addr: Vec<u8>,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Self, RestoreError> {
        Peer::restore_with_signal_limits(log, addr, SignalLimits::default(), now, rng)
    }

    /// `restore` with the signaling limits of the server the driver uses (see
    /// `with_signal_limits`).
    pub fn restore_with_signal_limits<R: RngCore + CryptoRng>(
        log: impl IntoIterator<Item = Record>,
        addr: Vec<u8>,
        signal_limits: SignalLimits,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Self, RestoreError> {
        let state = durable::replay(log)?;
        let client = Client::restore(state.client).map_err(RestoreError::Client)?;
        let mut peer = Peer::build(client, addr, signal_limits, now, rng);
        let mut records = Vec::new();
        for r in state.hosts {
            // A record that does not restore (corrupt, or from a newer version) is skipped.
            if let Ok(host) = InvitationHost::restore(r.clone(), peer.limits, &mut peer.rng)
                && peer.invitations.add_host(host).is_ok()
            {
                records.push(r);
            }
        }
        // A leave survives the restart: the space stays out of commands and is handed off.
        peer.leaving = state.leaving.iter().copied().filter(|(k, _)| peer.client.space(k).is_some()).collect();
        peer.logged = durable::Logged::of(&peer.client, records, &peer.leaving);
        // Open invitations, and completed ones until they expire (admitted guests in doubt
        // retry until then), are found on their topics again.
        peer.sync_topics(now);
        peer.timeout = Some(peer.poll_timeout());
        Ok(peer)
    }

    /// The device's whole durable state, as one record: what every `Persist` emitted so far
    /// holds, durable or not. A driver compacts its log by writing `Record::Snapshot` of it
    /// in place of every record before; once that is on disk, every `seq` emitted so far is.
    pub fn snapshot(&self) -> PeerSnapshot {
        self.logged.snapshot(&self.client)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The client, mutably: how the simulator's insider adversary tampers with its own
    /// replica. Only with the `adversary` feature, never in a real node.
    #[cfg(feature = "adversary")]
    pub fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Seals `m` on swarm link `conn` as if the Peer had decided to send it: how the
    /// simulator's insider sends what no honest Peer would (a summary flood). Only with the
    /// `adversary` feature, never in a real node.
    #[cfg(feature = "adversary")]
    pub fn send_swarm(&mut self, conn: ConnId, m: &SwarmMessage, now: Timestamp) {
        self.send(conn, m, now);
        self.commit();
    }

    pub fn hosting(&self) -> impl Iterator<Item = &InvitationHost> {
        self.invitations.hosts()
    }

    pub fn joining(&self) -> impl Iterator<Item = &InvitationGuest> {
        self.invitations.guests()
    }

    /// Open swarm connections: the connection, its remote device and the spaces it carries.
    /// The connection is named so a driver can tell a link it still holds from one its
    /// transport already lost (the simulator's delivery oracle does).
    pub fn swarm_links(&self) -> Vec<SwarmLink> {
        let link = |(conn, l): (ConnId, &Link)| {
            l.remote().map(|remote| SwarmLink {
                conn,
                remote,
                spaces: l.spaces().copied().collect(),
                known: l.spaces().filter(|s| l.push_base(s).is_some()).copied().collect(),
            })
        };
        self.conns.links().filter_map(link).collect()
    }

    /// Connections held, inbound and outbound, of every kind (at most `CONNECTIONS_MAX`).
    /// Where the dial to device `peer` stands (`None`: not a device we dial): for drivers'
    /// diagnostics and tests.
    pub fn dial_state(&self, peer: &PublicKey) -> Option<redial::DialState> {
        self.redial.state(peer)
    }

    /// Outputs waiting for their records to be reported durable: for drivers' diagnostics.
    pub fn held_outputs(&self) -> usize {
        self.held.len()
    }

    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// The signaling topics this device holds (joined, or waiting to be), ascending.
    pub fn signal_topics(&self) -> Vec<Digest> {
        self.signal.topics().copied().collect()
    }

    /// Carries out a user's command at `now`, answering at once whether it was refused; what
    /// it does shows in the outputs (drain `poll_output` after it, as after any input), behind
    /// the records it needs: an invitation's code, above all, is shown once it is stored.
    pub fn command(&mut self, command: &Command, now: Timestamp) -> Result<(), CommandError> {
        let result = self.run_command(command, now);
        self.pump(now);
        self.check_bounds();
        result
    }

    /// Takes one input at `now`. Drain `poll_output` after each: it ends with one `Timeout`.
    pub fn handle_input(&mut self, input: Input<'_>, now: Timestamp) {
        match input {
            Input::Signal(i) => self.signal.handle_input(i, now),
            Input::Connected { conn } => self.on_connected(conn, now),
            // The dial failed: for the connection's owner (a guest, or the redial table)
            // this is the end of a connection that never opened.
            Input::ConnectFailed { conn } => self.on_closed(conn, now),
            Input::Accepted { conn } => self.on_accepted(conn, now),
            Input::Frame { conn, bytes } => self.on_frame(conn, bytes, now),
            Input::Closed { conn } => self.on_closed(conn, now),
            // A `seq` never emitted is the driver's mistake; it cannot release what follows.
            Input::Durable { seq } => self.durable_seq = self.durable_seq.max(seq.min(self.persist_seq)),
            Input::Timeout => self.on_timeout(now),
        }
        self.pump(now);
        self.check_bounds();
    }

    fn check_bounds(&self) {
        assert!(self.conns.len() <= CONNECTIONS_MAX, "connections are bounded");
        assert!(self.out.is_empty() && self.staged.is_empty(), "every output is behind its records");
    }

    /// Outputs in order: those released (`Persist` at once, the others once the records
    /// before them are durable), then one `Timeout` per input, last.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.ready.pop_front().or_else(|| self.timeout.take().map(Output::Timeout))
    }

    /// The earliest deadline of every machine inside: when the driver must deliver `Timeout`.
    pub fn poll_timeout(&self) -> Timestamp {
        let mut at = self.next_sync;
        let mut consider = |t: Option<Timestamp>| {
            if let Some(t) = t {
                at = at.min(t);
            }
        };
        consider(self.signal.poll_timeout());
        for h in self.invitations.hosts() {
            consider(h.poll_timeout());
            consider(self.completed_expiry(h));
        }
        for g in self.invitations.guests() {
            consider(g.poll_timeout());
        }
        consider(self.redial.next_due());
        consider(self.rotation_at);
        consider(self.leaving.values().min().copied());
        consider(self.conns.next_deadline());
        at
    }

    fn on_timeout(&mut self, now: Timestamp) {
        self.topics_dirty = true;
        self.signal.handle_input(ClientInput::Timeout, now);
        let ids: Vec<[u8; 16]> = self.invitations.host_ids();
        for id in ids {
            if let Some(h) = self.invitations.host_mut(&id)
                && h.poll_timeout().is_some_and(|t| t <= now)
            {
                h.handle_input(HostInput::Timeout, now, &mut self.client);
            }
        }
        for g in self.invitations.guests_mut() {
            if g.poll_timeout().is_some_and(|t| t <= now) {
                g.handle_input(GuestInput::Timeout, now);
            }
        }
        self.expire_connections(now);
        self.leave_overdue(now);
        if now >= self.next_sync {
            self.next_sync = now.saturating_add_millis(SYNC_INTERVAL_MS);
            self.anti_entropy(now);
        }
    }
}

pub use crate::space::space_topic;
