//! One invitation host and up to four guests over a network the fuzzer runs: it decides when
//! each frame is delivered, dropped, bit-flipped, replayed on another connection, when raw
//! bytes arrive, when connections close, when time passes and when the host crashes and
//! restarts from its last persisted record. Shared by the `host` and `guest` targets, which
//! differ in who may know the PIN and in the invariants they add.
//!
//! Invariants checked after every step: nobody is admitted who did not type the right PIN (a
//! host `Admitted` event names a guest who knows it; the host reaches SUCCESS only then; a
//! guest that does not know it never reaches SUCCESS, and one that does only once the host
//! admitted it); the attempt budget never grows (live, persisted, across restarts), and every
//! change of it is persisted before the next step (persist before transmit); a guest's reported
//! attempts never grow; a terminal guest stays terminal.

use std::collections::VecDeque;
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use rand_chacha::ChaCha20Rng;
use spaces_protocol::invitation::guest::{GuestEvent, GuestInput, GuestOutput, InvitationGuest, Joiner};
use spaces_protocol::invitation::host::{HostEvent, HostInput, HostOutput, HostParams, HostRecord, InvitationHost};
use spaces_protocol::invitation::pin::Pin;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind, Limits, SessionId, State};
use spaces_protocol::{Client, PublicKey, Role, Timestamp};

use crate::support::rng;

pub const GUESTS_MAX: usize = 4;
/// Steps one input runs at most: each can cost a handshake's worth of crypto.
pub const STEPS_MAX: usize = 64;
const T0_MS: u64 = 1_700_000_000_000;
const HOUR_MS: u64 = 3_600_000;
/// Raw frames arrive on sessions of their own, apart from the guests'.
const RAW_SESSION_BASE: SessionId = 1_000;

#[derive(Debug, Clone, Arbitrary)]
pub enum Step {
    AddGuest {
        knows_pin: bool,
    },
    Connect {
        g: u8,
    },
    ConnectFailed {
        g: u8,
    },
    ToHost {
        g: u8,
    },
    ToGuest {
        g: u8,
    },
    DropToHost {
        g: u8,
    },
    DropToGuest {
        g: u8,
    },
    FlipToHost {
        g: u8,
        at: u16,
        bit: u8,
    },
    FlipToGuest {
        g: u8,
        at: u16,
        bit: u8,
    },
    /// Sends again a frame guest `g` sent earlier, on its current or a raw session.
    Replay {
        g: u8,
        index: u8,
        raw: Option<u8>,
    },
    RawToHost {
        session: u8,
        bytes: Vec<u8>,
    },
    RawToGuest {
        g: u8,
        bytes: Vec<u8>,
    },
    Pin {
        g: u8,
        wrong: u32,
    },
    Close {
        g: u8,
    },
    Wait {
        ms: u16,
        scale: bool,
    },
    RestartHost,
    CancelGuest {
        g: u8,
    },
    /// An honest network for a while: every pending connect and frame delivered, in order,
    /// until nothing moves (at most `PUMP_ROUNDS_MAX` rounds), so whole flows take few steps.
    Pump,
}

/// Delivery rounds of one `Pump`: a complete PIN flow takes about ten.
const PUMP_ROUNDS_MAX: usize = 32;

struct Fixture {
    host: Client,
    space: PublicKey,
    guests: Vec<Client>,
}

/// Clients are made once per process: identity creation would dominate every execution.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = rng(7);
        let now = Timestamp::from_millis(T0_MS);
        let mut host = Client::create_identity(&mut rng, now);
        let space = host.create_space(&mut rng, now);
        let guests = (0..GUESTS_MAX).map(|_| Client::create_identity(&mut rng, now)).collect();
        Fixture { host, space, guests }
    })
}

/// One guest and what the network holds for it.
pub struct Party {
    pub guest: InvitationGuest,
    pub identity: PublicKey,
    pub knows_pin: bool,
    session: Option<SessionId>,
    wants_connect: bool,
    to_host: VecDeque<Vec<u8>>,
    to_guest: VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
    attempts_seen: Option<u8>,
    pub admitted: bool,
}

pub struct Duel {
    now: Timestamp,
    rng: ChaCha20Rng,
    client: Client,
    host: InvitationHost,
    code: InvitationCode,
    pin: Pin,
    persisted: HostRecord,
    pub parties: Vec<Party>,
    next_session: SessionId,
    budget: u8,
}

impl Duel {
    pub fn new(seed: u64) -> Self {
        let f = fixture();
        let mut rng = rng(seed);
        let now = Timestamp::from_millis(T0_MS);
        let params = HostParams {
            kind: Kind::Space,
            auth: AuthMethod::Pin,
            role: Role::Editor,
            space: Some(f.space),
            guest: None,
            expires_at: now.saturating_add_millis(HOUR_MS),
            use_limit: 2,
            delegation: None,
        };
        let noise = f.host.identity().noise_keypair().clone();
        let (mut host, code) = InvitationHost::create(params, &noise, Limits::default(), now, &mut rng)
            .expect("valid invitation parameters");
        let pin = host.pin().cloned().expect("a PIN invitation");
        let mut persisted = None;
        while let Some(out) = host.poll_output() {
            if let HostOutput::Persist(r) = out {
                persisted = Some(r);
            }
        }
        let persisted = persisted.expect("a new invitation is persisted");
        let budget = host.attempts_left();
        Duel {
            now,
            rng,
            client: f.host.clone(),
            host,
            code,
            pin,
            persisted,
            parties: Vec::new(),
            next_session: 1,
            budget,
        }
    }

    /// The host's attempt budget as of the last step.
    pub fn attempts_left(&self) -> u8 {
        self.budget
    }

    pub fn step(&mut self, step: Step) {
        let n = self.parties.len().max(1);
        let g = |g: u8| usize::from(g) % n;
        match step {
            Step::AddGuest { knows_pin } => self.add_guest(knows_pin),
            Step::Wait { ms, scale } => {
                self.now = self.now.saturating_add_millis(u64::from(ms) * if scale { 100 } else { 1 });
                self.host_input(HostInput::Timeout);
                for i in 0..self.parties.len() {
                    self.guest_input(i, GuestInput::Timeout);
                }
            }
            Step::RestartHost => self.restart(),
            Step::Pump => self.pump(),
            Step::RawToHost { session, bytes } => {
                let session = RAW_SESSION_BASE + SessionId::from(session % 4);
                self.host_input(HostInput::Frame { session, bytes: &bytes });
            }
            _ if self.parties.is_empty() => {}
            Step::Connect { g: i } => self.connect(g(i)),
            Step::ConnectFailed { g: i } => {
                let i = g(i);
                if std::mem::take(&mut self.parties[i].wants_connect) {
                    self.guest_input(i, GuestInput::ConnectFailed);
                }
            }
            Step::ToHost { g: i } => self.deliver_to_host(g(i), None),
            Step::ToGuest { g: i } => self.deliver_to_guest(g(i), None),
            Step::DropToHost { g: i } => drop(self.parties[g(i)].to_host.pop_front()),
            Step::DropToGuest { g: i } => drop(self.parties[g(i)].to_guest.pop_front()),
            Step::FlipToHost { g: i, at, bit } => self.deliver_to_host(g(i), Some((at, bit))),
            Step::FlipToGuest { g: i, at, bit } => self.deliver_to_guest(g(i), Some((at, bit))),
            Step::Replay { g: i, index, raw } => self.replay(g(i), index, raw),
            Step::RawToGuest { g: i, bytes } => {
                let i = g(i);
                if let Some(session) = self.parties[i].session {
                    self.guest_input(i, GuestInput::Frame { session, bytes: &bytes });
                }
            }
            Step::Pin { g: i, wrong } => {
                let i = g(i);
                let pin = if self.parties[i].knows_pin { self.pin.clone() } else { wrong_pin(&self.pin, wrong) };
                self.guest_input(i, GuestInput::Authenticate(pin));
            }
            Step::Close { g: i } => self.close(g(i)),
            Step::CancelGuest { g: i } => self.guest_input(g(i), GuestInput::Cancel),
        }
        self.check();
    }

    fn add_guest(&mut self, knows_pin: bool) {
        if self.parties.len() == GUESTS_MAX {
            return;
        }
        let mut client = fixture().guests[self.parties.len()].clone();
        let join = client.join_request(&mut self.rng);
        let identity = join.identity;
        let joiner = Joiner::Space {
            join,
            device: client.device_keypair().clone(),
            noise: client.identity().noise_keypair().clone(),
        };
        let guest = InvitationGuest::new(self.code, joiner, Limits::default(), self.now, &mut self.rng)
            .expect("a space joiner for a space code");
        self.parties.push(Party {
            guest,
            identity,
            knows_pin,
            session: None,
            wants_connect: false,
            to_host: VecDeque::new(),
            to_guest: VecDeque::new(),
            sent: Vec::new(),
            attempts_seen: None,
            admitted: false,
        });
        self.drain();
    }

    fn connect(&mut self, i: usize) {
        if !std::mem::take(&mut self.parties[i].wants_connect) {
            return;
        }
        let session = self.next_session;
        self.next_session += 1;
        let p = &mut self.parties[i];
        p.session = Some(session);
        p.to_host.clear();
        p.to_guest.clear();
        self.guest_input(i, GuestInput::Connected { session });
    }

    fn pump(&mut self) {
        for _ in 0..PUMP_ROUNDS_MAX {
            let mut moved = false;
            for i in 0..self.parties.len() {
                let p = &self.parties[i];
                moved |= p.wants_connect || !p.to_host.is_empty() || (p.session.is_some() && !p.to_guest.is_empty());
                self.connect(i);
                while !self.parties[i].to_host.is_empty() && self.parties[i].session.is_some() {
                    self.deliver_to_host(i, None);
                }
                while !self.parties[i].to_guest.is_empty() && self.parties[i].session.is_some() {
                    self.deliver_to_guest(i, None);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn deliver_to_host(&mut self, i: usize, flip: Option<(u16, u8)>) {
        let p = &mut self.parties[i];
        let (Some(session), Some(mut bytes)) = (p.session, p.to_host.pop_front()) else { return };
        flip_bit(&mut bytes, flip);
        self.host_input(HostInput::Frame { session, bytes: &bytes });
    }

    fn deliver_to_guest(&mut self, i: usize, flip: Option<(u16, u8)>) {
        let p = &mut self.parties[i];
        let (Some(session), Some(mut bytes)) = (p.session, p.to_guest.pop_front()) else { return };
        flip_bit(&mut bytes, flip);
        self.guest_input(i, GuestInput::Frame { session, bytes: &bytes });
    }

    fn replay(&mut self, i: usize, index: u8, raw: Option<u8>) {
        let p = &self.parties[i];
        if p.sent.is_empty() {
            return;
        }
        let bytes = p.sent[usize::from(index) % p.sent.len()].clone();
        let session = match raw {
            Some(s) => RAW_SESSION_BASE + SessionId::from(s % 4),
            None => match p.session {
                Some(s) => s,
                None => return,
            },
        };
        self.host_input(HostInput::Frame { session, bytes: &bytes });
    }

    fn close(&mut self, i: usize) {
        let Some(session) = self.parties[i].session.take() else { return };
        self.host_input(HostInput::Closed { session });
        self.guest_input(i, GuestInput::Closed { session });
    }

    fn restart(&mut self) {
        let host = InvitationHost::restore(self.persisted.clone(), Limits::default(), &mut self.rng)
            .expect("a persisted record restores");
        self.host = host;
        for i in 0..self.parties.len() {
            if let Some(session) = self.parties[i].session.take() {
                self.guest_input(i, GuestInput::Closed { session });
            }
        }
        self.check();
    }

    fn host_input(&mut self, input: HostInput<'_>) {
        self.host.handle_input(input, self.now, &mut self.client);
        self.drain();
    }

    fn guest_input(&mut self, i: usize, input: GuestInput<'_>) {
        self.parties[i].guest.handle_input(input, self.now);
        self.drain();
    }

    /// Moves every output to where it goes, checking what each party says on the way.
    fn drain(&mut self) {
        loop {
            let mut moved = false;
            while let Some(out) = self.host.poll_output() {
                moved = true;
                self.on_host_output(out);
            }
            for i in 0..self.parties.len() {
                while let Some(out) = self.parties[i].guest.poll_output() {
                    moved = true;
                    self.on_guest_output(i, out);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn on_host_output(&mut self, out: HostOutput) {
        let owner = |s: SessionId, parties: &[Party]| parties.iter().position(|p| p.session == Some(s));
        match out {
            HostOutput::Transmit { session, bytes } => {
                if let Some(i) = owner(session, &self.parties) {
                    self.parties[i].to_guest.push_back(bytes);
                }
            }
            HostOutput::Close { session } => {
                if let Some(i) = owner(session, &self.parties) {
                    self.parties[i].session = None;
                    self.parties[i].guest.handle_input(GuestInput::Closed { session }, self.now);
                }
            }
            HostOutput::Persist(record) => {
                assert!(record.attempts_left <= self.persisted.attempts_left, "a persisted budget grew");
                self.persisted = record;
            }
            HostOutput::Event(HostEvent::Admitted { guest, .. }) => {
                let p = self.parties.iter_mut().find(|p| p.identity == guest);
                let p = p.expect("the host admitted an identity no guest has");
                assert!(p.knows_pin, "the host admitted a guest who never typed the PIN");
                p.admitted = true;
            }
            HostOutput::Event(HostEvent::State(State::Success)) => {
                assert!(self.parties.iter().any(|p| p.knows_pin), "the host reached SUCCESS without the PIN");
            }
            HostOutput::Event(_) | HostOutput::Timeout(_) => {}
        }
    }

    fn on_guest_output(&mut self, i: usize, out: GuestOutput) {
        let p = &mut self.parties[i];
        match out {
            GuestOutput::Connect { .. } => p.wants_connect = true,
            GuestOutput::Transmit { session, bytes } => {
                if p.session == Some(session) {
                    p.sent.truncate(32);
                    p.sent.push(bytes.clone());
                    p.to_host.push_back(bytes);
                }
            }
            GuestOutput::Close { session } => {
                if p.session == Some(session) {
                    p.session = None;
                    self.host.handle_input(HostInput::Closed { session }, self.now, &mut self.client);
                }
            }
            GuestOutput::Event(GuestEvent::Admitted(_)) => {
                assert!(p.knows_pin, "a guest that never typed the PIN was admitted");
                assert!(p.admitted, "a guest accepted a grant the host never issued to it");
            }
            GuestOutput::Event(GuestEvent::WrongPin { attempts_left }) => {
                assert!(p.attempts_seen.is_none_or(|seen| attempts_left <= seen), "a guest's attempts grew");
                p.attempts_seen = Some(attempts_left);
            }
            GuestOutput::Event(_) | GuestOutput::Timeout(_) => {}
        }
    }

    fn check(&mut self) {
        let live = self.host.attempts_left();
        assert!(live <= self.budget, "the attempt budget grew from {} to {live}", self.budget);
        assert_eq!(live, self.persisted.attempts_left, "a budget change was not persisted");
        self.budget = live;
        if self.host.state() == State::Success {
            assert!(self.parties.iter().any(|p| p.admitted), "the host is in SUCCESS with nobody admitted");
        }
        for p in &self.parties {
            if p.guest.state() == State::Success {
                assert!(p.knows_pin && p.admitted, "a guest in SUCCESS that was not admitted with the PIN");
            }
        }
    }
}

/// A PIN other than `pin`: the fuzzer never learns the right one.
fn wrong_pin(pin: &Pin, offset: u32) -> Pin {
    let right: u32 = pin.reveal().parse().expect("six digits");
    let wrong = (right + 1 + offset % 999_999) % 1_000_000;
    Pin::parse(&format!("{wrong:06}")).expect("six digits")
}

fn flip_bit(bytes: &mut [u8], flip: Option<(u16, u8)>) {
    if let Some((at, bit)) = flip
        && !bytes.is_empty()
    {
        let at = usize::from(at) % bytes.len();
        bytes[at] ^= 1 << (bit % 8);
    }
}
