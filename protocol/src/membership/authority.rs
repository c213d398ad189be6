//! Where an admin's authority comes from: the chain of applied grants that leads from the
//! space key to a member who manages members. A host that cannot send a guest every
//! credential of a large space sends this chain instead (SPEC.md §7.3.3, the proof of
//! admission), so the guest can see who authorised its admission before replication brings
//! the rest.

use super::{Assertion, CredentialId, FeedAdmission, Membership, NodeIx, PublicKey};

/// Links of an authority chain a host sends, at most: a deeper chain of admins admitting
/// admins is refused rather than sent (SPEC.md §7.3.5), so a guest never walks more.
pub const AUTHORITY_CHAIN_MAX: usize = 16;

/// Why a member's authority cannot be shown as a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainError {
    /// The identity has no applied grant that manages members where the chain needs one.
    NoAuthority { identity: PublicKey },
    /// The chain back to the space key is longer than `AUTHORITY_CHAIN_MAX`.
    TooLong,
}

impl Membership {
    /// The applied grants that show `identity`'s right to manage members, from its own back to
    /// one issued by the space key: each link is an applied grant, with a role that manages
    /// members, for the issuer of the link before it and in that link's past (so the walk
    /// gave the issuer its authority there, §4.4 step 6). Each link takes the grant latest in
    /// canonical order among those that qualify; depth falls at every link, so the walk ends.
    pub fn authority_chain(&self, identity: &PublicKey) -> Result<Vec<CredentialId>, ChainError> {
        let mut chain: Vec<NodeIx> = Vec::new();
        let mut who = *identity;
        while chain.len() < AUTHORITY_CHAIN_MAX {
            let grant =
                self.authorising_grant(&who, chain.last().copied()).ok_or(ChainError::NoAuthority { identity: who })?;
            assert!(
                chain.last().is_none_or(|l| self.graph.is_ancestor(grant, *l)),
                "each link is in the past of the one before"
            );
            chain.push(grant);
            let issuer = self.credentials[grant as usize].issuer();
            if issuer == self.space {
                return Ok(chain.into_iter().map(|n| self.graph.id(n)).collect());
            }
            who = issuer;
        }
        Err(ChainError::TooLong)
    }

    /// `who`'s latest applied grant in canonical order with a role that manages members and,
    /// if `before` is given, in its past.
    fn authorising_grant(&self, who: &PublicKey, before: Option<NodeIx>) -> Option<NodeIx> {
        let grants = self.res.grants.get(who)?;
        grants.iter().rev().copied().find(|g| {
            let manages = matches!(self.credentials[*g as usize].assertion(),
                Assertion::SpaceMember { role, .. } if role.can_manage_members());
            manages && before.is_none_or(|b| self.graph.is_ancestor(*g, b))
        })
    }

    /// `identity`'s applied grants, in canonical order.
    pub fn grants_of(&self, identity: &PublicKey) -> Vec<CredentialId> {
        self.res.grants.get(identity).map_or(Vec::new(), |g| g.iter().map(|n| self.graph.id(*n)).collect())
    }

    /// The applied admissions of `identity`'s feeds, in canonical order of their credentials.
    pub fn admissions_of(&self, identity: &PublicKey) -> Vec<FeedAdmission> {
        let mut out: Vec<FeedAdmission> =
            self.res.feeds.values().filter(|a| a.identity == *identity).copied().collect();
        out.sort_by_key(|a| self.graph.get(&a.credential).map(|n| self.graph.order_key(n)));
        out
    }
}
