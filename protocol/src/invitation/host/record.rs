//! What an invitation keeps across restarts of its host.

use serde::{Deserialize, Serialize};

use super::{POINT_MAX, USES_MAX};
use crate::codec::{self, Canonical, DecodeError};
use crate::credential::CredentialId;
use crate::hash::Digest;
use crate::invitation::code::InvitationCode;
use crate::invitation::pin::Pin;
use crate::invitation::{Refusal, State};
use crate::keys::{NoiseKey, PublicKey};

/// Why a host invitation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ended {
    /// Its use limit was reached.
    Completed,
    Cancelled,
    Expired,
    /// Its attempt budget was spent.
    Burned,
}

impl Ended {
    /// The state an invitation that ended so is in (SPEC.md §7.6.1).
    pub fn state(self) -> State {
        match self {
            Ended::Completed => State::Success,
            Ended::Cancelled => State::Cancelled,
            Ended::Expired => State::Expired,
            Ended::Burned => State::Error,
        }
    }

    /// What a guest who comes after the end is told (SPEC.md §7.6.3).
    pub fn refusal(self) -> Refusal {
        match self {
            Ended::Completed => Refusal::AlreadyUsed,
            Ended::Cancelled => Refusal::Cancelled,
            Ended::Expired => Refusal::Expired,
            Ended::Burned => Refusal::AttemptsExhausted,
        }
    }
}

/// Everything about an invitation that must survive a restart of the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    pub version: u8,
    /// The code's payload (kind, method, role, id, host key, expiry).
    pub code: Vec<u8>,
    pub space: Option<PublicKey>,
    /// KEY method: the only guest key (identity for SPACE, device for DEVICE) admitted.
    pub guest: Option<PublicKey>,
    /// 0 = unlimited (bounded by `USES_MAX`).
    pub use_limit: u32,
    /// Set when hosting a delegated invitation: the DelegateInvitation credential.
    pub delegation: Option<CredentialId>,
    pub pin: Option<Pin>,
    pub noise_secret: [u8; 32],
    pub attempts_left: u8,
    /// Guest keys admitted so far, sorted.
    pub admitted: Vec<PublicKey>,
    /// The Noise static keys the admitted guests connected with, sorted: only a session from
    /// one of them is served once the invitation ended, and only for its own request.
    pub admitted_noise: Vec<NoiseKey>,
    /// The digests (`AdmissionRequest::digest`) of the requests admitted, sorted: a retry must
    /// repeat one of them, and gets the grant already issued, nothing newly signed.
    pub requests: Vec<Digest>,
    /// The space's DAG heads when the invitation was created (or its delegation): an identity
    /// whose removal is not in this past is never re-admitted by it (SPEC §7.7.2).
    pub point: Vec<CredentialId>,
    pub ended: Option<Ended>,
}

impl Canonical for HostRecord {
    const ENCODED_SIZE_MAX: usize = 64 * 1024;

    fn validate(&self) -> Result<(), DecodeError> {
        codec::check_version(self.version)?;
        InvitationCode::from_payload(&self.code).map_err(|_| DecodeError::Invalid("bad code payload"))?;
        if !codec::strictly_ascending(&self.admitted) || self.admitted.len() > USES_MAX {
            return Err(DecodeError::Invalid("admitted must be a sorted set"));
        }
        if !codec::strictly_ascending(&self.admitted_noise) || self.admitted_noise.len() > USES_MAX {
            return Err(DecodeError::Invalid("admitted_noise must be a sorted set"));
        }
        if !codec::strictly_ascending(&self.requests) || self.requests.len() > USES_MAX {
            return Err(DecodeError::Invalid("requests must be a sorted set"));
        }
        if !codec::strictly_ascending(&self.point) || self.point.len() > POINT_MAX {
            return Err(DecodeError::Invalid("point must be a sorted set of at most POINT_MAX ids"));
        }
        Ok(())
    }
}

pub(super) fn insert_sorted<T: Ord>(set: &mut Vec<T>, x: T) {
    if let Err(at) = set.binary_search(&x) {
        set.insert(at, x);
    }
}
