//! The Peer endpoint: one sans-IO object per device that a driver (the simulator, the tokio
//! node) runs. It owns the device's `Client` (identity and spaces), its `SignalClient`, the
//! invitations it hosts and accepts, and one state machine per connection: quinn-proto's
//! endpoint/connection split (SPEC.md §9).
//!
//! Connections are the driver's: it opens them when asked (`Output::Connect`), reports them
//! (`Connected`, `Accepted`, `Closed`), and moves frames. Every frame on a peer connection is a
//! `PeerFrame`, which says whether it belongs to an invitation or to a space swarm.

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
use crate::invitation::wire::{Frame as InvitationFrame, FrameBody};
use crate::invitation::{AuthMethod, InvitationCode, Kind, Limits, Pin, State};
use crate::item::Op;
use crate::keys::{NoiseKey, PublicKey};
use crate::replication;
use crate::signal::client::{ClientInput, ClientOutput, SignalEvent};
use crate::signal::{PeerInfo, SignalClient, SignalLimits};
use crate::swarm::{SwarmError, SwarmEvent, SwarmMessage, SwarmSession};
use crate::time::Timestamp;

/// A connection as the driver names it.
pub type ConnId = u64;

/// Connections a peer keeps at most; beyond it, inbound ones are closed at once.
pub const CONNECTIONS_MAX: usize = 256;
/// How often every swarm connection re-announces what it holds (anti-entropy).
pub const SYNC_INTERVAL_MS: u64 = 10_000;
/// Wait before reconnecting to a member whose connection dropped.
pub const RECONNECT_MS: u64 = 1_000;

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

/// What a user (or a test, or the simulator's workload) asks of the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateSpace,
    /// Host an invitation to `space` (or, with `space: None`, a device invitation).
    CreateInvitation {
        space: Option<PublicKey>,
        auth: AuthMethod,
        role: Role,
        guest: Option<PublicKey>,
        lifetime_ms: u64,
        use_limit: u32,
    },
    CancelInvitation {
        id: [u8; 16],
    },
    AcceptInvitation {
        code: InvitationCode,
    },
    Authenticate {
        id: [u8; 16],
        pin: Pin,
    },
    CancelAccept {
        id: [u8; 16],
    },
    SetRole {
        space: PublicKey,
        member: PublicKey,
        role: Role,
    },
    Write {
        space: PublicKey,
        ops: Vec<Op>,
    },
    Leave {
        space: PublicKey,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    Command(&'a Command),
    /// The connection to the signaling server (the driver keeps one).
    Signal(ClientInput<'a>),
    /// An outbound connection we asked for is up.
    Connected {
        conn: ConnId,
    },
    /// An outbound connection could not be made.
    ConnectFailed {
        conn: ConnId,
    },
    /// Someone connected to us; the driver chose `conn`.
    Accepted {
        conn: ConnId,
    },
    Frame {
        conn: ConnId,
        bytes: &'a [u8],
    },
    Closed {
        conn: ConnId,
    },
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    SpaceCreated {
        space: PublicKey,
    },
    InvitationCreated {
        id: [u8; 16],
        code: InvitationCode,
        pin: Option<Pin>,
    },
    /// A hosted invitation's state or outcome changed.
    Hosting {
        id: [u8; 16],
        event: HostEvent,
    },
    /// An accepted invitation's state or outcome changed.
    Joining {
        id: [u8; 16],
        event: GuestEvent,
    },
    /// We joined a space through an invitation.
    Joined {
        space: PublicKey,
    },
    /// This device now belongs to `identity` (a DEVICE invitation succeeded).
    Linked {
        identity: PublicKey,
    },
    /// New credentials or entries arrived for a space.
    Changed {
        space: PublicKey,
    },
    /// A swarm connection was refused or closed for lack of membership.
    Refused {
        conn: ConnId,
        remote: Option<NoiseKey>,
    },
    CommandFailed {
        command: Command,
        error: ClientError,
    },
    Signal(SignalEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A frame for the signaling server.
    SignalTransmit {
        bytes: Vec<u8>,
    },
    /// Open a connection to `addr` and report it as `conn`.
    Connect {
        conn: ConnId,
        addr: Vec<u8>,
    },
    Transmit {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Close {
        conn: ConnId,
    },
    /// An invitation record to store before acting on any later output.
    Persist(HostRecord),
    Event(Event),
    Timeout(Timestamp),
}

enum Conn {
    /// Inbound, no frame yet.
    Fresh,
    /// Outbound for an invitation we accept.
    Guest {
        id: [u8; 16],
    },
    /// Inbound for an invitation we host.
    Host {
        id: [u8; 16],
    },
    Swarm(Swarm),
}

struct Swarm {
    session: SwarmSession,
    /// The device we dialled (outbound), for reconnecting.
    dialled: Option<PeerInfo>,
    /// Spaces this member device may replicate with us.
    spaces: BTreeSet<PublicKey>,
    /// The last summary we sent, per space, so an unchanged one is not repeated.
    sent: BTreeMap<PublicKey, Vec<crate::credential::FeedPosition>>,
}

/// One device's endpoint.
pub struct Peer {
    client: Client,
    signal: SignalClient,
    limits: Limits,
    hosting: BTreeMap<[u8; 16], InvitationHost>,
    joining: BTreeMap<[u8; 16], InvitationGuest>,
    conns: BTreeMap<ConnId, Conn>,
    next_conn: ConnId,
    /// Devices we want a swarm connection to, with when to try next.
    wanted: BTreeMap<PublicKey, (PeerInfo, Timestamp)>,
    next_sync: Timestamp,
    out: VecDeque<Output>,
    rng: ChaCha20Rng,
}

impl core::fmt::Debug for Peer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Peer")
            .field("identity", &self.client.identity_key())
            .field("spaces", &self.client.spaces().len())
            .field("connections", &self.conns.len())
            .finish()
    }
}

impl Peer {
    /// A peer for `client`, announcing `addr` (a transport address its driver understands).
    /// Connection ids it picks are odd/even by `conn_parity` so they never collide with the
    /// driver's ids for inbound connections (the driver passes its own ids in `Accepted`).
    pub fn new<R: RngCore + CryptoRng>(client: Client, addr: Vec<u8>, now: Timestamp, rng: &mut R) -> Self {
        let info = PeerInfo { peer: client.identity().device_key(), addr };
        let signal = SignalClient::new(info, SignalLimits::default()).expect("a short address");
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut peer = Peer {
            client,
            signal,
            limits: Limits::default(),
            hosting: BTreeMap::new(),
            joining: BTreeMap::new(),
            conns: BTreeMap::new(),
            next_conn: 1 << 62,
            wanted: BTreeMap::new(),
            next_sync: now.saturating_add_millis(SYNC_INTERVAL_MS),
            out: VecDeque::new(),
            rng: ChaCha20Rng::from_seed(seed),
        };
        let topics: Vec<Digest> = peer.client.spaces().iter().map(|s| space_topic(&s.key)).collect();
        for t in topics {
            let _ = peer.signal.join(t);
        }
        peer
    }

    /// Resumes after a restart: the client from its snapshot and the hosted invitations from
    /// their records. Connections and accepted invitations in flight do not survive.
    pub fn restore<R: RngCore + CryptoRng>(
        client: Client,
        records: Vec<HostRecord>,
        addr: Vec<u8>,
        now: Timestamp,
        rng: &mut R,
    ) -> Self {
        let mut peer = Peer::new(client, addr, now, rng);
        for r in records {
            if let Ok(host) = InvitationHost::restore(r, peer.limits, &mut peer.rng) {
                let code = host.code();
                if !host.state().is_terminal() || host.state() == State::Success {
                    let _ = peer.signal.join(code.topic());
                }
                peer.hosting.insert(code.id, host);
            }
        }
        peer
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

    pub fn hosting(&self) -> impl Iterator<Item = &InvitationHost> {
        self.hosting.values()
    }

    pub fn joining(&self) -> impl Iterator<Item = &InvitationGuest> {
        self.joining.values()
    }

    /// Remote devices of open swarm connections, with the spaces they replicate.
    pub fn swarm_links(&self) -> Vec<(NoiseKey, Vec<PublicKey>)> {
        self.conns
            .values()
            .filter_map(|c| match c {
                Conn::Swarm(s) => s.session.remote().map(|r| (r, s.spaces.iter().copied().collect())),
                _ => None,
            })
            .collect()
    }

    pub fn handle_input(&mut self, input: Input<'_>, now: Timestamp) {
        match input {
            Input::Command(c) => self.command(c, now),
            Input::Signal(i) => self.signal.handle_input(i, now),
            Input::Connected { conn } => self.on_connected(conn, now),
            Input::ConnectFailed { conn } => {
                // A guest never had this session: tell it the dial failed, so it retries.
                // Anything else (a swarm dial) goes through the usual close path, which
                // schedules the redial.
                if let Some(Conn::Guest { id }) = self.conns.get(&conn) {
                    let id = *id;
                    self.conns.remove(&conn);
                    if let Some(g) = self.joining.get_mut(&id) {
                        g.handle_input(GuestInput::ConnectFailed, now);
                    }
                } else {
                    self.on_closed(conn, now);
                }
            }
            Input::Accepted { conn } => {
                if self.conns.len() >= CONNECTIONS_MAX {
                    self.out.push_back(Output::Close { conn });
                } else {
                    self.conns.insert(conn, Conn::Fresh);
                }
            }
            Input::Frame { conn, bytes } => self.on_frame(conn, bytes, now),
            Input::Closed { conn } => self.on_closed(conn, now),
            Input::Timeout => self.on_timeout(now),
        }
        self.pump(now);
    }

    /// Outputs in order; `Timeout` last, when nothing else is pending.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let mut at = Some(self.next_sync);
        let mut consider = |t: Option<Timestamp>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        consider(self.signal.poll_timeout());
        for h in self.hosting.values() {
            consider(h.poll_timeout());
        }
        for g in self.joining.values() {
            consider(g.poll_timeout());
        }
        for (_, t) in self.wanted.values() {
            consider(Some(*t));
        }
        at
    }

    // ----- commands -----

    fn command(&mut self, c: &Command, now: Timestamp) {
        let result = match c {
            Command::CreateSpace => {
                let space = self.client.create_space(&mut self.rng, now);
                let _ = self.signal.join(space_topic(&space));
                self.event(Event::SpaceCreated { space });
                Ok(())
            }
            Command::CreateInvitation { space, auth, role, guest, lifetime_ms, use_limit } => {
                self.create_invitation(*space, *auth, *role, *guest, *lifetime_ms, *use_limit, now)
            }
            Command::CancelInvitation { id } => {
                if let Some(h) = self.hosting.get_mut(id) {
                    h.handle_input(HostInput::Cancel, now, &mut self.client);
                }
                Ok(())
            }
            Command::AcceptInvitation { code } => self.accept(*code, now),
            Command::Authenticate { id, pin } => {
                if let Some(g) = self.joining.get_mut(id) {
                    g.handle_input(GuestInput::Authenticate(pin.clone()), now);
                }
                Ok(())
            }
            Command::CancelAccept { id } => {
                if let Some(g) = self.joining.get_mut(id) {
                    g.handle_input(GuestInput::Cancel, now);
                }
                Ok(())
            }
            Command::SetRole { space, member, role } => {
                self.client.set_role(space, *member, *role, now).map(|_| self.space_changed(*space, now))
            }
            Command::Write { space, ops } => {
                self.client.write(space, ops.clone()).map(|_| self.space_changed(*space, now))
            }
            Command::Leave { space } => {
                let r = self.client.leave(space);
                let _ = self.signal.leave(space_topic(space));
                r
            }
        };
        if let Err(error) = result {
            self.event(Event::CommandFailed { command: c.clone(), error });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_invitation(
        &mut self,
        space: Option<PublicKey>,
        auth: AuthMethod,
        role: Role,
        guest: Option<PublicKey>,
        lifetime_ms: u64,
        use_limit: u32,
        now: Timestamp,
    ) -> Result<(), ClientError> {
        let kind = if space.is_some() { Kind::Space } else { Kind::Device };
        let params = HostParams {
            kind,
            auth,
            role,
            space,
            guest,
            expires_at: now.saturating_add_millis(lifetime_ms),
            use_limit,
            delegation: None,
        };
        let noise = self.client.identity().noise_keypair().clone();
        let (host, code) = InvitationHost::create(params, &noise, self.limits, now, &mut self.rng)
            .map_err(|_| ClientError::NotAllowed)?;
        let pin = host.pin().cloned();
        let _ = self.signal.join(code.topic());
        self.hosting.insert(code.id, host);
        self.event(Event::InvitationCreated { id: code.id, code, pin });
        Ok(())
    }

    fn accept(&mut self, code: InvitationCode, now: Timestamp) -> Result<(), ClientError> {
        let device = self.client.device_keypair().clone();
        let noise = self.client.identity().noise_keypair().clone();
        let joiner = match code.kind {
            Kind::Space => Joiner::Space { join: self.client.join_request(&mut self.rng), device, noise },
            // Linking gives this device another identity: only a device with no spaces yet
            // (as DXOS requires a fresh device), which keeps its keys and gets a new chain.
            Kind::Device if self.client.spaces().is_empty() => Joiner::Device { device, noise },
            Kind::Device => return Err(ClientError::NotAllowed),
        };
        let guest =
            InvitationGuest::new(code, joiner, self.limits, now, &mut self.rng).map_err(|_| ClientError::NotAllowed)?;
        let _ = self.signal.join(code.topic());
        self.joining.insert(code.id, guest);
        Ok(())
    }

    // ----- connections -----

    fn on_connected(&mut self, conn: ConnId, now: Timestamp) {
        match self.conns.get(&conn) {
            Some(Conn::Guest { id }) => {
                let id = *id;
                if let Some(g) = self.joining.get_mut(&id) {
                    g.handle_input(GuestInput::Connected { session: conn }, now);
                }
            }
            Some(Conn::Swarm(_)) => {
                let noise = self.client.identity().noise_keypair().clone();
                match SwarmSession::initiate(&noise, &mut self.rng) {
                    Ok((session, first)) => {
                        if let Some(Conn::Swarm(s)) = self.conns.get_mut(&conn) {
                            s.session = session;
                        }
                        self.transmit(conn, PeerBody::Swarm(first));
                    }
                    Err(_) => self.close(conn, now),
                }
            }
            _ => {}
        }
    }

    fn on_closed(&mut self, conn: ConnId, now: Timestamp) {
        match self.conns.remove(&conn) {
            Some(Conn::Guest { id }) => {
                if let Some(g) = self.joining.get_mut(&id) {
                    g.handle_input(GuestInput::Closed { session: conn }, now);
                }
            }
            Some(Conn::Host { id }) => {
                if let Some(h) = self.hosting.get_mut(&id) {
                    h.handle_input(HostInput::Closed { session: conn }, now, &mut self.client);
                }
            }
            Some(Conn::Swarm(s)) => {
                if let Some(info) = s.dialled {
                    self.wanted.insert(info.peer, (info, now.saturating_add_millis(RECONNECT_MS)));
                }
            }
            _ => {}
        }
    }

    fn on_frame(&mut self, conn: ConnId, bytes: &[u8], now: Timestamp) {
        let Ok(frame) = PeerFrame::from_bytes(bytes) else { return self.close(conn, now) };
        match (self.conns.get(&conn), frame.body) {
            (Some(Conn::Fresh), PeerBody::Invitation(inner)) => {
                let topic = match InvitationFrame::from_bytes(&inner) {
                    Ok(InvitationFrame { body: FrameBody::Hello { topic, .. }, .. }) => topic,
                    _ => return self.close(conn, now),
                };
                let Some(id) = self.hosting.values().find(|h| h.code().topic() == topic).map(|h| h.code().id) else {
                    return self.close(conn, now);
                };
                self.conns.insert(conn, Conn::Host { id });
                self.host_frame(id, conn, &inner, now);
            }
            (Some(Conn::Host { id }), PeerBody::Invitation(inner)) => {
                let id = *id;
                self.host_frame(id, conn, &inner, now);
            }
            (Some(Conn::Guest { id }), PeerBody::Invitation(inner)) => {
                let id = *id;
                if let Some(g) = self.joining.get_mut(&id) {
                    g.handle_input(GuestInput::Frame { session: conn, bytes: &inner }, now);
                }
            }
            (Some(Conn::Fresh), PeerBody::Swarm(inner)) => {
                let noise = self.client.identity().noise_keypair().clone();
                let Ok(session) = SwarmSession::respond(&noise, &mut self.rng) else { return self.close(conn, now) };
                let swarm = Swarm { session, dialled: None, spaces: BTreeSet::new(), sent: BTreeMap::new() };
                self.conns.insert(conn, Conn::Swarm(swarm));
                self.swarm_frame(conn, &inner, now);
            }
            (Some(Conn::Swarm(_)), PeerBody::Swarm(inner)) => self.swarm_frame(conn, &inner, now),
            _ => self.close(conn, now),
        }
    }

    fn host_frame(&mut self, id: [u8; 16], conn: ConnId, bytes: &[u8], now: Timestamp) {
        if let Some(h) = self.hosting.get_mut(&id) {
            h.handle_input(HostInput::Frame { session: conn, bytes }, now, &mut self.client);
        }
    }

    fn swarm_frame(&mut self, conn: ConnId, bytes: &[u8], now: Timestamp) {
        let Some(Conn::Swarm(s)) = self.conns.get_mut(&conn) else { return };
        match s.session.on_frame(bytes) {
            Ok(SwarmEvent::Reply { frame, established }) => {
                self.transmit(conn, PeerBody::Swarm(frame));
                if established.is_some() {
                    self.authorise(conn, now);
                }
            }
            Ok(SwarmEvent::Established { .. }) => self.authorise(conn, now),
            Ok(SwarmEvent::Message(m)) => self.swarm_message(conn, m, now),
            Err(SwarmError::Malformed(_) | SwarmError::Crypto | SwarmError::Unexpected) => self.close(conn, now),
        }
    }

    /// Decides which spaces a freshly authenticated device may replicate, and announces ours.
    fn authorise(&mut self, conn: ConnId, now: Timestamp) {
        let Some(Conn::Swarm(s)) = self.conns.get(&conn) else { return };
        let Some(remote) = s.session.remote() else { return };
        let shared: BTreeSet<PublicKey> = self
            .client
            .spaces()
            .iter()
            .map(|sp| sp.key)
            .filter(|k| self.client.space(k).is_some_and(|sp| replication::is_member_device(sp, &remote)))
            .collect();
        if shared.is_empty() {
            self.event(Event::Refused { conn, remote: Some(remote) });
            return self.close(conn, now);
        }
        if let Some(Conn::Swarm(s)) = self.conns.get_mut(&conn) {
            s.spaces = shared.clone();
        }
        for space in shared {
            self.send_have(conn, space, true);
        }
    }

    fn swarm_message(&mut self, conn: ConnId, m: SwarmMessage, now: Timestamp) {
        let Some(Conn::Swarm(s)) = self.conns.get(&conn) else { return };
        let space = match &m {
            SwarmMessage::Have { space, .. }
            | SwarmMessage::Entries { space, .. }
            | SwarmMessage::Refused { space } => *space,
        };
        let remote = s.session.remote();
        // Membership may have changed since the link was authorised (we joined the space
        // since, or learned the remote's admission): judge again before refusing.
        let now_member =
            remote.is_some_and(|r| self.client.space(&space).is_some_and(|sp| replication::is_member_device(sp, &r)));
        if !s.spaces.contains(&space)
            && now_member
            && !matches!(m, SwarmMessage::Refused { .. })
            && let Some(Conn::Swarm(s)) = self.conns.get_mut(&conn)
        {
            s.spaces.insert(space);
        }
        let Some(Conn::Swarm(s)) = self.conns.get(&conn) else { return };
        if !s.spaces.contains(&space) {
            // A space we never authorised on this link (or no longer hold): say so, once.
            if !matches!(m, SwarmMessage::Refused { .. }) {
                self.send(conn, &SwarmMessage::Refused { space });
            }
            return;
        }
        match m {
            SwarmMessage::Have { feeds, .. } => {
                let Some(sp) = self.client.space(&space) else { return };
                let missing = replication::missing(sp, &feeds);
                let mine = replication::have(sp);
                let behind =
                    feeds.iter().any(|p| mine.iter().find(|q| q.feed == p.feed).is_none_or(|q| q.length < p.length));
                if !missing.is_empty() {
                    self.send(conn, &SwarmMessage::Entries { space, entries: missing });
                }
                if behind {
                    // Pull: tell the sender what we hold even if we said so before, or a
                    // device already in sync would wait for the next anti-entropy round.
                    self.send_have(conn, space, true);
                }
            }
            SwarmMessage::Entries { entries, .. } => {
                let Some(sp) = self.client.space_mut(&space) else { return };
                let report = replication::ingest_batch(sp, entries);
                if report.new > 0 {
                    self.space_changed(space, now);
                }
            }
            SwarmMessage::Refused { .. } => {
                if let Some(Conn::Swarm(s)) = self.conns.get_mut(&conn) {
                    s.spaces.remove(&space);
                }
            }
        }
    }

    /// After our replica of `space` changed: re-check who may replicate it, close links to
    /// devices no longer members, and tell the others what we now hold.
    fn space_changed(&mut self, space: PublicKey, now: Timestamp) {
        self.event(Event::Changed { space });
        let links: Vec<(ConnId, NoiseKey)> = self
            .conns
            .iter()
            .filter_map(|(c, conn)| match conn {
                Conn::Swarm(s) => s.session.remote().map(|r| (*c, r)),
                _ => None,
            })
            .collect();
        for (conn, remote) in links {
            let member = self.client.space(&space).is_some_and(|sp| replication::is_member_device(sp, &remote));
            let Some(Conn::Swarm(s)) = self.conns.get_mut(&conn) else { continue };
            if member {
                s.spaces.insert(space);
                self.send_have(conn, space, false);
            } else if s.spaces.remove(&space) && s.spaces.is_empty() {
                self.event(Event::Refused { conn, remote: Some(remote) });
                self.close(conn, now);
            }
        }
    }

    fn send_have(&mut self, conn: ConnId, space: PublicKey, force: bool) {
        let Some(sp) = self.client.space(&space) else { return };
        let feeds = replication::have(sp);
        let Some(Conn::Swarm(s)) = self.conns.get_mut(&conn) else { return };
        if !force && s.sent.get(&space) == Some(&feeds) {
            return;
        }
        s.sent.insert(space, feeds.clone());
        self.send(conn, &SwarmMessage::Have { space, feeds });
    }

    fn send(&mut self, conn: ConnId, m: &SwarmMessage) {
        let Some(Conn::Swarm(s)) = self.conns.get_mut(&conn) else { return };
        match s.session.seal(m) {
            Ok(frame) => self.transmit(conn, PeerBody::Swarm(frame)),
            Err(_) => self.out.push_back(Output::Close { conn }),
        }
    }

    fn on_timeout(&mut self, now: Timestamp) {
        self.signal.handle_input(ClientInput::Timeout, now);
        let ids: Vec<[u8; 16]> = self.hosting.keys().copied().collect();
        for id in ids {
            if let Some(h) = self.hosting.get_mut(&id)
                && h.poll_timeout().is_some_and(|t| t <= now)
            {
                h.handle_input(HostInput::Timeout, now, &mut self.client);
            }
        }
        for g in self.joining.values_mut() {
            if g.poll_timeout().is_some_and(|t| t <= now) {
                g.handle_input(GuestInput::Timeout, now);
            }
        }
        let due: Vec<PeerInfo> = self.wanted.values().filter(|(_, t)| *t <= now).map(|(i, _)| i.clone()).collect();
        for info in due {
            self.wanted.remove(&info.peer);
            self.dial(info);
        }
        if now >= self.next_sync {
            self.next_sync = now.saturating_add_millis(SYNC_INTERVAL_MS);
            let links: Vec<(ConnId, Vec<PublicKey>)> = self
                .conns
                .iter()
                .filter_map(|(c, conn)| match conn {
                    Conn::Swarm(s) if s.session.is_open() => Some((*c, s.spaces.iter().copied().collect())),
                    _ => None,
                })
                .collect();
            for (conn, spaces) in links {
                for space in spaces {
                    self.send_have(conn, space, true);
                }
            }
        }
    }

    // ----- moving outputs of the inner machines -----

    /// Drains the signal client, hosted and accepted invitations into our outputs.
    fn pump(&mut self, now: Timestamp) {
        for _ in 0..64 {
            let mut moved = self.pump_signal(now);
            moved |= self.pump_hosts(now);
            moved |= self.pump_guests(now);
            if !moved {
                break;
            }
        }
        if let Some(t) = self.poll_timeout() {
            self.out.push_back(Output::Timeout(t));
        }
    }

    fn pump_signal(&mut self, now: Timestamp) -> bool {
        let mut moved = false;
        while let Some(o) = self.signal.poll_output() {
            moved = true;
            match o {
                ClientOutput::Transmit { bytes } => self.out.push_back(Output::SignalTransmit { bytes }),
                ClientOutput::Event(e) => self.on_signal_event(e, now),
                ClientOutput::Timeout(_) => {}
            }
        }
        moved
    }

    fn on_signal_event(&mut self, e: SignalEvent, now: Timestamp) {
        if let SignalEvent::PeerAppeared { topic, info } = &e {
            let me = self.client.identity().device_key();
            let on_space = self.client.spaces().iter().any(|s| space_topic(&s.key) == *topic);
            let linked = self
                .conns
                .values()
                .any(|c| matches!(c, Conn::Swarm(s) if s.dialled.as_ref().is_some_and(|d| d.peer == info.peer)));
            // One connection per pair of devices: the smaller key dials.
            if on_space && me < info.peer && !linked {
                self.dial(info.clone());
            }
            // An invitation we accept, waiting for a host on this topic.
            let waiting: Vec<[u8; 16]> = self
                .joining
                .iter()
                .filter(|(id, g)| g.code().topic() == *topic && !g.state().is_terminal() && !self.has_guest_conn(id))
                .map(|(id, _)| *id)
                .collect();
            for id in waiting {
                self.open_guest_conn(id, info.addr.clone());
            }
        }
        let _ = now;
        self.event(Event::Signal(e));
    }

    fn has_guest_conn(&self, id: &[u8; 16]) -> bool {
        self.conns.values().any(|c| matches!(c, Conn::Guest { id: i } if i == id))
    }

    fn dial(&mut self, info: PeerInfo) {
        let conn = self.fresh_conn();
        let placeholder = SwarmSession::respond(self.client.identity().noise_keypair(), &mut self.rng)
            .expect("building a Noise responder cannot fail with valid keys");
        let swarm =
            Swarm { session: placeholder, dialled: Some(info.clone()), spaces: BTreeSet::new(), sent: BTreeMap::new() };
        self.conns.insert(conn, Conn::Swarm(swarm));
        self.out.push_back(Output::Connect { conn, addr: info.addr });
    }

    fn open_guest_conn(&mut self, id: [u8; 16], addr: Vec<u8>) {
        let conn = self.fresh_conn();
        self.conns.insert(conn, Conn::Guest { id });
        self.out.push_back(Output::Connect { conn, addr });
    }

    fn fresh_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
    }

    fn pump_hosts(&mut self, now: Timestamp) -> bool {
        let mut moved = false;
        let ids: Vec<[u8; 16]> = self.hosting.keys().copied().collect();
        for id in ids {
            while let Some(o) = self.hosting.get_mut(&id).and_then(InvitationHost::poll_output) {
                moved = true;
                match o {
                    HostOutput::Transmit { session, bytes } => self.transmit(session, PeerBody::Invitation(bytes)),
                    HostOutput::Close { session } => self.close(session, now),
                    HostOutput::Persist(r) => self.out.push_back(Output::Persist(r)),
                    HostOutput::Event(event) => {
                        if let HostEvent::Admitted {
                            grant: crate::invitation::wire::AdmissionGrant::Space { space, .. },
                            ..
                        } = &event
                        {
                            self.space_changed(*space, now);
                        }
                        self.event(Event::Hosting { id, event });
                    }
                    HostOutput::Timeout(_) => {}
                }
            }
        }
        moved
    }

    fn pump_guests(&mut self, now: Timestamp) -> bool {
        let mut moved = false;
        let ids: Vec<[u8; 16]> = self.joining.keys().copied().collect();
        for id in ids {
            while let Some(o) = self.joining.get_mut(&id).and_then(InvitationGuest::poll_output) {
                moved = true;
                match o {
                    GuestOutput::Connect { topic } => {
                        let host = self.signal.peers(&topic).next().map(|i| i.addr.clone());
                        if let Some(addr) = host {
                            self.open_guest_conn(id, addr);
                        }
                        // Otherwise we wait for PeerAppeared on the topic.
                    }
                    GuestOutput::Transmit { session, bytes } => self.transmit(session, PeerBody::Invitation(bytes)),
                    GuestOutput::Close { session } => self.close(session, now),
                    GuestOutput::Event(event) => {
                        if let GuestEvent::Admitted(grant) = &event {
                            self.on_admitted(grant, now);
                            if let Some(g) = self.joining.get(&id) {
                                let _ = self.signal.leave(g.code().topic());
                            }
                        }
                        self.event(Event::Joining { id, event });
                    }
                    GuestOutput::Timeout(_) => {}
                }
            }
        }
        moved
    }

    fn on_admitted(&mut self, grant: &crate::invitation::wire::AdmissionGrant, now: Timestamp) {
        use crate::invitation::wire::AdmissionGrant;
        match grant {
            AdmissionGrant::Space { .. } => {
                if let Ok(space) = self.client.accept_grant(grant) {
                    let _ = self.signal.join(space_topic(&space));
                    self.event(Event::Joined { space });
                    // Links we already have to other members may now carry this space.
                    self.space_changed(space, now);
                }
            }
            AdmissionGrant::Device { .. } => {
                let device = self.client.device_keypair().clone();
                let noise = self.client.identity().noise_keypair().clone();
                if let Ok(linked) = Client::from_device_grant(device, noise, grant) {
                    let identity = linked.identity_key();
                    self.client = linked;
                    self.event(Event::Linked { identity });
                }
            }
        }
    }

    fn transmit(&mut self, conn: ConnId, body: PeerBody) {
        if self.conns.contains_key(&conn) {
            self.out.push_back(Output::Transmit { conn, bytes: wrap(body) });
        }
    }

    fn close(&mut self, conn: ConnId, now: Timestamp) {
        if self.conns.contains_key(&conn) {
            self.out.push_back(Output::Close { conn });
            self.on_closed(conn, now);
        }
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }
}

/// A space's discovery topic: members meet there; the server learns only the hash.
pub fn space_topic(space: &PublicKey) -> Digest {
    crate::hash::hash_tagged(crate::hash::domain::SPACE_TOPIC, &space.0)
}
