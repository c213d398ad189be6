//! The proof of admission (SPEC.md §7.3.3, §7.7.3): what a host sends a guest instead of every
//! credential when the space does not fit one grant, how the guest checks it, and the
//! provisional state in which the guest's replica takes entries and links until replication
//! connects the guest's own grant and §4 judges it.
//!
//! A proof cannot be judged by the walk of §4: its credentials' parents are mostly missing. It
//! shows signatures and who issued what: a genesis, a chain of grants that manage members from
//! the space key to the host, and a grant and feed admission for the guest by the host (or, for a
//! member invited again, by whoever admitted it, with its chain too). Whether the
//! admission stands (no concurrent removal of the host, say) only the whole set decides, and
//! replication brings it. Credentials are self-authenticating, so taking the credentials the
//! proof's feeds carry adds no power; the bound on what the guest holds meanwhile is the
//! membership's own (`PENDING_MAX`) and the proof's size.

use std::collections::{BTreeMap, BTreeSet};

use crate::credential::{Assertion, Credential, CredentialId, Designation, Role};
use crate::keys::{NoiseKey, PublicKey};
use crate::membership::{AUTHORITY_CHAIN_MAX, ChainError, Effect, FeedAdmission, Membership};

/// Feed admissions a proof carries per identity of the authority chain: the oldest ones (the
/// owner's first feeds carry the genesis), so that the guest can take the feeds holding the
/// chain's credentials before their admissions connect.
pub const PROOF_FEEDS_PER_IDENTITY_MAX: usize = 4;
/// The guest's own grants a proof carries, the newest (a retry after a role change shows it).
pub const PROOF_GUEST_GRANTS_MAX: usize = 4;
/// Control feeds a provisional replica takes entries of beyond what its membership admits, at
/// most: the proof's feeds, or on a restart those of the held credentials (SPEC.md §7.7.3).
pub const PROVISIONAL_CARRIERS_MAX: usize = 256;

/// Why a proof of admission cannot be built (host) or does not show the admission (guest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    /// No genesis of the space is among the credentials.
    NoGenesis,
    /// The host's authority cannot be shown as a chain (host side).
    Chain(ChainError),
    /// No chain of grants that manage members leads from the space key to this identity, within
    /// `AUTHORITY_CHAIN_MAX` links.
    NotAuthorised { identity: PublicKey },
    /// No grant for the guest, by an authorised identity, with the expected role.
    NoGrant,
    /// No admission of the guest's control feed, for the guest, by an authorised identity.
    NoFeed,
}

/// The credentials of a proof that `guest` (with feeds `feeds`) was admitted by `host`, whose
/// device has Noise key `host_noise` (SPEC.md §7.3.3): the genesis, `host`'s authority chain,
/// the oldest feed admissions of each identity on the chain and those of the host's device, the
/// guest's newest grants and the admissions of `feeds`, and, when another identity issued the
/// guest's current grant or its control feed's admission, that identity's chain and oldest feed
/// admissions. Without the guest's credentials (before they are issued) it is the part a host
/// can size before admitting.
pub fn build(
    m: &Membership,
    host: &PublicKey,
    host_noise: &NoiseKey,
    guest: &PublicKey,
    feeds: &[PublicKey],
) -> Result<Vec<Credential>, ProofError> {
    let genesis = m.genesis().ok_or(ProofError::NoGenesis)?;
    let chain = m.authority_chain(host).map_err(ProofError::Chain)?;
    let mut ids: Vec<CredentialId> = vec![genesis];
    with_admissions(m, &chain, Some((host, host_noise)), &mut ids);
    let grants = m.grants_of(guest);
    let grants: Vec<CredentialId> = grants.iter().rev().take(PROOF_GUEST_GRANTS_MAX).copied().collect();
    ids.extend(grants.iter().copied());
    let feed_admissions: Vec<CredentialId> =
        feeds.iter().filter_map(|f| m.feed(f)).filter(|a| a.identity == *guest).map(|a| a.credential).collect();
    ids.extend(feed_admissions.iter().copied());
    // A member invited again was admitted by whoever admitted it first: the host signs nothing
    // (admission is idempotent), so the proof shows that issuer's authority too (hostile 727).
    let role = m.role(guest);
    let current = grants
        .iter()
        .filter_map(|id| m.credential(id))
        .find(|c| matches!(c.assertion(), Assertion::SpaceMember { role: r, .. } if Some(*r) == role));
    let control = feed_admissions.first().and_then(|id| m.credential(id));
    let mut others: Vec<PublicKey> = Vec::new();
    for issuer in current.into_iter().chain(control).map(Credential::issuer) {
        if issuer != *host && issuer != m.space() && !others.contains(&issuer) {
            others.push(issuer);
        }
    }
    for issuer in others {
        if let Ok(chain) = m.authority_chain(&issuer) {
            with_admissions(m, &chain, None, &mut ids);
        }
    }
    let mut seen = BTreeSet::new();
    ids.retain(|id| seen.insert(*id));
    Ok(ids.iter().map(|id| m.credential(id).expect("proof credentials are held").clone()).collect())
}

/// Appends an authority chain's links and, for each link's subject, its oldest feed admissions;
/// for the host (`device`: its identity and Noise key) also those of its device.
fn with_admissions(
    m: &Membership,
    chain: &[CredentialId],
    device: Option<(&PublicKey, &NoiseKey)>,
    ids: &mut Vec<CredentialId>,
) {
    ids.extend(chain.iter().copied());
    for link in chain {
        let subject = m.credential(link).expect("chain links are held").subject();
        let admissions = m.admissions_of(&subject);
        ids.extend(admissions.iter().take(PROOF_FEEDS_PER_IDENTITY_MAX).map(|a| a.credential));
        if let Some((_, noise)) = device.filter(|(h, _)| **h == subject) {
            let own = admissions.iter().filter(|a| a.noise_key == *noise);
            ids.extend(own.take(PROOF_FEEDS_PER_IDENTITY_MAX).map(|a| a.credential));
        }
    }
}

/// What a checked proof lets a guest's replica do until its own grant connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisional {
    /// The guest's grant: once it connects, §4 decides and the provisional state ends.
    pub grant: CredentialId,
    /// The role that grant gives.
    pub role: Role,
    /// The host the guest met; on a restart, which forgot it, the grant's issuer. The guest
    /// links with its devices for the space.
    pub host: PublicKey,
    /// Control feeds of the chain's identities and of the guest, by feed key.
    carriers: BTreeMap<PublicKey, FeedAdmission>,
    /// Noise keys of the host's feeds: the devices the guest links with for the space.
    devices: BTreeSet<NoiseKey>,
}

impl Provisional {
    /// The admission under which the guest takes entries of `feed` while provisional.
    pub fn carrier(&self, feed: &PublicKey) -> Option<FeedAdmission> {
        self.carriers.get(feed).copied()
    }

    /// Whether the device with Noise key `k` is the host's, so the guest links with it.
    pub fn is_host_device(&self, k: &NoiseKey) -> bool {
        self.devices.contains(k)
    }
}

/// A held credential that may still take effect: connected and applied, or pending.
fn live(m: &Membership, c: &Credential) -> bool {
    matches!(m.effect(&c.id()), Some(Effect::Applied | Effect::Pending))
}

/// Checks, over the credentials `m` holds, that they show `guest` admitted (SPEC.md §7.7.3): a
/// genesis; `host` (if given) authorised, by a chain of live grants that manage members from the
/// space key; a live grant by an authorised identity for `guest` with `role` (if given, else any
/// member role); and a live admission by an authorised identity of `control_feed` as `guest`'s
/// control feed.
pub fn check(
    m: &Membership,
    host: Option<&PublicKey>,
    guest: &PublicKey,
    control_feed: &PublicKey,
    role: Option<Role>,
) -> Result<Provisional, ProofError> {
    m.genesis().ok_or(ProofError::NoGenesis)?;
    let authorised = authorised(m);
    if let Some(h) = host.filter(|h| !authorised.contains(*h)) {
        return Err(ProofError::NotAuthorised { identity: *h });
    }
    // Any authorised identity's grant and feed admission show the admission: a member invited
    // again holds them from whoever admitted it first (hostile 727).
    let (grant, issuer, granted) = m
        .credentials()
        .filter(|c| c.subject() == *guest && live(m, c) && authorised.contains(&c.issuer()))
        .filter_map(|c| match c.assertion() {
            Assertion::SpaceMember { role: r, .. } if role.map_or(r.is_member(), |want| *r == want) => {
                Some((c.id(), c.issuer(), *r))
            }
            _ => None,
        })
        .min()
        .ok_or(ProofError::NoGrant)?;
    let own = m.credentials().any(|c| {
        c.subject() == *control_feed
            && authorised.contains(&c.issuer())
            && live(m, c)
            && matches!(c.assertion(), Assertion::AdmittedFeed { identity, designation: Designation::Control, .. } if identity == guest)
    });
    if !own {
        return Err(ProofError::NoFeed);
    }
    let host = host.copied().unwrap_or(issuer);
    let carriers = carriers(m, &authorised, guest);
    let devices = carriers.values().filter(|a| a.identity == host).map(|a| a.noise_key).collect();
    Ok(Provisional { grant, role: granted, host, carriers, devices })
}

/// The identities a chain of live grants that manage members reaches from the space key, in at
/// most `AUTHORITY_CHAIN_MAX` links: round `r` adds the subjects of such grants issued by an
/// identity reached in an earlier round.
fn authorised(m: &Membership) -> BTreeSet<PublicKey> {
    let managing: Vec<&Credential> = m
        .credentials()
        .filter(|c| matches!(c.assertion(), Assertion::SpaceMember { role, .. } if role.can_manage_members()))
        .filter(|c| c.issuer() != c.subject() && live(m, c))
        .collect();
    let mut reached: BTreeSet<PublicKey> = BTreeSet::new();
    for _ in 0..AUTHORITY_CHAIN_MAX {
        let before = reached.len();
        let next: Vec<PublicKey> = managing
            .iter()
            .filter(|c| c.issuer() == m.space() || reached.contains(&c.issuer()))
            .map(|c| c.subject())
            .collect();
        reached.extend(next);
        if reached.len() == before {
            break;
        }
    }
    assert!(!reached.contains(&m.space()), "the space key is not a member");
    reached
}

/// The live control-feed admissions for the guest or an identity in `authorised`, issued by an
/// identity in `authorised` (or by the guest's host for the guest), at most
/// `PROVISIONAL_CARRIERS_MAX`, smallest credential ids first.
fn carriers(m: &Membership, authorised: &BTreeSet<PublicKey>, guest: &PublicKey) -> BTreeMap<PublicKey, FeedAdmission> {
    let mut found: Vec<(CredentialId, PublicKey, FeedAdmission)> = m
        .credentials()
        .filter(|c| authorised.contains(&c.issuer()) && live(m, c))
        .filter_map(|c| match c.assertion() {
            Assertion::AdmittedFeed { identity, device, noise_key, designation: Designation::Control, .. }
                if authorised.contains(identity) || identity == guest =>
            {
                let admission = FeedAdmission {
                    identity: *identity,
                    device: *device,
                    noise_key: *noise_key,
                    designation: Designation::Control,
                    credential: c.id(),
                };
                Some((c.id(), c.subject(), admission))
            }
            _ => None,
        })
        .collect();
    found.sort_by_key(|(id, _, _)| *id);
    let mut out = BTreeMap::new();
    for (_, feed, admission) in found {
        if out.len() == PROVISIONAL_CARRIERS_MAX {
            break;
        }
        out.entry(feed).or_insert(admission);
    }
    out
}
