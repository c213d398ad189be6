//! One invitation flow of our protocol crate behind the driver protocol's vocabulary
//! (`FlowInput` in, `FlowOutput` and `Poll` out). The reference driver serves these to the
//! harness, and the harness plays its own side with the same type, so both ends of every
//! scenario speak exactly what DRIVER.md specifies.

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest as _, Sha256};
use spaces_protocol::invitation::guest::{GuestError, GuestEvent, GuestInput, GuestOutput, InvitationGuest, Joiner};
use spaces_protocol::invitation::host::{
    HostEvent, HostInput, HostOutput, HostParams, HostRecord, InvitationHost, ParamsError,
};
use spaces_protocol::invitation::wire::AdmissionGrant;
use spaces_protocol::invitation::{InvitationCode, Kind, Limits, Pin, SessionId};
use spaces_protocol::{Client, PublicKey, Timestamp};

use crate::lying::{Lie, LyingAdmitter};
use crate::wire::{
    FlowInput, FlowOutput, GuestCreate, GuestCreated, HostCreate, HostCreated, OpError, Outcome, Poll, hex_array,
    parse_auth, parse_role, refusal_name, state_name,
};

/// Which way a frame went, for transcripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToHost,
    ToGuest,
}

/// Per session, the two directions' frame streams, hashed as DRIVER.md §Transcripts says:
/// `SHA-256(SHA-256(to_host) || SHA-256(to_guest))`, each stream the frames of one direction
/// in order, each frame as `u32_be(len) || bytes`. Directions are hashed apart so that a
/// refusal crossing a request in flight does not make honest sides disagree.
#[derive(Debug, Clone, Default)]
pub struct Transcripts {
    sessions: BTreeMap<SessionId, [Sha256; 2]>,
}

impl Transcripts {
    pub fn record(&mut self, session: SessionId, dir: Dir, bytes: &[u8]) {
        let hashers = self.sessions.entry(session).or_default();
        let h = &mut hashers[dir as usize];
        let len = u32::try_from(bytes.len()).expect("frames are far below 4 GiB");
        h.update(len.to_be_bytes());
        h.update(bytes);
    }

    /// Session (decimal) → transcript hash (hex), in session order.
    pub fn hashes(&self) -> BTreeMap<String, String> {
        self.sessions
            .iter()
            .map(|(s, [a, b])| {
                let mut outer = Sha256::new();
                outer.update(a.clone().finalize());
                outer.update(b.clone().finalize());
                (s.to_string(), hex::encode(outer.finalize()))
            })
            .collect()
    }
}

enum Side {
    Host { host: InvitationHost, persisted: HostRecord, space: PublicKey },
    Guest { guest: InvitationGuest },
}

/// A flow of the reference implementation: a host (with the client whose space it admits
/// to) or a guest (with the client that joins).
pub struct LocalFlow {
    side: Side,
    client: Client,
    rng: ChaCha20Rng,
    transcripts: Transcripts,
    out: Vec<FlowOutput>,
    /// A host that lies in its grants (`lying.rs`), with the seed of the keys the lie needs.
    lie: Option<(Lie, [u8; 32])>,
}

impl core::fmt::Debug for LocalFlow {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LocalFlow").field("state", &self.state_name()).finish()
    }
}

fn seed_of(text: &str) -> Result<[u8; 32], OpError> {
    hex_array::<32>(text).ok_or_else(|| OpError::bad_args("seed must be 32 bytes of hex"))
}

impl LocalFlow {
    /// `host.create`: a fresh identity with a fresh space, hosting one invitation to it.
    pub fn create_host(args: &HostCreate, now: Timestamp) -> Result<(LocalFlow, HostCreated), OpError> {
        let mut rng = ChaCha20Rng::from_seed(seed_of(&args.seed)?);
        if args.kind != "space" {
            return Err(OpError::bad_args("only kind \"space\" is driven"));
        }
        let auth = parse_auth(&args.auth).ok_or_else(|| OpError::bad_args("auth must be none, pin or key"))?;
        let role = parse_role(&args.role).ok_or_else(|| OpError::bad_args("unknown role"))?;
        let mut client = Client::create_identity(&mut rng, now);
        let space = client.create_space(&mut rng, now);
        let params = HostParams {
            kind: Kind::Space,
            auth,
            role,
            space: Some(space),
            guest: match &args.guest {
                Some(g) => Some(PublicKey(hex_array::<32>(g).ok_or_else(|| OpError::bad_args("guest: 32 bytes hex"))?)),
                None => None,
            },
            expires_at: Timestamp::from_millis(args.expires_at_ms),
            use_limit: args.use_limit,
            delegation: None,
        };
        let noise = client.identity().noise_keypair().clone();
        let (host, code) = InvitationHost::create(params, &noise, Limits::default(), now, &mut rng)
            .map_err(|e| OpError::new("bad_params", params_error_text(e)))?;
        let created = HostCreated {
            handle: 0,
            code: code.encode(),
            pin: host.pin().map(|p| p.reveal().to_owned()),
            space: hex::encode(space.0),
            identity: hex::encode(client.identity_key().0),
        };
        let persisted = host.record().clone();
        let side = Side::Host { host, persisted, space };
        let mut flow = LocalFlow { side, client, rng, transcripts: Transcripts::default(), out: Vec::new(), lie: None };
        flow.drain();
        Ok((flow, created))
    }

    /// `guest.create`: a fresh identity accepting `code`.
    pub fn create_guest(args: &GuestCreate, now: Timestamp) -> Result<(LocalFlow, GuestCreated), OpError> {
        let mut rng = ChaCha20Rng::from_seed(seed_of(&args.seed)?);
        let code = InvitationCode::decode(&args.code).map_err(|e| OpError::new("bad_code", e.to_string()))?;
        let mut client = Client::create_identity(&mut rng, now);
        let join = client.join_request(&mut rng);
        let joiner = Joiner::Space {
            join,
            device: client.device_keypair().clone(),
            noise: client.identity().noise_keypair().clone(),
        };
        let guest = InvitationGuest::new(code, joiner, Limits::default(), now, &mut rng).map_err(|e| match e {
            GuestError::KindMismatch => OpError::new("bad_code", "a DEVICE code cannot be accepted by a space guest"),
        })?;
        let created = GuestCreated { handle: 0, identity: hex::encode(client.identity_key().0) };
        let mut flow = LocalFlow {
            side: Side::Guest { guest },
            client,
            rng,
            transcripts: Transcripts::default(),
            out: Vec::new(),
            lie: None,
        };
        flow.drain();
        Ok((flow, created))
    }

    /// Makes this host lie in every grant it sends (hosts only).
    pub fn lie(&mut self, lie: Lie, seed: [u8; 32]) {
        self.lie = Some((lie, seed));
    }

    pub fn is_host(&self) -> bool {
        matches!(self.side, Side::Host { .. })
    }

    /// The invitation's code (hosts only), for scenarios that forge or relay it.
    pub fn host_record(&self) -> Option<&HostRecord> {
        match &self.side {
            Side::Host { persisted, .. } => Some(persisted),
            Side::Guest { .. } => None,
        }
    }

    /// A host that answers on the same code with another Noise key: a relay in the middle.
    pub fn impostor(&self, noise_secret: [u8; 32], seed: [u8; 32], now: Timestamp) -> Option<LocalFlow> {
        let Side::Host { persisted, space, .. } = &self.side else { return None };
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut record = persisted.clone();
        record.noise_secret = noise_secret;
        let host = InvitationHost::restore(record.clone(), Limits::default(), &mut rng).ok()?;
        let client = Client::create_identity(&mut rng, now);
        let side = Side::Host { host, persisted: record, space: *space };
        Some(LocalFlow { side, client, rng, transcripts: Transcripts::default(), out: Vec::new(), lie: None })
    }

    /// `flow.input` at the driver's time `now`.
    pub fn input(&mut self, input: &FlowInput, now: Timestamp) -> Result<(), OpError> {
        let frame = match input {
            FlowInput::Frame { session, bytes } => {
                Some((*session, hex::decode(bytes).map_err(|_| OpError::bad_args("frame bytes must be hex"))?))
            }
            _ => None,
        };
        let to_me = if self.is_host() { Dir::ToHost } else { Dir::ToGuest };
        if let Some((session, bytes)) = &frame {
            self.transcripts.record(*session, to_me, bytes);
        }
        match &mut self.side {
            Side::Host { host, .. } => {
                let input = match (input, &frame) {
                    (FlowInput::Frame { session, .. }, Some((_, bytes))) => {
                        HostInput::Frame { session: *session, bytes }
                    }
                    (FlowInput::Closed { session }, _) => HostInput::Closed { session: *session },
                    (FlowInput::Timeout, _) => HostInput::Timeout,
                    (FlowInput::Cancel, _) => HostInput::Cancel,
                    _ => return Err(OpError::bad_args("a host takes frame, closed, timeout or cancel")),
                };
                match self.lie {
                    Some((lie, seed)) => {
                        let mut liar = LyingAdmitter { client: &mut self.client, lie, seed };
                        host.handle_input(input, now, &mut liar);
                    }
                    None => host.handle_input(input, now, &mut self.client),
                }
            }
            Side::Guest { guest } => {
                let input = match (input, &frame) {
                    (FlowInput::Frame { session, .. }, Some((_, bytes))) => {
                        GuestInput::Frame { session: *session, bytes }
                    }
                    (FlowInput::Connected { session }, _) => GuestInput::Connected { session: *session },
                    (FlowInput::ConnectFailed, _) => GuestInput::ConnectFailed,
                    (FlowInput::Closed { session }, _) => GuestInput::Closed { session: *session },
                    (FlowInput::Timeout, _) => GuestInput::Timeout,
                    (FlowInput::Authenticate { pin }, _) => {
                        let pin = Pin::parse(pin).map_err(|_| OpError::bad_args("a PIN is six digits"))?;
                        GuestInput::Authenticate(pin)
                    }
                    (FlowInput::Cancel, _) => GuestInput::Cancel,
                    (FlowInput::Frame { .. }, None) => unreachable!("frames were decoded above"),
                };
                guest.handle_input(input, now);
            }
        }
        self.drain();
        Ok(())
    }

    /// `flow.restart` (hosts): crash and resume from the last persisted record. Sessions are
    /// gone; the caller tells the other ends.
    pub fn restart(&mut self) -> Result<(), OpError> {
        let Side::Host { host, persisted, .. } = &mut self.side else {
            return Err(OpError::bad_args("only a host restarts"));
        };
        *host = InvitationHost::restore(persisted.clone(), Limits::default(), &mut self.rng)
            .map_err(|e| OpError::new("restore_failed", e.to_string()))?;
        self.drain();
        Ok(())
    }

    /// `flow.poll`: everything produced since the last poll, and the status now.
    pub fn poll(&mut self) -> Poll {
        let mut poll = self.status();
        poll.outputs = std::mem::take(&mut self.out);
        poll
    }

    pub fn status(&self) -> Poll {
        match &self.side {
            Side::Host { host, .. } => Poll {
                outputs: Vec::new(),
                state: state_name(host.state()).to_owned(),
                timeout_ms: host.poll_timeout().map(Timestamp::as_millis),
                attempts_left: Some(host.attempts_left()),
                admitted: host.admitted().iter().map(|k| hex::encode(k.0)).collect(),
                outcome: None,
                transcripts: self.transcripts.hashes(),
            },
            Side::Guest { guest } => Poll {
                outputs: Vec::new(),
                state: state_name(guest.state()).to_owned(),
                timeout_ms: guest.poll_timeout().map(Timestamp::as_millis),
                attempts_left: guest.attempts_left(),
                admitted: Vec::new(),
                outcome: guest.outcome().map(outcome_of),
                transcripts: self.transcripts.hashes(),
            },
        }
    }

    fn state_name(&self) -> &'static str {
        match &self.side {
            Side::Host { host, .. } => state_name(host.state()),
            Side::Guest { guest } => state_name(guest.state()),
        }
    }

    /// Moves the state machine's outputs into `out`, recording frames and persisted records.
    fn drain(&mut self) {
        match &mut self.side {
            Side::Host { host, persisted, .. } => {
                while let Some(o) = host.poll_output() {
                    if let HostOutput::Persist(record) = &o {
                        *persisted = record.clone();
                    }
                    if let HostOutput::Transmit { session, bytes } = &o {
                        self.transcripts.record(*session, Dir::ToGuest, bytes);
                    }
                    self.out.extend(host_output(o));
                }
            }
            Side::Guest { guest } => {
                while let Some(o) = guest.poll_output() {
                    if let GuestOutput::Transmit { session, bytes } = &o {
                        self.transcripts.record(*session, Dir::ToHost, bytes);
                    }
                    self.out.extend(guest_output(o));
                }
            }
        }
    }

    /// `space.remove_member` (hosts): the host's identity removes `member` from its space.
    pub fn remove_member(&mut self, member: &str, now: Timestamp) -> Result<(), OpError> {
        let member = PublicKey(hex_array::<32>(member).ok_or_else(|| OpError::bad_args("member: 32 bytes hex"))?);
        let space = self.space().ok_or_else(|| OpError::bad_args("only a host holds a space"))?;
        self.client.remove_member(&space, member, now).map_err(|e| OpError::new("not_allowed", e.to_string()))?;
        Ok(())
    }

    /// `space.members` (hosts): the members of the host's space now, identity → role name.
    pub fn members(&self) -> Result<BTreeMap<String, String>, OpError> {
        let space = self.space().ok_or_else(|| OpError::bad_args("only a host holds a space"))?;
        let members = self.client.members(&space).map_err(|e| OpError::new("unknown_space", e.to_string()))?;
        Ok(members.into_iter().map(|m| (hex::encode(m.identity.0), m.role.name().to_owned())).collect())
    }

    /// The identity a guest flow created from `seed` will have (`create_guest` draws it
    /// first), so that a host can invite it by key, or a guest come back as itself.
    pub fn guest_identity(seed: &str, now: Timestamp) -> Result<String, OpError> {
        let mut rng = ChaCha20Rng::from_seed(seed_of(seed)?);
        Ok(hex::encode(Client::create_identity(&mut rng, now).identity_key().0))
    }

    /// The space a host admits to.
    pub fn space(&self) -> Option<PublicKey> {
        match &self.side {
            Side::Host { space, .. } => Some(*space),
            Side::Guest { .. } => None,
        }
    }
}

fn outcome_of(outcome: &Result<AdmissionGrant, spaces_protocol::invitation::Refusal>) -> Outcome {
    match outcome {
        Ok(AdmissionGrant::Space { space, role, .. }) => {
            Outcome::Success { space: hex::encode(space.0), role: role.name().to_owned() }
        }
        Ok(AdmissionGrant::Device { .. }) => Outcome::Success { space: String::new(), role: String::new() },
        Err(r) => Outcome::Failure { reason: refusal_name(*r).to_owned() },
    }
}

fn host_output(o: HostOutput) -> Option<FlowOutput> {
    Some(match o {
        HostOutput::Transmit { session, bytes } => FlowOutput::Transmit { session, bytes: hex::encode(bytes) },
        HostOutput::Close { session } => FlowOutput::Close { session },
        HostOutput::Persist(_) | HostOutput::Timeout(_) => return None,
        HostOutput::Event(HostEvent::State(s)) => FlowOutput::State { state: state_name(s).to_owned() },
        HostOutput::Event(HostEvent::Admitted { session, guest, .. }) => {
            FlowOutput::Admitted { session, guest: hex::encode(guest.0) }
        }
        HostOutput::Event(HostEvent::AttemptFailed { attempts_left }) => FlowOutput::AttemptFailed { attempts_left },
        HostOutput::Event(HostEvent::SessionFailed { session, reason }) => {
            FlowOutput::SessionFailed { session, reason: refusal_name(reason).to_owned() }
        }
    })
}

fn guest_output(o: GuestOutput) -> Option<FlowOutput> {
    Some(match o {
        GuestOutput::Connect { topic } => FlowOutput::Connect { topic: hex::encode(topic.0) },
        GuestOutput::Transmit { session, bytes } => FlowOutput::Transmit { session, bytes: hex::encode(bytes) },
        GuestOutput::Close { session } => FlowOutput::Close { session },
        GuestOutput::Timeout(_) => return None,
        GuestOutput::Event(GuestEvent::State(s)) => FlowOutput::State { state: state_name(s).to_owned() },
        GuestOutput::Event(GuestEvent::WrongPin { attempts_left }) => FlowOutput::WrongPin { attempts_left },
        // The grant itself is reported through `outcome`.
        GuestOutput::Event(GuestEvent::Admitted(_)) => return None,
        GuestOutput::Event(GuestEvent::Failed(r)) => FlowOutput::Failed { reason: refusal_name(r).to_owned() },
    })
}

/// `host.create`'s refusals in words (the driver's messages are for people, never `Debug`).
fn params_error_text(e: ParamsError) -> &'static str {
    match e {
        ParamsError::RoleNotGrantable => "OWNER and REMOVED are never granted by invitation",
        ParamsError::SpaceMismatch => "a SPACE invitation needs a space, a DEVICE one must not name one",
        ParamsError::GuestMismatch => "auth key needs `guest`, other methods must not carry it",
        ParamsError::BadExpiry => "the expiry has passed or cannot be expressed in a code",
        ParamsError::UnsafeDeviceInvitation => "a DEVICE invitation needs a PIN or a key",
    }
}
