//! The proof of admission a host sends for a space too large for one grant (SPEC.md §7.3.3), and
//! the guest's check of it (§7.7.3, `proof::check`, which `InvitationGuest` runs on every grant
//! whose credentials leave parents missing): a proof shows the admission only if a chain of
//! grants that manage members leads from the space key to the host, and the host granted the
//! code's role and admitted the guest's control feed.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::credential::Credential;
use spaces_protocol::fixture::{Actor, SpaceFixture, shapes};
use spaces_protocol::membership::Membership;
use spaces_protocol::proof::{self, ProofError};
use spaces_protocol::{PublicKey, Role};

/// A space of `size` credentials by the owner, an admin `host` the owner made, and `guest`
/// admitted by `host` as an editor, all held by the host's replica.
struct Case {
    f: SpaceFixture,
    host: Actor,
    guest: Actor,
    held: Membership,
}

fn case(seed: u64, size: usize, host_role: Role) -> Case {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let (f, mut creds) = shapes::honest_chain(&mut rng, size);
    let (host, admitted) = f.admit(&mut rng, &f.owner, host_role, vec![creds.last().unwrap().id()]);
    creds.extend(admitted);
    let (guest, by_host) = f.admit(&mut rng, &host, Role::Editor, vec![creds.last().unwrap().id()]);
    creds.extend(by_host);
    let mut held = Membership::new(f.space());
    held.insert_batch(creds);
    Case { f, host, guest, held }
}

/// What the guest builds from a grant's credentials.
fn received(space: PublicKey, credentials: Vec<Credential>) -> Membership {
    let mut m = Membership::new(space);
    m.insert_batch(credentials);
    m
}

fn built(c: &Case) -> Vec<Credential> {
    let feeds = [c.guest.control.public(), c.guest.data.public()];
    proof::build(&c.held, &c.host.key(), &c.host.identity.noise_key(), &c.guest.key(), &feeds).expect("a proof")
}

fn check(c: &Case, creds: Vec<Credential>, host: &PublicKey, role: Role) -> Result<proof::Provisional, ProofError> {
    let m = received(c.f.space(), creds);
    proof::check(&m, Some(host), &c.guest.key(), &c.guest.control.public(), Some(role))
}

#[test]
fn a_proof_built_by_an_admin_host_shows_the_guests_admission_and_names_the_hosts_devices() {
    let c = case(1, 2_000, Role::Admin);
    let creds = built(&c);
    assert!(creds.len() <= 16, "bounded whatever the space's size: {}", creds.len());
    let p = check(&c, creds, &c.host.key(), Role::Editor).expect("the proof shows the admission");
    assert_eq!((p.host, p.role), (c.host.key(), Role::Editor));
    assert!(p.is_host_device(&c.host.identity.noise_key()));
    assert!(!p.is_host_device(&c.f.owner.identity.noise_key()), "only the host's devices are linked with");
    assert!(p.carrier(&c.f.owner.control.public()).is_some(), "the owner's feed carries the genesis");
    assert!(p.carrier(&c.host.control.public()).is_some(), "the host's feed carries the guest's grant");
    assert!(p.carrier(&c.host.data.public()).is_none(), "data feeds wait for the membership");
}

#[test]
fn a_proof_whose_chain_does_not_authorise_the_host_is_refused() {
    // The host is an editor: it signed a grant for the guest, but nothing let it.
    let c = case(2, 100, Role::Editor);
    let held: Vec<Credential> = c.held.credentials().cloned().collect();
    let host = c.host.key();
    let guest = c.guest.key();
    let chain_and_own: Vec<Credential> = held
        .iter()
        .filter(|x| x.parents().len() <= 1 && (c.f.genesis.contains(x) || x.subject() == host || x.issuer() == host))
        .cloned()
        .collect();
    assert!(chain_and_own.iter().any(|x| x.subject() == guest));
    assert_eq!(check(&c, chain_and_own, &host, Role::Editor), Err(ProofError::NotAuthorised { identity: host }));
    // An admin host's proof without the link that gives it its authority is refused too.
    let c = case(3, 100, Role::Admin);
    let host = c.host.key();
    let without_link: Vec<Credential> = built(&c).into_iter().filter(|x| x.subject() != host).collect();
    assert_eq!(check(&c, without_link, &host, Role::Editor), Err(ProofError::NotAuthorised { identity: host }));
    // Nor does a proof authorise a host the chain does not reach: the guest itself, say.
    let guest = c.guest.key();
    assert_eq!(check(&c, built(&c), &guest, Role::Editor), Err(ProofError::NotAuthorised { identity: guest }));
}

#[test]
fn a_member_invited_again_gets_a_proof_of_the_first_admission_naming_the_second_hosts_devices() {
    // The guest is the host's; the owner, another admin, invites it again and signs nothing.
    let c = case(7, 2_000, Role::Admin);
    let owner = &c.f.owner;
    let feeds = [c.guest.control.public(), c.guest.data.public()];
    let creds = proof::build(&c.held, &owner.key(), &owner.identity.noise_key(), &c.guest.key(), &feeds).unwrap();
    let p = check(&c, creds.clone(), &owner.key(), Role::Editor).expect("the first admission is shown");
    assert_eq!(p.host, owner.key());
    assert!(p.is_host_device(&owner.identity.noise_key()), "the guest links with the host it met");
    assert!(!p.is_host_device(&c.host.identity.noise_key()));
    // The first admitter's authority is what the proof must show: without it, no grant counts.
    let first = c.host.key();
    let without: Vec<Credential> = creds.into_iter().filter(|x| x.subject() != first).collect();
    assert_eq!(check(&c, without, &owner.key(), Role::Editor).map(|_| ()), Err(ProofError::NoGrant));
}

#[test]
fn a_proof_granting_another_role_than_the_codes_is_refused() {
    let c = case(4, 100, Role::Admin);
    assert_eq!(check(&c, built(&c), &c.host.key(), Role::Reader).map(|_| ()), Err(ProofError::NoGrant));
    assert_eq!(check(&c, built(&c), &c.host.key(), Role::Admin).map(|_| ()), Err(ProofError::NoGrant));
}

#[test]
fn a_proof_without_the_guests_control_feed_or_the_genesis_is_refused() {
    let c = case(5, 100, Role::Admin);
    let control = c.guest.control.public();
    let no_feed: Vec<Credential> = built(&c).into_iter().filter(|x| x.subject() != control).collect();
    assert_eq!(check(&c, no_feed, &c.host.key(), Role::Editor).map(|_| ()), Err(ProofError::NoFeed));
    let genesis = c.f.genesis[0].id();
    let no_genesis: Vec<Credential> = built(&c).into_iter().filter(|x| x.id() != genesis).collect();
    assert_eq!(check(&c, no_genesis, &c.host.key(), Role::Editor).map(|_| ()), Err(ProofError::NoGenesis));
}

#[test]
fn a_chain_longer_than_the_bound_is_not_built() {
    // Admins admitting admins, one after another: AUTHORITY_CHAIN_MAX + 1 links to the last.
    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let f = SpaceFixture::new(&mut rng);
    let mut creds = f.genesis.clone();
    let mut by = f.owner.clone();
    for _ in 0..spaces_protocol::membership::AUTHORITY_CHAIN_MAX {
        let (next, admitted) = f.admit(&mut rng, &by, Role::Admin, vec![creds.last().unwrap().id()]);
        creds.extend(admitted);
        by = next;
    }
    let mut held = Membership::new(f.space());
    held.insert_batch(creds);
    let noise = by.identity.noise_key();
    let err = proof::build(&held, &by.key(), &noise, &f.owner.key(), &[]).map(|_| ());
    assert_eq!(err, Err(ProofError::Chain(spaces_protocol::membership::ChainError::TooLong)));
}
