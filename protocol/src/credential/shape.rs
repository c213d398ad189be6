//! The shape rules of a credential body (SPEC §3.5): what every verifier checks before any
//! signature, so that a credential means one thing only and malformed ones cost no key work.

use super::{Assertion, CredentialBody, CredentialError, FRONTIER_MAX, FeedPosition, PARENTS_MAX};
use crate::codec::{self, strictly_ascending};

/// The checks of a body that need no key: version, parents, shape. One place for both
/// `verify` and `verify_cached`, so the two cannot drift.
pub(super) fn check_body(body: &CredentialBody) -> Result<(), CredentialError> {
    if body.version != codec::VERSION {
        return Err(CredentialError::UnsupportedVersion { found: body.version });
    }
    if !strictly_ascending(&body.parents) || body.parents.len() > PARENTS_MAX {
        return Err(CredentialError::BadParents);
    }
    check_shape(body)
}

/// Field consistency per assertion type, so a credential means one thing only.
fn check_shape(body: &CredentialBody) -> Result<(), CredentialError> {
    use CredentialError::BadShape;
    match &body.assertion {
        Assertion::SpaceGenesis { space } => {
            if body.issuer != *space || body.subject != *space || body.signer != *space {
                return Err(BadShape("genesis must be issued, signed and subjected by the space key"));
            }
            if !body.parents.is_empty() {
                return Err(BadShape("genesis has no parents"));
            }
        }
        Assertion::AuthorizedDevice { identity, device, .. } => {
            if body.issuer != *identity || body.subject != *device {
                return Err(BadShape("AuthorizedDevice: issuer must be the identity, subject the device"));
            }
            if identity == device {
                return Err(BadShape("AuthorizedDevice: identity and device keys must differ"));
            }
        }
        Assertion::SpaceMember { space, data_frontier, .. } => {
            if body.subject == *space {
                return Err(BadShape("SpaceMember: the space key is not a member"));
            }
            check_frontier(data_frontier)?;
            check_space_parents(body)?;
        }
        Assertion::RemovedDevice { space, device, data_frontier } => {
            if body.subject != *device {
                return Err(BadShape("RemovedDevice: the subject is the device"));
            }
            if body.issuer == *device || body.issuer == *space {
                return Err(BadShape("RemovedDevice: the issuer is the identity of the device"));
            }
            check_frontier(data_frontier)?;
            check_space_parents(body)?;
        }
        Assertion::DelegateInvitation { space, .. } | Assertion::CancelInvitation { space, .. } => {
            if body.subject != *space {
                return Err(BadShape("invitation credentials have the space key as subject"));
            }
            check_space_parents(body)?;
        }
        Assertion::AdmittedFeed { .. } => {
            check_space_parents(body)?;
        }
    }
    Ok(())
}

/// A data frontier is a sorted set of at most `FRONTIER_MAX` positions, one per feed, so that
/// one frontier has one encoding and a removal costs a bounded lookup per entry judged.
fn check_frontier(frontier: &[FeedPosition]) -> Result<(), CredentialError> {
    if !strictly_ascending(frontier) || frontier.len() > FRONTIER_MAX {
        return Err(CredentialError::BadShape("data_frontier must be a sorted set of at most 64"));
    }
    if frontier.windows(2).any(|w| w[0].feed == w[1].feed) {
        return Err(CredentialError::BadShape("data_frontier: one position per feed"));
    }
    Ok(())
}

/// Every space credential but genesis descends from genesis, so it names a parent.
fn check_space_parents(body: &CredentialBody) -> Result<(), CredentialError> {
    if body.parents.is_empty() {
        return Err(CredentialError::BadShape("a space credential other than genesis needs parents"));
    }
    Ok(())
}
