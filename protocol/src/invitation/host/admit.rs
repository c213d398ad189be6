//! Admission: what the host asks of its space or identity (`Admitter`), the use limit and
//! the once-per-identity rule, and the record of each admission, persisted before its grant.

// A part of `InvitationHost`'s impl: it reads the host's private types.
use super::*;

/// Whether an admission is new, or the retry of one the invitation already made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission<'a> {
    /// A first admission through an invitation created at this causal point.
    New { point: &'a [CredentialId] },
    /// The same request again (its grant was lost): sign nothing, return what was issued.
    Retry,
}

/// What the host needs from its space or identity to admit a guest; implemented by
/// `Client`. A retry never signs: it returns the credentials already issued, or refuses.
/// The host asks only for a request `AdmissionRequest::verify` accepted, so a `JoinRequest`
/// given to `admit_space` has its device credential verified already.
pub trait Admitter {
    fn admit_space(
        &mut self,
        space: PublicKey,
        join: &JoinRequest,
        role: Role,
        delegation: Option<CredentialId>,
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal>;

    fn admit_device(
        &mut self,
        device: PublicKey,
        noise_key: NoiseKey,
        admission: Admission<'_>,
        now: Timestamp,
    ) -> Result<AdmissionGrant, Refusal>;
}

impl InvitationHost {
    /// Verifies the request, applies the use limit, and asks the admitter. Returns whether
    /// the session stays open.
    ///
    /// A retry is the same request (digest) from the same Noise key as an admission already
    /// made: it gets the grant already issued, whatever the end. The same identity with
    /// another request (new feed keys: a removed member trying again) is refused, since an
    /// invitation admits an identity once.
    pub(super) fn admit(
        &mut self,
        session: SessionId,
        channel: &mut Channel,
        request: AdmissionRequest,
        host_mac: Option<[u8; 32]>,
        now: Timestamp,
        admitter: &mut dyn Admitter,
    ) -> bool {
        if request.verify(&channel.h, &channel.remote).is_err() {
            return self.refuse(session, channel, Refusal::NotAuthorised);
        }
        let guest = request.guest_key();
        if self.record.guest.is_some_and(|g| g != guest) {
            return self.refuse(session, channel, Refusal::NotAuthorised);
        }
        let digest = request.digest();
        let known = self.record.admitted.binary_search(&guest).is_ok();
        let again = if active(Mutant::RejoinAfterRemoval) {
            known
        } else {
            known && self.record.requests.binary_search(&digest).is_ok() && self.admitted_session(channel)
        };
        if known && !again {
            return self.refuse(session, channel, Refusal::AlreadyUsed);
        }
        if !again {
            if let Some(refusal) = self.ended_refusal() {
                return self.refuse(session, channel, refusal);
            }
            if self.past_expiry(now) {
                return self.refuse(session, channel, Refusal::Expired);
            }
            if self.record.admitted.len() >= self.use_limit() {
                return self.refuse(session, channel, Refusal::AlreadyUsed);
            }
        }
        let point = self.record.point.clone();
        let admission = if again && !active(Mutant::RejoinAfterRemoval) {
            Admission::Retry
        } else {
            Admission::New { point: &point }
        };
        let result = match (&request, self.code.kind, self.record.space) {
            (AdmissionRequest::Space { join, .. }, Kind::Space, Some(space)) => {
                let role = self.code.role.expect("SPACE codes carry a role");
                admitter.admit_space(space, join, role, self.record.delegation, admission, now)
            }
            (AdmissionRequest::Device { device, noise_key, .. }, Kind::Device, None) => {
                admitter.admit_device(*device, *noise_key, admission, now)
            }
            _ => Err(Refusal::ProtocolViolation),
        };
        let grant = match result {
            Ok(grant) => grant,
            Err(Refusal::Cancelled) => {
                // The delegation was cancelled in the space: the invitation ends here too.
                self.refuse(session, channel, Refusal::Cancelled);
                self.end(Ended::Cancelled, Refusal::Cancelled);
                return false;
            }
            Err(refusal) => return self.refuse(session, channel, refusal),
        };
        if !again {
            self.record_admission(guest, channel.remote, digest);
        }
        self.send(session, channel, &Message::Admitted { mac: host_mac, grant: grant.clone() });
        self.event(HostEvent::Admitted { session, guest, grant });
        let next = if self.record.ended == Some(Ended::Completed) { State::Success } else { State::Connecting };
        if self.state != next && !self.state.is_terminal() {
            if next == State::Connecting {
                self.set_state(State::Success);
            }
            self.set_state(next);
        }
        true
    }

    /// Guests one invitation admits at most.
    pub(super) fn use_limit(&self) -> usize {
        if self.record.use_limit == 0 { USES_MAX } else { self.record.use_limit as usize }
    }

    /// A new admission, persisted before the grant that follows it.
    pub(super) fn record_admission(&mut self, guest: PublicKey, noise: NoiseKey, digest: Digest) {
        insert_sorted(&mut self.record.admitted, guest);
        insert_sorted(&mut self.record.admitted_noise, noise);
        insert_sorted(&mut self.record.requests, digest);
        if self.record.admitted.len() >= self.use_limit() {
            self.record.ended = Some(Ended::Completed);
        }
        debug_assert!(self.record.admitted.len() <= self.use_limit(), "never more guests than the use limit");
        self.persist();
    }
}
