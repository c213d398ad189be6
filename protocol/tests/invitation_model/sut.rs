//! The system under test of `invitation_model.rs`: one real `InvitationHost` with its admitter
//! (a `Client` holding the space) and the record it persisted last, and real
//! `InvitationGuest`s run one at a time against it, synchronously: every frame is handed over
//! at once (or lost on purpose), no guest timer runs, so the clock moves only when the model
//! says. What the harness reports is read from the guests' events and the host's outputs.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::invitation::guest::{GuestEvent, GuestInput, GuestOutput, InvitationGuest, Joiner};
use spaces_protocol::invitation::host::{
    Ended, HostEvent, HostInput, HostOutput, HostParams, HostRecord, InvitationHost,
};
use spaces_protocol::invitation::wire::AdmissionGrant;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind, Limits, Pin, SessionId};
use spaces_protocol::testing::invitation_pair::space_joiner;
use spaces_protocol::{Client, Role, Timestamp};

use super::{End, Lose, Model, Seen, Step};

/// A guest the host admitted: what it needs to come back.
struct Admitted {
    client: Client,
    joiner: Joiner,
    /// The grant the host issued first (its `Admitted` event).
    grant: AdmissionGrant,
}

/// The system under test: the real host, its admitter and its durable record, and the guests.
pub(super) struct Sut {
    rng: ChaCha20Rng,
    now: Timestamp,
    limits: Limits,
    client: Client,
    pub(super) host: InvitationHost,
    pub(super) persisted: HostRecord,
    code: InvitationCode,
    pin: Pin,
    next_session: SessionId,
    /// A session left holding the lock (its guest stopped before confirming).
    stalled: Option<SessionId>,
    admitted: Vec<Admitted>,
    /// Wrong PINs the host answered (or charged) so far, counted at the wire.
    pub(super) tested: u8,
    pub(super) seen: Seen,
}

/// The one guest the harness runs in a step, and the frames between it and the host.
struct Attempt {
    guest: InvitationGuest,
    session: SessionId,
    sent: usize,
    connected: bool,
    closed_at_host: bool,
    closed_at_guest: bool,
    confirm_delivered: bool,
    /// The network still has the host's answer to the `Confirm` to lose.
    lose_answer: bool,
    events: Vec<GuestEvent>,
    /// The host's `Admitted` event for this session (a new admission or a retry).
    granted: Option<AdmissionGrant>,
    /// The host charged a wrong PIN while this guest ran (`AttemptFailed`).
    charged: bool,
}

impl Sut {
    pub(super) fn new(m: &Model) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(m.seed);
        let now = Timestamp::from_millis(m.now);
        let mut client = Client::create_identity(&mut rng, now);
        let space = client.create_space(&mut rng, now);
        let params = HostParams {
            kind: Kind::Space,
            auth: AuthMethod::Pin,
            role: Role::Editor,
            space: Some(space),
            guest: None,
            expires_at: Timestamp::from_millis(m.expires_at),
            use_limit: m.use_limit,
            delegation: None,
        };
        let limits = Limits { attempts_max: m.attempts_max, ..Limits::default() };
        let noise = client.identity().noise_keypair().clone();
        let (mut host, code) = InvitationHost::create(params, &noise, limits, now, &mut rng).unwrap();
        host.set_point(client.space(&space).unwrap().membership().heads());
        let pin = host.pin().cloned().unwrap();
        let persisted = host.record().clone();
        let mut sut = Sut {
            rng,
            now,
            limits,
            client,
            host,
            persisted,
            code,
            pin,
            next_session: 1,
            stalled: None,
            admitted: Vec::new(),
            tested: 0,
            seen: Seen::Nothing,
        };
        sut.drain(None);
        sut
    }

    fn wrong_pin(&self) -> Pin {
        Pin::parse(if self.pin.reveal() == "000000" { "000001" } else { "000000" }).unwrap()
    }

    fn host_input(&mut self, input: HostInput<'_>, attempt: Option<&mut Attempt>) {
        self.host.handle_input(input, self.now, &mut self.client);
        self.drain(attempt);
    }

    /// Handles the host's outputs in order, as a driver must (Persist before what follows).
    fn drain(&mut self, mut attempt: Option<&mut Attempt>) {
        while let Some(out) = self.host.poll_output() {
            match out {
                HostOutput::Persist(r) => self.persisted = r,
                HostOutput::Transmit { session, bytes } => {
                    let Some(a) = attempt.as_deref_mut().filter(|a| a.session == session && !a.closed_at_guest) else {
                        continue; // to the stalled guest, which no longer reads
                    };
                    if a.confirm_delivered && std::mem::take(&mut a.lose_answer) {
                        continue;
                    }
                    a.guest.handle_input(GuestInput::Frame { session, bytes: &bytes }, self.now);
                }
                HostOutput::Close { session } => {
                    if self.stalled == Some(session) {
                        self.stalled = None;
                    }
                    if let Some(a) = attempt.as_deref_mut().filter(|a| a.session == session) {
                        a.closed_at_host = true;
                        if !a.closed_at_guest {
                            a.closed_at_guest = true;
                            a.guest.handle_input(GuestInput::Closed { session }, self.now);
                        }
                    }
                }
                HostOutput::Event(HostEvent::Admitted { session, grant, .. }) => {
                    if let Some(a) = attempt.as_deref_mut().filter(|a| a.session == session) {
                        a.granted = Some(grant);
                    }
                }
                HostOutput::Event(HostEvent::AttemptFailed { .. }) => {
                    if let Some(a) = attempt.as_deref_mut() {
                        a.charged = true;
                    }
                }
                HostOutput::Event(_) | HostOutput::Timeout(_) => {}
            }
        }
    }

    /// Runs one guest until nothing moves; `lose` says which frame the network loses.
    fn attempt(&mut self, joiner: Joiner, pin: Pin, lose: Lose, late: Option<Timestamp>) -> Attempt {
        let guest = InvitationGuest::new(self.code, joiner, Limits::default(), self.now, &mut self.rng).unwrap();
        let session = self.next_session;
        self.next_session += 1;
        let mut a = Attempt {
            guest,
            session,
            sent: 0,
            connected: false,
            closed_at_host: false,
            closed_at_guest: false,
            confirm_delivered: false,
            lose_answer: lose == Lose::Answer,
            events: Vec::new(),
            granted: None,
            charged: false,
        };
        a.guest.handle_input(GuestInput::Authenticate(pin), self.now);
        while let Some(out) = a.guest.poll_output() {
            match out {
                GuestOutput::Connect { .. } if !a.connected => {
                    a.connected = true;
                    a.guest.handle_input(GuestInput::Connected { session }, self.now);
                }
                GuestOutput::Connect { .. } | GuestOutput::Timeout(_) => {}
                GuestOutput::Event(e) => a.events.push(e),
                GuestOutput::Transmit { bytes, .. } => {
                    // Frames of a session: Hello, Noise message 3, PakeStart, Confirm, ...
                    let index = a.sent;
                    a.sent += 1;
                    let lost = match lose {
                        Lose::AfterHello => index >= 1,
                        Lose::Confirm => index >= 3,
                        _ => false,
                    };
                    if lost || a.closed_at_host {
                        continue;
                    }
                    if index == 2
                        && let Some(t) = late
                    {
                        self.now = t; // the PakeStart arrives late
                    }
                    a.confirm_delivered |= index == 3;
                    self.host_input(HostInput::Frame { session, bytes: &bytes }, Some(&mut a));
                }
                GuestOutput::Close { .. } => {
                    a.closed_at_guest = true;
                    if !a.closed_at_host {
                        a.closed_at_host = true;
                        self.host_input(HostInput::Closed { session }, Some(&mut a));
                    }
                }
            }
        }
        a
    }

    /// What the guest saw, from its own events and state.
    fn seen(a: &Attempt) -> Seen {
        for e in &a.events {
            match e {
                GuestEvent::Admitted(_) => return Seen::Admitted,
                GuestEvent::Failed(r) => return Seen::Failed(*r),
                GuestEvent::WrongPin { attempts_left } => return Seen::WrongPin(*attempts_left),
                GuestEvent::State(_) => {}
            }
        }
        if a.guest.in_doubt() {
            Seen::NoAnswer
        } else if a.guest.attempts_left().is_some() && !a.guest.state().is_terminal() {
            Seen::Busy // a sealed, non-final refusal that is not WrongPin
        } else {
            Seen::Nothing
        }
    }

    /// The guest goes away (unless it stalls with the lock): its connection closes.
    fn finish(&mut self, mut a: Attempt, stall: bool) {
        if stall && !a.closed_at_host {
            self.stalled = Some(a.session);
            return;
        }
        a.guest.handle_input(GuestInput::Cancel, self.now);
        while let Some(out) = a.guest.poll_output() {
            if matches!(out, GuestOutput::Close { .. }) && !a.closed_at_host {
                a.closed_at_host = true;
                let session = a.session;
                self.host_input(HostInput::Closed { session }, Some(&mut a));
            }
        }
    }

    fn new_joiner(&mut self) -> (Client, Joiner) {
        let mut client = Client::create_identity(&mut self.rng, self.now);
        let joiner = space_joiner(&mut client, &mut self.rng);
        (client, joiner)
    }

    pub(super) fn step(&mut self, ref_state: &Model, step: Step) {
        let (good, wrong) = (self.pin.clone(), self.wrong_pin());
        let pin = |right: bool| if right { good.clone() } else { wrong.clone() };
        self.seen = match step {
            Step::NewGuest { right, lose } => {
                let (client, joiner) = self.new_joiner();
                let a = self.attempt(joiner.clone(), pin(right), lose, None);
                let seen = Self::seen(&a);
                if !right && a.confirm_delivered {
                    self.tested += 1; // a stranger's wrong PIN reached the host's verifier
                }
                if let Some(grant) = a.granted.clone().filter(|_| ref_state.admitted > self.admitted.len()) {
                    self.admitted.push(Admitted { client, joiner, grant });
                }
                self.finish(a, false);
                seen
            }
            Step::Unconfirmed { right, stall } => {
                let (_, joiner) = self.new_joiner();
                let a = self.attempt(joiner, pin(right), Lose::Confirm, None);
                let seen = Self::seen(&a);
                self.finish(a, stall);
                seen
            }
            Step::Retry { i, right } => {
                let joiner = self.admitted[i].joiner.clone();
                let a = self.attempt(joiner, pin(right), Lose::None, None);
                let seen = Self::seen(&a);
                // After the end an admitted guest's wrong PIN gets the end's refusal, which
                // depends on nothing: only a charge or a PIN-dependent answer is a test.
                if !right && (a.charged || matches!(seen, Seen::WrongPin(_) | Seen::Admitted)) {
                    self.tested += 1;
                }
                if seen == Seen::Admitted {
                    same_grant(&self.admitted[i].grant, a.granted.as_ref());
                }
                self.finish(a, false);
                seen
            }
            Step::Rejoin { i } => {
                let joiner = space_joiner(&mut self.admitted[i].client, &mut self.rng);
                let a = self.attempt(joiner, pin(true), Lose::None, None);
                let seen = Self::seen(&a);
                self.finish(a, false);
                seen
            }
            Step::LateRetry { i } => {
                let joiner = self.admitted[i].joiner.clone();
                let expiry = self.code.expires_at();
                let a = self.attempt(joiner, pin(true), Lose::None, Some(expiry));
                let seen = Self::seen(&a);
                if seen == Seen::Admitted {
                    same_grant(&self.admitted[i].grant, a.granted.as_ref());
                }
                self.finish(a, false);
                self.now = Timestamp::from_millis(ref_state.now);
                if self.host.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.host_input(HostInput::Timeout, None); // the timer, late
                }
                seen
            }
            Step::Restart => {
                // A crash: only what was persisted survives; the stalled connection is gone.
                self.stalled = None;
                self.host = InvitationHost::restore(self.persisted.clone(), self.limits, &mut self.rng).unwrap();
                self.drain(None);
                Seen::Nothing
            }
            Step::Cancel => {
                self.host_input(HostInput::Cancel, None);
                Seen::Nothing
            }
            Step::Advance(_) => {
                // The driver delivers `Timeout` once its deadline has come, as `World` does.
                self.now = Timestamp::from_millis(ref_state.now);
                if self.host.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.host_input(HostInput::Timeout, None);
                }
                Seen::Nothing
            }
        };
    }
}

/// A retry gets the grant already issued (SPEC §7.7.2 `Retry`): the same role and host
/// device, and every credential of the first (the replica may hold more by now).
fn same_grant(first: &AdmissionGrant, again: Option<&AdmissionGrant>) {
    let Some(again) = again else { panic!("the guest was admitted, the host reported no grant") };
    match (first, again) {
        (
            AdmissionGrant::Space { space, role, credentials, host_device },
            AdmissionGrant::Space { space: s2, role: r2, credentials: c2, host_device: h2 },
        ) => {
            assert_eq!((space, role, host_device), (s2, r2, h2), "a retry's grant differs");
            assert!(credentials.iter().all(|c| c2.contains(c)), "a retry's grant lost credentials");
        }
        _ => panic!("a SPACE invitation granted something else"),
    }
}

pub(super) fn ended(e: Option<End>) -> Option<Ended> {
    e.map(|e| match e {
        End::Completed => Ended::Completed,
        End::Cancelled => Ended::Cancelled,
        End::Expired => Ended::Expired,
        End::Burned => Ended::Burned,
    })
}
