//! The guest's transitions: connect, Noise message 2, the PAKE run and the PIN, the result
//! and its grant checked against the code, timeouts and retries while in doubt.

// A part of `InvitationGuest`'s impl: it reads the guest's private types.
use super::*;

impl InvitationGuest {
    pub(super) fn connect(&mut self) {
        self.connecting = true;
        self.reconnect_at = None;
        self.out.push_back(GuestOutput::Connect { topic: self.code.topic() });
    }

    pub(super) fn on_connected(&mut self, session: SessionId, now: Timestamp) {
        if self.session.is_some() {
            self.out.push_back(GuestOutput::Close { session });
            return;
        }
        self.connecting = false;
        // PAKE runs are numbered per session, on both sides.
        self.run = 0;
        let hs = handshake::initiator(&self.code, self.joiner.noise(), &mut self.rng);
        let Ok(mut hs) = hs else { return self.finish(Err(Refusal::ProtocolViolation)) };
        let Ok(noise) = handshake::write(&mut hs) else { return self.finish(Err(Refusal::ProtocolViolation)) };
        self.transmit(session, FrameBody::Hello { topic: self.code.topic(), noise });
        let deadline = Some(now.saturating_add_millis(self.limits.session_idle_ms));
        self.session = Some(Session { id: session, phase: Phase::Handshake(Box::new(hs)), deadline });
    }

    pub(super) fn on_frame(&mut self, session: SessionId, bytes: &[u8], now: Timestamp) {
        let Some(current) = self.session.take_if(|s| s.id == session) else { return };
        let frame = match Frame::from_bytes(bytes) {
            Ok(f) => f,
            Err(_) if matches!(current.phase, Phase::Handshake(_)) => return self.unauthenticated(session, now),
            Err(_) => return self.violation(session, now),
        };
        if let FrameBody::Reject { .. } = frame.body {
            // Unauthenticated: maybe not our host at all. Try again later.
            self.close(session);
            return self.retry_later(now);
        }
        let next = match current.phase {
            Phase::Handshake(hs) => self.on_handshake2(session, *hs, frame, now),
            Phase::Ready(mut channel) => {
                // While the user types the PIN only a refusal may come (the host cancelled,
                // expired or burned the invitation); anything else breaks the protocol.
                match self.open(&mut channel, frame) {
                    Some(Message::Refused { refusal, attempts_left }) => {
                        self.attempts_left = Some(attempts_left);
                        self.refused(session, refusal, now);
                    }
                    _ => self.violation(session, now),
                }
                None
            }
            Phase::AwaitPake(channel, pake, run) => self.on_pake_reply(session, channel, pake, run, frame, now),
            Phase::AwaitAdmitted(channel, key) => self.on_result(session, channel, key, frame, now),
        };
        if let Some((phase, waiting)) = next {
            let deadline = waiting.then(|| now.saturating_add_millis(self.limits.session_idle_ms));
            self.session = Some(Session { id: session, phase, deadline });
        }
    }

    pub(super) fn on_handshake2(
        &mut self,
        session: SessionId,
        mut hs: snow::HandshakeState,
        frame: Frame,
        now: Timestamp,
    ) -> Option<(Phase, bool)> {
        let FrameBody::Handshake { noise } = frame.body else {
            self.unauthenticated(session, now);
            return None;
        };
        if handshake::read(&mut hs, &noise).is_err() {
            self.unauthenticated(session, now);
            return None;
        }
        let Ok(msg3) = handshake::write(&mut hs) else {
            self.unauthenticated(session, now);
            return None;
        };
        let h = handshake::handshake_hash(&hs);
        let Ok(transport) = hs.into_transport_mode() else {
            self.unauthenticated(session, now);
            return None;
        };
        self.transmit(session, FrameBody::Handshake { noise: msg3 });
        self.set_state(State::Connected);
        self.backoff_ms = self.limits.reconnect_min_ms;
        let channel = Channel { transport: Box::new(transport), h };
        Some(self.proceed(session, channel))
    }

    /// After the handshake: start the PAKE if we have a PIN, or send the request.
    pub(super) fn proceed(&mut self, session: SessionId, mut channel: Channel) -> (Phase, bool) {
        match self.code.auth {
            AuthMethod::Pin => match self.pin.clone() {
                Some(pin) => self.start_pake(session, channel, &pin),
                None => {
                    self.set_state(State::ReadyForAuthentication);
                    (Phase::Ready(channel), false)
                }
            },
            AuthMethod::None | AuthMethod::Key => {
                let request = self.joiner.request(&channel.h);
                self.set_state(State::Authenticating);
                self.send(session, &mut channel, &Message::Request { request });
                self.in_doubt = true;
                (Phase::AwaitAdmitted(channel, None), true)
            }
        }
    }

    pub(super) fn start_pake(&mut self, session: SessionId, mut channel: Channel, pin: &Pin) -> (Phase, bool) {
        let run = self.run;
        let (pake, msg) = pake::start_guest(pin, &channel.h, run, &mut self.rng);
        self.set_state(State::Authenticating);
        self.send(session, &mut channel, &Message::PakeStart { run, pake: msg });
        (Phase::AwaitPake(channel, pake, run), true)
    }

    pub(super) fn on_pin(&mut self, pin: Pin, now: Timestamp) {
        if self.code.auth != AuthMethod::Pin {
            return;
        }
        self.pin = Some(pin.clone());
        let Some(current) = self.session.take() else { return };
        match current.phase {
            Phase::Ready(channel) => {
                let (phase, waiting) = self.start_pake(current.id, channel, &pin);
                let deadline = waiting.then(|| now.saturating_add_millis(self.limits.session_idle_ms));
                self.session = Some(Session { id: current.id, phase, deadline });
            }
            other => self.session = Some(Session { phase: other, ..current }),
        }
    }

    pub(super) fn on_pake_reply(
        &mut self,
        session: SessionId,
        mut channel: Channel,
        pake: Pake,
        run: u8,
        frame: Frame,
        now: Timestamp,
    ) -> Option<(Phase, bool)> {
        match self.open(&mut channel, frame) {
            Some(Message::PakeReply { run: r, pake: reply }) if r == run => {
                let Ok(key) = pake.finish(&reply) else {
                    self.violation(session, now);
                    return None;
                };
                let mac = pake::confirmation(&key, Side::Guest, &channel.h, run);
                let request = self.joiner.request(&channel.h);
                self.send(session, &mut channel, &Message::Confirm { run, mac, request });
                self.in_doubt = true;
                Some((Phase::AwaitAdmitted(channel, Some((key, run))), true))
            }
            Some(Message::Refused { refusal, attempts_left }) => {
                self.attempts_left = Some(attempts_left);
                self.refused(session, refusal, now);
                None
            }
            _ => {
                self.violation(session, now);
                None
            }
        }
    }

    pub(super) fn on_result(
        &mut self,
        session: SessionId,
        mut channel: Channel,
        key: Option<(PakeKey, u8)>,
        frame: Frame,
        now: Timestamp,
    ) -> Option<(Phase, bool)> {
        match self.open(&mut channel, frame) {
            Some(Message::Admitted { mac, grant }) => {
                let mac_ok = match (&key, mac) {
                    (Some((k, run)), Some(tag)) => pake::verify_confirmation(k, Side::Host, &channel.h, *run, &tag),
                    (None, None) => true,
                    _ => false,
                };
                let trusted = crate::mutants::active(crate::mutants::Mutant::GuestTrustsGrant);
                if !mac_ok || !(trusted || self.grant_ok(&grant)) {
                    self.verified = None;
                    self.close(session);
                    self.finish(Err(Refusal::ProtocolViolation));
                    return None;
                }
                self.close(session);
                self.finish(Ok(grant));
                None
            }
            Some(Message::Refused { refusal: Refusal::WrongPin, attempts_left }) => {
                self.in_doubt = false;
                self.pin = None;
                self.run = self.run.wrapping_add(1);
                self.attempts_left = Some(attempts_left);
                self.event(GuestEvent::WrongPin { attempts_left });
                self.set_state(State::ReadyForAuthentication);
                Some((Phase::Ready(channel), false))
            }
            Some(Message::Refused { refusal, attempts_left }) => {
                self.attempts_left = Some(attempts_left);
                self.refused(session, refusal, now);
                None
            }
            _ => {
                self.violation(session, now);
                None
            }
        }
    }

    /// A sealed refusal: authentic, so final ones end the invitation.
    pub(super) fn refused(&mut self, session: SessionId, refusal: Refusal, now: Timestamp) {
        self.close(session);
        // `Busy` decides nothing about us in this session, and says nothing of an earlier one
        // that may have admitted us: a guest in doubt stays in doubt (simulator seed hostile
        // 505: a grant lost, then `Busy`, then the code's expiry reported as EXPIRED while
        // the host had admitted the guest).
        if refusal.is_final() {
            self.finish(Err(refusal));
        } else {
            // Busy: another guest's attempt is in flight.
            self.retry_later(now);
        }
    }

    /// The grant must make us what the code promised.
    /// The verified membership of a SPACE grant this guest accepted (once): pass it with the
    /// grant to `Client::accept_grant_verified`.
    pub fn take_verified(&mut self) -> Option<Membership> {
        self.verified.take()
    }

    /// Checks a grant (SPEC §7.7.3); a SPACE grant that passes leaves its membership in
    /// `verified`.
    pub(super) fn grant_ok(&mut self, grant: &AdmissionGrant) -> bool {
        match (&self.joiner, grant) {
            (Joiner::Space { join, .. }, AdmissionGrant::Space { space, role, credentials, .. }) => {
                if !role.is_member() {
                    return false;
                }
                let mut m = Membership::new(*space);
                m.insert_batch(credentials.clone());
                // Every credential of a small space comes with the grant: the walk judges it.
                // A proof of a large one leaves most parents missing (SPEC.md §7.7.3).
                let whole = m.credential_effects().all(|(_, e)| e != Effect::Pending);
                let ok = match whole {
                    true => self.whole_grant_ok(&m, join, *role),
                    false => self.proof_ok(&m, join, *role, grant.host_identity_verified(Some(&m))),
                };
                self.verified = ok.then_some(m);
                ok
            }
            (Joiner::Device { device, noise }, AdmissionGrant::Device { credential, .. }) => {
                credential.verify().is_ok()
                    && credential
                        .authorized_device()
                        .is_some_and(|(_, d, n)| d == device.public() && n == noise.public())
            }
            _ => false,
        }
    }

    /// The grant carries the whole space: the membership it gives must make the guest what the
    /// code promised.
    fn whole_grant_ok(&self, m: &Membership, join: &JoinRequest, role: crate::credential::Role) -> bool {
        // The admission itself grants the code's role (SPEC §7.7.3): a host that grants
        // another is lying. The role may have changed since (a retry after a promotion),
        // so the grant's role is the one the credentials give now.
        let as_coded = m.credential_effects().any(|(c, e)| {
            c.subject() == join.identity
                && matches!(c.assertion(), Assertion::SpaceMember { role: r, .. } if Some(*r) == self.code.role)
                && e == Effect::Applied
        });
        as_coded
            && m.role(&join.identity) == Some(role)
            && m.feed(&join.control_feed).is_some_and(|f| f.identity == join.identity)
    }

    /// The grant is a proof of admission: it must show the host, authorised by a chain from
    /// the space key, granting the code's role and admitting our control feed; its `role` is
    /// that role (SPEC.md §7.7.3).
    fn proof_ok(
        &self,
        m: &Membership,
        join: &JoinRequest,
        role: crate::credential::Role,
        host: Option<crate::keys::PublicKey>,
    ) -> bool {
        let Some(host) = host else { return false };
        Some(role) == self.code.role
            && crate::proof::check(m, Some(&host), &join.identity, &join.control_feed, self.code.role).is_ok()
    }

    pub(super) fn on_timeout(&mut self, now: Timestamp) {
        if now >= self.effective_deadline() {
            if let Some(s) = self.session.take() {
                self.close(s.id);
            }
            let refusal =
                if now >= self.code.expires_at() && !self.in_doubt { Refusal::Expired } else { Refusal::Timeout };
            return self.finish(Err(refusal));
        }
        if let Some(s) = self.session.take_if(|s| s.deadline.is_some_and(|d| d <= now)) {
            self.close(s.id);
            self.retry_later(now);
        }
        if self.reconnect_at.is_some_and(|r| r <= now) {
            // A connection the driver opened meanwhile (a host appeared on the topic)
            // already did what the retry would: drop the timer rather than spin on it.
            if self.session.is_none() && !self.connecting {
                self.connect();
            } else {
                self.reconnect_at = None;
            }
        }
    }

    /// A connection failure: try again after a growing delay, keeping the PIN if in doubt.
    pub(super) fn retry_later(&mut self, now: Timestamp) {
        if self.state.is_terminal() {
            return;
        }
        self.reconnect_at = Some(now.saturating_add_millis(self.backoff_ms));
        self.backoff_ms = (self.backoff_ms * 2).min(self.limits.reconnect_max_ms);
        self.set_state(State::Connecting);
    }

    /// A bad answer to `Hello`: nothing has shown the peer to hold the pinned key yet, so it
    /// may be anyone the signaling server sent us to. Like a plaintext `Reject`, it is a
    /// failed connection, never an outcome: an impostor cannot end the invitation.
    pub(super) fn unauthenticated(&mut self, session: SessionId, now: Timestamp) {
        self.close(session);
        self.retry_later(now);
    }

    /// A malformed or unauthentic frame. Before we are in doubt the flow ends in ERROR; once
    /// in doubt we must learn the outcome, so we reconnect.
    pub(super) fn violation(&mut self, session: SessionId, now: Timestamp) {
        self.close(session);
        if self.in_doubt {
            self.retry_later(now);
        } else {
            self.finish(Err(Refusal::ProtocolViolation));
        }
    }

    pub(super) fn finish(&mut self, outcome: Result<AdmissionGrant, Refusal>) {
        if let Some(s) = self.session.take() {
            self.close(s.id);
        }
        self.reconnect_at = None;
        let state = match &outcome {
            Ok(_) => State::Success,
            Err(r) => r.terminal_state(),
        };
        let event = match &outcome {
            Ok(grant) => GuestEvent::Admitted(grant.clone()),
            Err(r) => GuestEvent::Failed(*r),
        };
        self.outcome = Some(outcome);
        self.set_state(state);
        self.event(event);
    }
}
