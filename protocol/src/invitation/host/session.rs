//! One guest session through the flow: Noise message 3, then a PAKE run or a request, then
//! the confirmation; a wrong PIN charges the invitation's budget here.

// A part of `InvitationHost`'s impl: it reads the host's private types.
use super::*;

impl InvitationHost {
    pub(super) fn on_frame(&mut self, session: SessionId, bytes: &[u8], now: Timestamp, admitter: &mut dyn Admitter) {
        let frame = match Frame::from_bytes(bytes) {
            Ok(f) => f,
            Err(_) => return self.violation(session),
        };
        let Some(current) = self.sessions.remove(&session) else {
            return self.open_session(session, frame, now);
        };
        let next = match current.phase {
            Phase::Handshake(hs) => self.on_handshake3(session, *hs, frame),
            Phase::Ready(channel) => self.on_ready(session, channel, frame, now, admitter),
            Phase::Confirming(channel, key, run, charged) => {
                self.on_confirm(session, channel, (key, run, charged), frame, now, admitter)
            }
        };
        if let Some(phase) = next {
            let idle = match phase {
                Phase::Confirming(..) => CONFIRM_WINDOW_MS.min(self.limits.session_idle_ms),
                _ => self.limits.session_idle_ms,
            };
            self.sessions.insert(session, Session { phase, deadline: now.saturating_add_millis(idle) });
        }
    }

    pub(super) fn open_session(&mut self, session: SessionId, frame: Frame, now: Timestamp) {
        let FrameBody::Hello { topic, noise } = frame.body else {
            return self.violation(session);
        };
        if topic != self.code.topic() {
            self.transmit_plain(session, Refusal::UnknownInvitation);
            return self.close(session);
        }
        if self.sessions.len() >= SESSIONS_MAX {
            self.transmit_plain(session, Refusal::Busy);
            return self.close(session);
        }
        if active(Mutant::PerSessionBudget) {
            self.record.attempts_left = self.limits.attempts_max;
        }
        let Ok(mut hs) = handshake::responder(&self.code, &self.noise, &mut self.rng) else {
            return self.violation(session);
        };
        if handshake::read(&mut hs, &noise).is_err() {
            return self.violation(session);
        }
        let Ok(reply) = handshake::write(&mut hs) else {
            return self.violation(session);
        };
        self.transmit(session, FrameBody::Handshake { noise: reply });
        let deadline = now.saturating_add_millis(self.limits.session_idle_ms);
        self.sessions.insert(session, Session { phase: Phase::Handshake(Box::new(hs)), deadline });
    }

    pub(super) fn on_handshake3(
        &mut self,
        session: SessionId,
        mut hs: snow::HandshakeState,
        frame: Frame,
    ) -> Option<Phase> {
        let FrameBody::Handshake { noise } = frame.body else {
            self.violation(session);
            return None;
        };
        if handshake::read(&mut hs, &noise).is_err() || !hs.is_handshake_finished() {
            self.violation(session);
            return None;
        }
        let h = handshake::handshake_hash(&hs);
        let mut remote = [0u8; 32];
        remote.copy_from_slice(hs.get_remote_static().expect("XK reveals the initiator's static key"));
        let Ok(transport) = hs.into_transport_mode() else {
            self.violation(session);
            return None;
        };
        let mut channel = Channel { transport: Box::new(transport), h, remote: NoiseKey(remote), run: 0 };
        if let Some(refusal) = self.ended_refusal() {
            // Admitted guests may still retry to fetch their grant; everyone else is told, before
            // anything that depends on the PIN (no free guesses at an ended invitation).
            let old_free_guess =
                active(Mutant::FreeGuessAfterCompletion) && self.record.ended == Some(Ended::Completed);
            if !old_free_guess && !self.admitted_session(&channel) {
                self.refuse(session, &mut channel, refusal);
                return None;
            }
        }
        if self.state == State::Connecting {
            self.set_state(State::Connected);
            self.set_state(State::ReadyForAuthentication);
        }
        Some(Phase::Ready(channel))
    }

    pub(super) fn on_ready(
        &mut self,
        session: SessionId,
        mut channel: Channel,
        frame: Frame,
        now: Timestamp,
        admitter: &mut dyn Admitter,
    ) -> Option<Phase> {
        let message = self.open(session, &mut channel, frame)?;
        match (message, self.code.auth) {
            (Message::PakeStart { run, pake }, AuthMethod::Pin) if run == channel.run => {
                self.start_pake(session, channel, run, &pake, now)
            }
            (Message::Request { request }, AuthMethod::None | AuthMethod::Key) => {
                if !self.take_lock(session, &mut channel) {
                    return Some(Phase::Ready(channel));
                }
                let keep = self.admit(session, &mut channel, request, None, now, admitter);
                self.release_lock(session);
                keep.then_some(Phase::Ready(channel))
            }
            _ => {
                self.refuse(session, &mut channel, Refusal::ProtocolViolation);
                None
            }
        }
    }

    /// Answers with SPAKE2 message B. Nothing is charged yet: a guest that never confirms
    /// learns nothing about the PIN (SPAKE2), so only a wrong confirmation costs an attempt.
    pub(super) fn start_pake(
        &mut self,
        session: SessionId,
        mut channel: Channel,
        run: u8,
        guest_msg: &[u8],
        now: Timestamp,
    ) -> Option<Phase> {
        // Expired before its timer ran: it ends now, and then, as after any end, only an
        // admitted guest's retry goes on (model test `late_retry_at_expiry_gets_its_grant`:
        // refusing it here left a guest in doubt EXPIRED although it was admitted).
        self.expire_if_due(now);
        // After any end only a guest it admitted (by Noise key; its request is checked at
        // admission) runs the PAKE, uncharged: it knows the PIN, and nobody else can answer
        // for its key. Everyone else is refused before anything PIN-dependent.
        let old_free_guess = active(Mutant::FreeGuessAfterCompletion) && self.record.ended == Some(Ended::Completed);
        let retry_only = self.record.ended.is_some() && (self.admitted_session(&channel) || old_free_guess);
        if let Some(refusal) = self.ended_refusal().filter(|_| !retry_only) {
            self.refuse(session, &mut channel, refusal);
            return None;
        }
        if !self.take_lock(session, &mut channel) {
            return Some(Phase::Ready(channel));
        }
        let counts = !retry_only;
        if counts && self.record.attempts_left == 0 {
            // Only reachable with the old charging rule: a spent budget ends the invitation.
            self.release_lock(session);
            self.refuse(session, &mut channel, Refusal::AttemptsExhausted);
            return None;
        }
        if counts && active(Mutant::ChargeUnconfirmedAttempts) {
            // The old rule: charged here, refunded on success, so a lost confirmation costs one.
            self.record.attempts_left = self.record.attempts_left.saturating_sub(1);
            self.persist();
        }
        let pin = self.record.pin.clone().expect("PIN invitations have a PIN");
        let (pake, reply) = pake::start_host(&pin, &channel.h, run, &mut self.rng);
        let key = match pake.finish(guest_msg) {
            Ok(k) => k,
            Err(_) => {
                self.release_lock(session);
                self.refuse(session, &mut channel, Refusal::ProtocolViolation);
                return None;
            }
        };
        if counts {
            self.set_state(State::Authenticating);
        }
        self.send(session, &mut channel, &Message::PakeReply { run, pake: reply });
        Some(Phase::Confirming(channel, key, run, counts))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_confirm(
        &mut self,
        session: SessionId,
        mut channel: Channel,
        (key, run, counts): (PakeKey, u8, bool),
        frame: Frame,
        now: Timestamp,
        admitter: &mut dyn Admitter,
    ) -> Option<Phase> {
        let Some(message) = self.open(session, &mut channel, frame) else {
            self.release_lock(session);
            return None;
        };
        let Message::Confirm { run: r, mac, request } = message else {
            self.release_lock(session);
            self.refuse(session, &mut channel, Refusal::ProtocolViolation);
            return None;
        };
        let ok = r == run && pake::verify_confirmation(&key, Side::Guest, &channel.h, run, &mac);
        if !ok && !active(Mutant::AcceptAnyPin) {
            return self.wrong_pin(session, channel, counts);
        }
        if counts && active(Mutant::ChargeUnconfirmedAttempts) {
            self.record.attempts_left = (self.record.attempts_left + 1).min(self.limits.attempts_max);
            self.persist();
        }
        let host_mac = pake::confirmation(&key, Side::Host, &channel.h, run);
        let keep = self.admit(session, &mut channel, request, Some(host_mac), now, admitter);
        self.release_lock(session);
        channel.run = run.wrapping_add(1);
        keep.then_some(Phase::Ready(channel))
    }

    /// A wrong confirmation: charged and persisted before the guest hears of it, so no crash
    /// can hand out a free answer.
    pub(super) fn wrong_pin(&mut self, session: SessionId, mut channel: Channel, counts: bool) -> Option<Phase> {
        self.release_lock(session);
        if !counts && active(Mutant::FreeGuessAfterCompletion) {
            // The old hole: a free, uncharged answer that tells a wrong PIN from a right one.
            let left = self.record.attempts_left;
            self.send(session, &mut channel, &Message::Refused { refusal: Refusal::WrongPin, attempts_left: left });
            channel.run = channel.run.wrapping_add(1);
            return Some(Phase::Ready(channel));
        }
        if !counts {
            // An admitted guest's retry after the end: refused, never a PIN-dependent answer.
            let refusal = self.ended_refusal().unwrap_or(Refusal::ProtocolViolation);
            self.refuse(session, &mut channel, refusal);
            return None;
        }
        if !active(Mutant::ChargeUnconfirmedAttempts) {
            self.record.attempts_left = self.record.attempts_left.saturating_sub(1);
            self.persist();
        }
        let left = self.record.attempts_left;
        self.event(HostEvent::AttemptFailed { attempts_left: left });
        if left == 0 {
            self.refuse(session, &mut channel, Refusal::AttemptsExhausted);
            self.end(Ended::Burned, Refusal::AttemptsExhausted);
            return None;
        }
        self.send(session, &mut channel, &Message::Refused { refusal: Refusal::WrongPin, attempts_left: left });
        self.set_state(State::ReadyForAuthentication);
        channel.run = channel.run.wrapping_add(1);
        Some(Phase::Ready(channel))
    }
}
