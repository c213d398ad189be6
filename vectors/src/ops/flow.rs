//! Whole invitation flows (SPEC.md §7.6): a host and a guest of the reference, built from two
//! seeds, driven by a script of user actions and clock steps over a zero-latency in-order
//! link that can tamper with or replay chosen frames. The output is every frame each way and
//! both final states: the transcript another implementation's flow must reproduce.

use std::collections::VecDeque;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use spaces_protocol::invitation::guest::{GuestEvent, GuestInput, GuestOutput, InvitationGuest, Joiner};
use spaces_protocol::invitation::host::{HostEvent, HostInput, HostOutput, HostParams, HostRecord, InvitationHost};
use spaces_protocol::invitation::wire::AdmissionGrant;
use spaces_protocol::invitation::{Kind, Limits, Pin, SessionId, State};
use spaces_protocol::keys::{Keypair, NoiseKeypair};
use spaces_protocol::{Client, Role, Timestamp};

use super::OpError;
use super::handshake::refusal_json;
use super::invite_code::{parse_auth, parse_kind, parse_role};
use crate::json::{array_of, hex, list_of, opt, str_of, u64_of};

/// Steps of one script, at most: a flow is a handful of user actions.
const SCRIPT_STEPS_MAX: usize = 64;
/// Deliveries after one step, at most: a quiescent flow exchanges a few dozen frames.
const DELIVERIES_MAX: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToHost,
    ToGuest,
}

enum Delivery {
    ToHost(SessionId, Vec<u8>),
    ToGuest(SessionId, Vec<u8>),
    HostClosed(SessionId),
    GuestClosed(SessionId),
    Connected(SessionId),
}

struct Fault {
    dir: Dir,
    frame: usize,
    action: FaultAction,
}

enum FaultAction {
    /// XOR byte `i` of the frame with 0x01.
    Tamper(usize),
    /// Deliver the frame twice.
    Replay,
    Drop,
}

struct Flow {
    now: Timestamp,
    guest_skew_ms: i64,
    host_client: Client,
    host: InvitationHost,
    persisted: Option<HostRecord>,
    host_rng: ChaCha20Rng,
    guest: InvitationGuest,
    queue: VecDeque<Delivery>,
    next_session: SessionId,
    closed_at_host: Vec<SessionId>,
    closed_at_guest: Vec<SessionId>,
    faults: Vec<Fault>,
    frames_seen: [usize; 2],
    frames: Vec<Value>,
    digest: Sha256,
    host_events: Vec<Value>,
    guest_events: Vec<Value>,
}

fn state_json(s: State) -> Value {
    let debug = format!("{s:?}");
    let mut c = debug.chars();
    Value::String(c.next().map(|f| f.to_ascii_lowercase().to_string() + c.as_str()).unwrap_or_default())
}

fn grant_json(g: &AdmissionGrant) -> Value {
    match g {
        AdmissionGrant::Space { space, role, credentials, .. } => {
            json!({ "kind": "space", "space": hex(space.0), "role": role.name(), "credentials": credentials.len() })
        }
        AdmissionGrant::Device { credential, .. } => {
            json!({ "kind": "device", "credential": hex(credential.id().0.0) })
        }
    }
}

impl Flow {
    fn guest_now(&self) -> Timestamp {
        Timestamp::from_millis(self.now.as_millis().saturating_add_signed(self.guest_skew_ms))
    }

    fn tap(&mut self, dir: Dir, session: SessionId, bytes: Vec<u8>) -> Vec<Vec<u8>> {
        let index = self.frames_seen[dir as usize];
        self.frames_seen[dir as usize] += 1;
        let mut out = vec![bytes];
        for f in self.faults.iter().filter(|f| f.dir == dir && f.frame == index) {
            match f.action {
                FaultAction::Tamper(i) => {
                    if let Some(b) = out[0].get_mut(i) {
                        *b ^= 1;
                    }
                }
                FaultAction::Replay => out.push(out[0].clone()),
                FaultAction::Drop => out.clear(),
            }
        }
        for b in &out {
            let name = if dir == Dir::ToHost { "toHost" } else { "toGuest" };
            self.digest.update([dir as u8]);
            self.digest.update((b.len() as u64).to_be_bytes());
            self.digest.update(b);
            self.frames.push(json!({ "dir": name, "session": session, "bytes": hex(b) }));
        }
        out
    }

    /// Moves every output of both parties onto the link.
    fn drain(&mut self) {
        while let Some(o) = self.host.poll_output() {
            match o {
                HostOutput::Transmit { session, bytes } => {
                    if !self.closed_at_host.contains(&session) {
                        for b in self.tap(Dir::ToGuest, session, bytes) {
                            self.queue.push_back(Delivery::ToGuest(session, b));
                        }
                    }
                }
                HostOutput::Close { session } => {
                    if !self.closed_at_host.contains(&session) {
                        self.closed_at_host.push(session);
                        self.queue.push_back(Delivery::GuestClosed(session));
                    }
                }
                HostOutput::Persist(r) => self.persisted = Some(r),
                HostOutput::Event(e) => self.host_events.push(host_event_json(&e)),
                HostOutput::Timeout(_) => {}
            }
        }
        while let Some(o) = self.guest.poll_output() {
            match o {
                GuestOutput::Connect { .. } => {
                    let session = self.next_session;
                    self.next_session += 1;
                    self.queue.push_back(Delivery::Connected(session));
                }
                GuestOutput::Transmit { session, bytes } => {
                    if !self.closed_at_guest.contains(&session) {
                        for b in self.tap(Dir::ToHost, session, bytes) {
                            self.queue.push_back(Delivery::ToHost(session, b));
                        }
                    }
                }
                GuestOutput::Close { session } => {
                    if !self.closed_at_guest.contains(&session) {
                        self.closed_at_guest.push(session);
                        self.queue.push_back(Delivery::HostClosed(session));
                    }
                }
                GuestOutput::Event(e) => self.guest_events.push(guest_event_json(&e)),
                GuestOutput::Timeout(_) => {}
            }
        }
    }

    fn host_input(&mut self, input: HostInput<'_>) {
        self.host.handle_input(input, self.now, &mut self.host_client);
    }

    fn guest_input(&mut self, input: GuestInput<'_>) {
        let now = self.guest_now();
        self.guest.handle_input(input, now);
    }

    fn deliver(&mut self, d: Delivery) {
        match d {
            Delivery::ToHost(s, b) if !self.closed_at_host.contains(&s) => {
                self.host_input(HostInput::Frame { session: s, bytes: &b })
            }
            Delivery::ToGuest(s, b) if !self.closed_at_guest.contains(&s) => {
                self.guest_input(GuestInput::Frame { session: s, bytes: &b })
            }
            Delivery::HostClosed(s) if !self.closed_at_host.contains(&s) => {
                self.closed_at_host.push(s);
                self.host_input(HostInput::Closed { session: s });
            }
            Delivery::GuestClosed(s) if !self.closed_at_guest.contains(&s) => {
                self.closed_at_guest.push(s);
                self.guest_input(GuestInput::Closed { session: s });
            }
            Delivery::Connected(s) => self.guest_input(GuestInput::Connected { session: s }),
            _ => {}
        }
    }

    /// Delivers until nothing is in flight.
    fn pump(&mut self) -> Result<(), OpError> {
        self.drain();
        for _ in 0..DELIVERIES_MAX {
            let Some(d) = self.queue.pop_front() else { return Ok(()) };
            self.deliver(d);
            self.drain();
        }
        Err(OpError::new("flow", "the flow did not settle"))
    }

    /// Advances the clock in jumps to each due timer, firing them, up to `ms` later.
    fn advance(&mut self, ms: u64) -> Result<(), OpError> {
        let end = self.now.saturating_add_millis(ms);
        for _ in 0..DELIVERIES_MAX {
            let skew = self.guest_skew_ms;
            let guest_due =
                self.guest.poll_timeout().map(|t| Timestamp::from_millis(t.as_millis().saturating_add_signed(-skew)));
            let next = [self.host.poll_timeout(), guest_due].into_iter().flatten().filter(|t| *t <= end).min();
            let Some(t) = next else {
                self.now = end;
                return Ok(());
            };
            self.now = self.now.max(t);
            if self.host.poll_timeout().is_some_and(|t| t <= self.now) {
                self.host_input(HostInput::Timeout);
            }
            if self.guest.poll_timeout().is_some_and(|t| t <= self.guest_now()) {
                self.guest_input(GuestInput::Timeout);
            }
            self.pump()?;
        }
        Err(OpError::new("flow", "timers did not settle"))
    }

    fn restart_host(&mut self) -> Result<(), OpError> {
        let record = self.persisted.clone().ok_or_else(|| OpError::new("flow", "nothing persisted"))?;
        for s in 1..self.next_session {
            if !self.closed_at_host.contains(&s) {
                self.closed_at_host.push(s);
                self.queue.push_back(Delivery::GuestClosed(s));
            }
        }
        self.host = InvitationHost::restore(record, Limits::default(), &mut self.host_rng)
            .map_err(|e| OpError::new("flow", e.to_string()))?;
        self.pump()
    }

    fn drop_connection(&mut self) -> Result<(), OpError> {
        for s in 1..self.next_session {
            self.queue.push_back(Delivery::HostClosed(s));
            self.queue.push_back(Delivery::GuestClosed(s));
        }
        self.pump()
    }
}

fn host_event_json(e: &HostEvent) -> Value {
    match e {
        HostEvent::State(s) => json!({ "state": state_json(*s) }),
        HostEvent::Admitted { session, guest, .. } => json!({ "admitted": hex(guest.0), "session": session }),
        HostEvent::AttemptFailed { attempts_left } => json!({ "attemptFailed": attempts_left }),
        HostEvent::SessionFailed { session, reason } => {
            json!({ "sessionFailed": refusal_json(*reason), "session": session })
        }
    }
}

fn guest_event_json(e: &GuestEvent) -> Value {
    match e {
        GuestEvent::State(s) => json!({ "state": state_json(*s) }),
        GuestEvent::WrongPin { attempts_left } => json!({ "wrongPin": attempts_left }),
        GuestEvent::Admitted(g) => json!({ "admitted": grant_json(g) }),
        GuestEvent::Failed(r) => json!({ "failed": refusal_json(*r) }),
    }
}

fn faults(input: &Value) -> Result<Vec<Fault>, OpError> {
    let Some(list) = opt(input, "faults") else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| OpError::bad_args("`faults` must be an array"))?;
    list.iter()
        .map(|f| {
            let dir = match str_of(f, "dir")? {
                "toHost" => Dir::ToHost,
                "toGuest" => Dir::ToGuest,
                other => return Err(OpError::bad_args(format!("unknown dir {other}"))),
            };
            let frame = u64_of(f, "frame")? as usize;
            let action = match str_of(f, "action")? {
                "tamper" => FaultAction::Tamper(u64_of(f, "byte")? as usize),
                "replay" => FaultAction::Replay,
                "drop" => FaultAction::Drop,
                other => return Err(OpError::bad_args(format!("unknown fault {other}"))),
            };
            Ok(Fault { dir, frame, action })
        })
        .collect()
}

fn setup(input: &Value) -> Result<Flow, OpError> {
    let now = Timestamp::from_millis(u64_of(input, "start")?);
    let params = input.get("params").ok_or_else(|| OpError::bad_args("missing `params`"))?;
    let kind = parse_kind(str_of(params, "kind")?)?;
    let mut host_rng = ChaCha20Rng::from_seed(array_of(input, "hostSeed")?);
    let mut host_client = Client::create_identity(&mut host_rng, now);
    let space = (kind == Kind::Space).then(|| host_client.create_space(&mut host_rng, now));
    let role = match opt(params, "role").and_then(Value::as_str) {
        Some(r) => parse_role(r)?,
        None => Role::Editor,
    };
    let host_params = HostParams {
        kind,
        auth: parse_auth(str_of(params, "auth")?)?,
        role,
        space,
        guest: None,
        expires_at: now.saturating_add_millis(u64_of(params, "expiresInMs")?),
        use_limit: u64_of(params, "useLimit")? as u32,
        delegation: None,
    };
    let noise = host_client.identity().noise_keypair().clone();
    let (host, code) = InvitationHost::create(host_params, &noise, Limits::default(), now, &mut host_rng)
        .map_err(|e| OpError::new("flow", format!("{e:?}")))?;
    let mut guest_rng = ChaCha20Rng::from_seed(array_of(input, "guestSeed")?);
    let joiner = match kind {
        Kind::Space => {
            let mut guest_client = Client::create_identity(&mut guest_rng, now);
            let join = guest_client.join_request(&mut guest_rng);
            Joiner::Space {
                join,
                device: guest_client.device_keypair().clone(),
                noise: guest_client.identity().noise_keypair().clone(),
            }
        }
        // A new device of the host's identity: fresh device and Noise keys.
        Kind::Device => {
            Joiner::Device { device: Keypair::generate(&mut guest_rng), noise: NoiseKeypair::generate(&mut guest_rng) }
        }
    };
    let guest_skew_ms = opt(input, "guestClockSkewMs").and_then(Value::as_i64).unwrap_or(0);
    let guest_now = Timestamp::from_millis(now.as_millis().saturating_add_signed(guest_skew_ms));
    let guest = InvitationGuest::new(code, joiner, Limits::default(), guest_now, &mut guest_rng)
        .map_err(|e| OpError::new("flow", format!("{e:?}")))?;
    Ok(Flow {
        now,
        guest_skew_ms,
        host_client,
        host,
        persisted: None,
        host_rng,
        guest,
        queue: VecDeque::new(),
        next_session: 1,
        closed_at_host: Vec::new(),
        closed_at_guest: Vec::new(),
        faults: faults(input)?,
        frames_seen: [0, 0],
        frames: Vec::new(),
        digest: Sha256::new(),
        host_events: Vec::new(),
        guest_events: Vec::new(),
    })
}

fn step(flow: &mut Flow, s: &Value) -> Result<(), OpError> {
    match str_of(s, "do")? {
        "pin" => {
            let text = str_of(s, "pin")?;
            let pin = match text {
                "host" | "wrong" => {
                    let pin = flow.host.pin().ok_or_else(|| OpError::bad_args("no PIN on this invitation"))?.reveal();
                    let mut digits = pin.as_bytes().to_vec();
                    if text == "wrong" {
                        digits[5] = b'0' + (digits[5] - b'0' + 1) % 10;
                    }
                    Pin::parse(core::str::from_utf8(&digits).expect("ASCII digits")).expect("six digits")
                }
                other => Pin::parse(other).map_err(|_| OpError::bad_args("bad PIN in script"))?,
            };
            flow.guest_input(GuestInput::Authenticate(pin));
            flow.pump()
        }
        "advance" => flow.advance(u64_of(s, "ms")?),
        "cancelHost" => {
            flow.host_input(HostInput::Cancel);
            flow.pump()
        }
        "cancelGuest" => {
            flow.guest_input(GuestInput::Cancel);
            flow.pump()
        }
        "restartHost" => flow.restart_host(),
        "dropConnection" => flow.drop_connection(),
        other => Err(OpError::bad_args(format!("unknown step {other}"))),
    }
}

pub fn transcript(input: &Value) -> Result<Value, OpError> {
    let mut flow = setup(input)?;
    let code = flow.host.code();
    flow.pump()?;
    let script = list_of(input, "script")?;
    if script.len() > SCRIPT_STEPS_MAX {
        return Err(OpError::bad_args("script too long"));
    }
    for s in script {
        step(&mut flow, s)?;
    }
    let outcome = match flow.guest.outcome() {
        None => Value::Null,
        Some(Ok(g)) => json!({ "admitted": grant_json(g) }),
        Some(Err(r)) => json!({ "refused": refusal_json(*r) }),
    };
    let digest = std::mem::take(&mut flow.digest).finalize();
    Ok(json!({
        "code": code.encode(),
        "pin": flow.host.pin().map(|p| p.reveal().to_owned()),
        "frames": flow.frames,
        "transcriptHash": hex(digest),
        "host": {
            "state": state_json(flow.host.state()),
            "attemptsLeft": flow.host.attempts_left(),
            "admitted": flow.host.admitted().iter().map(|k| hex(k.0)).collect::<Vec<_>>(),
            "events": flow.host_events,
        },
        "guest": {
            "state": state_json(flow.guest.state()),
            "outcome": outcome,
            "inDoubt": flow.guest.in_doubt(),
            "events": flow.guest_events,
        },
    }))
}

/// The part of a flow any implementation reaches from the same script, whatever its random
/// draws: both final states, the attempts left, how many guests were admitted, the guest's
/// outcome without the keys (which depend on the draws).
pub fn outcome(input: &Value) -> Result<Value, OpError> {
    let t = transcript(input)?;
    let guest_outcome = match &t["guest"]["outcome"] {
        Value::Null => Value::Null,
        o if o.get("admitted").is_some() => {
            json!({ "admitted": { "kind": o["admitted"]["kind"], "role": o["admitted"]["role"] } })
        }
        o => o.clone(),
    };
    Ok(json!({
        "hostState": t["host"]["state"],
        "attemptsLeft": t["host"]["attemptsLeft"],
        "admittedCount": t["host"]["admitted"].as_array().map_or(0, Vec::len),
        "guestState": t["guest"]["state"],
        "guestOutcome": guest_outcome,
    }))
}
