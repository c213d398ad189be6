//! Canonical encoding: generated credentials, mutations and feed entries; their round trips,
//! and the strict decoder's refusals of non-minimal varints and tampered bytes.

use std::fmt::Debug;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use spaces_protocol::codec::Canonical;
use spaces_protocol::credential::{
    Assertion, AuthMethod, Credential, CredentialId, Designation, FeedPosition, PARENTS_MAX, Role, SealedShare, Signer,
};
use spaces_protocol::feed::{EntryHash, FeedEntry, PAYLOAD_SIZE_MAX};
use spaces_protocol::hash::Digest;
use spaces_protocol::identity::Identity;
use spaces_protocol::item::{ItemId, Mutation, NAME_SIZE_MAX, Op, VALUE_SIZE_MAX, Value};
use spaces_protocol::keys::{Keypair, NoiseKey, NoiseKeypair, PublicKey};
use spaces_protocol::time::Timestamp;

use super::{Check, cid, rng};

/// Builds a credential signed by the space key (`hops == 0`) or by a device `hops` links
/// down a device chain (1 = the identity's first device; each further hop is a device
/// authorised by the previous one).
#[derive(Debug, Clone)]
pub struct CredSpec {
    pub seed: u64,
    pub kind: u8,
    pub role: usize,
    pub hops: u8,
    pub parents: Vec<[u8; 32]>,
    pub frontier: Vec<([u8; 32], u64)>,
    pub invitation: Option<[u8; 32]>,
    pub issued_at: u64,
    pub invitation_id: [u8; 16],
    pub method: u8,
    pub limit: u32,
    pub guest: Option<[u8; 32]>,
    pub shares: Vec<([u8; 32], [u8; 32], Vec<u8>)>,
}

pub fn arb_cred_spec() -> impl Strategy<Value = CredSpec> {
    (
        (any::<u64>(), 0u8..7, 0usize..5, 0u8..=4),
        vec(any::<[u8; 32]>(), 0..=PARENTS_MAX),
        vec((any::<[u8; 32]>(), any::<u64>()), 0..=8),
        proptest::option::of(any::<[u8; 32]>()),
        prop_oneof![Just(1_700_000_000_000u64), any::<u64>(), 0u64..200],
        (any::<[u8; 16]>(), 0u8..3, any::<u32>(), proptest::option::of(any::<[u8; 32]>())),
        vec((any::<[u8; 32]>(), any::<[u8; 32]>(), vec(any::<u8>(), 0..200)), 0..3),
    )
        .prop_map(|((seed, kind, role, hops), parents, frontier, invitation, issued_at, inv, shares)| CredSpec {
            seed,
            kind,
            role,
            hops,
            parents,
            frontier,
            invitation,
            issued_at,
            invitation_id: inv.0,
            method: inv.1,
            limit: inv.2,
            guest: inv.3,
            shares,
        })
}

/// A real signed credential of any assertion type, valid under `Credential::verify`.
pub fn build_credential(s: &CredSpec) -> Credential {
    let mut rng = rng(s.seed);
    let now = Timestamp::from_millis(s.issued_at);
    let space_key = Keypair::generate(&mut rng);
    let space = space_key.public();
    let mut identity = Identity::create(&mut rng, now);
    for _ in 1..s.hops {
        let (device, noise) = Identity::new_device_keys(&mut rng);
        let authorisation = identity.authorize_device(device.public(), noise.public(), now);
        identity = Identity::from_authorization(device, noise, authorisation).expect("fresh device");
    }
    let signer = if s.hops == 0 { Signer::direct(&space_key) } else { identity.signer() };
    let other = Keypair::generate(&mut rng).public();
    let parents: Vec<CredentialId> = s.parents.iter().copied().map(cid).collect();
    let mut space_parents = parents.clone();
    if space_parents.is_empty() {
        space_parents.push(cid([7; 32]));
    }
    let role = Role::ALL[s.role];
    match s.kind {
        0 => Signer::direct(&space_key).issue(space, Assertion::SpaceGenesis { space }, now, Vec::new()),
        1 => {
            let mut data_frontier: Vec<FeedPosition> =
                s.frontier.iter().map(|(k, l)| FeedPosition { feed: PublicKey(*k), length: *l }).collect();
            data_frontier.sort();
            data_frontier.dedup_by_key(|p| p.feed);
            let assertion = Assertion::SpaceMember { space, role, invitation: s.invitation.map(cid), data_frontier };
            signer.issue(other, assertion, now, space_parents)
        }
        2 => {
            let designation = if s.role.is_multiple_of(2) { Designation::Control } else { Designation::Data };
            let noise_key = NoiseKeypair::generate(&mut rng).public();
            let assertion =
                Assertion::AdmittedFeed { space, identity: signer.issuer, device: other, noise_key, designation };
            signer.issue(Keypair::generate(&mut rng).public(), assertion, now, space_parents)
        }
        3 => {
            let noise_key = NoiseKeypair::generate(&mut rng).public();
            let assertion = Assertion::AuthorizedDevice { identity: signer.issuer, device: other, noise_key };
            signer.issue(other, assertion, now, parents)
        }
        4 => {
            let auth_method = [AuthMethod::None, AuthMethod::Pin, AuthMethod::Key][s.method as usize];
            let assertion = Assertion::DelegateInvitation {
                space,
                invitation_id: s.invitation_id,
                auth_method,
                role,
                expires_at: Timestamp::from_millis(s.issued_at.wrapping_add(s.limit as u64)),
                use_limit: s.limit,
                guest: s.guest.map(PublicKey),
                host_key: NoiseKeypair::generate(&mut rng).public(),
                shares: s
                    .shares
                    .iter()
                    .map(|(recipient, encapsulated, ciphertext)| SealedShare {
                        recipient: NoiseKey(*recipient),
                        encapsulated: *encapsulated,
                        ciphertext: ciphertext.clone(),
                    })
                    .collect(),
            };
            signer.issue(space, assertion, now, space_parents)
        }
        5 => {
            let assertion = Assertion::CancelInvitation { space, delegation: space_parents[0] };
            signer.issue(space, assertion, now, space_parents)
        }
        _ => {
            let mut data_frontier: Vec<FeedPosition> =
                s.frontier.iter().map(|(k, l)| FeedPosition { feed: PublicKey(*k), length: *l }).collect();
            data_frontier.sort();
            data_frontier.dedup_by_key(|p| p.feed);
            let assertion = Assertion::RemovedDevice { space, device: other, data_frontier };
            identity.signer().issue(other, assertion, now, space_parents)
        }
    }
}

pub fn arb_credential() -> impl Strategy<Value = Credential> {
    arb_cred_spec().prop_map(|s| build_credential(&s))
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![4 => "\\PC{0,64}", 1 => "[a-z]{256}".prop_map(|s| { assert_eq!(s.len(), NAME_SIZE_MAX); s })]
}

fn arb_value() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        "\\PC{0,200}".prop_map(Value::Text),
        vec(any::<u8>(), 0..600).prop_map(Value::Bytes),
        Just(Value::Bytes(vec![0xab; VALUE_SIZE_MAX])),
        Just(Value::Text("é".repeat(VALUE_SIZE_MAX / 2))),
    ]
    .boxed()
}

fn arb_op() -> impl Strategy<Value = Op> {
    let item = any::<[u8; 16]>().prop_map(ItemId);
    prop_oneof![
        (item.clone(), arb_name()).prop_map(|(item, type_name)| Op::Create { item, type_name }),
        (item.clone(), arb_name(), arb_value()).prop_map(|(item, field, value)| Op::Set { item, field, value }),
        item.prop_map(|item| Op::Delete { item }),
    ]
}

pub fn arb_mutation() -> impl Strategy<Value = Mutation> {
    (vec(any::<[u8; 32]>(), 1..=PARENTS_MAX), any::<u64>(), vec(arb_op(), 1..12)).prop_map(|(control, lamport, ops)| {
        let mut control: Vec<CredentialId> = control.into_iter().map(cid).collect();
        control.sort();
        control.dedup();
        let mut m = Mutation { version: 1, control, lamport, ops };
        // Values up to their bound can add up past the payload bound; keep what fits.
        while m.ops.len() > 1 && m.to_bytes().len() > PAYLOAD_SIZE_MAX {
            m.ops.pop();
        }
        m
    })
}

pub fn arb_feed_entry() -> impl Strategy<Value = FeedEntry> {
    (any::<u64>(), prop_oneof![0u64..4, any::<u64>()], any::<[u8; 32]>(), vec(any::<u8>(), 0..400)).prop_map(
        |(seed, seq, prev, payload)| {
            let key = Keypair::generate(&mut rng(seed));
            let prev = (seq != 0).then_some(EntryHash(Digest(prev)));
            FeedEntry::sign(&key, seq, prev, payload)
        },
    )
}

pub fn check_credential_round_trip(c: &Credential) -> Check {
    prop_assert!(c.verify().is_ok(), "generator made an invalid credential: {:?}", c.verify());
    let bytes = c.to_bytes();
    let back = Credential::from_bytes(&bytes);
    prop_assert_eq!(back.as_ref(), Ok(c));
    prop_assert_eq!(back.expect("checked").id(), c.id());
    Ok(())
}

pub fn check_entry_round_trip(e: &FeedEntry) -> Check {
    prop_assert!(e.verify_signature().is_ok());
    let back = FeedEntry::from_bytes(&e.to_bytes());
    prop_assert_eq!(back.as_ref(), Ok(e));
    Ok(())
}

pub fn check_mutation_round_trip(m: &Mutation) -> Check {
    let back = Mutation::from_bytes(&m.to_bytes());
    prop_assert_eq!(back.as_ref(), Ok(m));
    Ok(())
}

/// Strictness: decoding never panics (a panic fails the case), and whatever it accepts
/// re-encodes to exactly the input.
pub fn check_strict<T: Canonical + Debug>(bytes: &[u8]) -> Check {
    if let Ok(v) = T::from_bytes(bytes) {
        let again = v.to_bytes();
        prop_assert!(
            again == bytes,
            "accepted {} bytes that re-encode to {} other bytes: {:?}",
            bytes.len(),
            again.len(),
            v
        );
    }
    Ok(())
}

/// Length of the LEB128 varint starting at `at` (None if it runs off the end).
pub fn varint_len(bytes: &[u8], at: usize) -> Option<usize> {
    let tail = bytes.get(at..)?;
    tail.iter().position(|b| b & 0x80 == 0).map(|p| p + 1)
}

/// Re-encodes the varint at `at` one byte longer with the same value: the last byte gets a
/// continuation bit and a zero byte follows (`x` becomes `x | 0x80, 0x00`).
pub fn non_minimal(bytes: &[u8], at: usize) -> Option<Vec<u8>> {
    let end = at + varint_len(bytes, at)?;
    let mut out = bytes[..end].to_vec();
    *out.last_mut().expect("varints are not empty") |= 0x80;
    out.push(0);
    out.extend_from_slice(&bytes[end..]);
    Some(out)
}

/// Offsets of some varints in a credential: `issued_at`, then the length of `parents`.
pub fn credential_varints(c: &Credential) -> Vec<usize> {
    let bytes = c.to_bytes();
    let issued_at = 1 + 32 + 32;
    let parents = issued_at + varint_len(&bytes, issued_at).expect("credential encodes issued_at");
    vec![issued_at, parents]
}

/// Offsets of `seq` and of the payload length in a feed entry.
pub fn entry_varints(e: &FeedEntry) -> Vec<usize> {
    let bytes = e.to_bytes();
    let seq = 1 + 32;
    let prev = seq + varint_len(&bytes, seq).expect("entry encodes seq");
    let payload = prev + if e.body.prev.is_some() { 33 } else { 1 };
    vec![seq, payload]
}

/// Offsets of the control length, the Lamport clock and the op count in a mutation.
pub fn mutation_varints(m: &Mutation) -> Vec<usize> {
    let bytes = m.to_bytes();
    let control = 1;
    let lamport = control + varint_len(&bytes, control).expect("control length") + 32 * m.control.len();
    let ops = lamport + varint_len(&bytes, lamport).expect("lamport");
    vec![control, lamport, ops]
}

/// The targeted case: every listed varint, made one byte longer, must be refused.
pub fn check_non_minimal_refused<T: Canonical + Debug>(bytes: &[u8], varints: &[usize]) -> Check {
    prop_assert!(T::from_bytes(bytes).is_ok(), "the untouched encoding decodes");
    for at in varints {
        let longer = non_minimal(bytes, *at).expect("offset is a varint");
        let decoded = T::from_bytes(&longer);
        prop_assert!(decoded.is_err(), "non-minimal varint at offset {} accepted: {:?}", at, decoded);
        check_strict::<T>(&longer)?;
    }
    Ok(())
}

/// One edit of an encoding.
#[derive(Debug, Clone)]
pub enum Tamper {
    Flip(Index, u8),
    Append(Vec<u8>),
    Truncate(Index),
    Insert(Index, u8),
    Remove(Index),
    NonMinimal(Index),
    /// Overwrite a byte with a small value (0..4): lengths, counts, tags and options change.
    Small(Index, u8),
}

pub fn arb_tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Tamper::Flip(i, m)),
        vec(any::<u8>(), 1..8).prop_map(Tamper::Append),
        any::<Index>().prop_map(Tamper::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Tamper::Insert(i, b)),
        any::<Index>().prop_map(Tamper::Remove),
        any::<Index>().prop_map(Tamper::NonMinimal),
        (any::<Index>(), 0u8..4).prop_map(|(i, b)| Tamper::Small(i, b)),
    ]
}

pub fn tamper(bytes: &[u8], edits: &[Tamper]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for edit in edits {
        if b.is_empty() {
            if let Tamper::Append(more) = edit {
                b.extend_from_slice(more);
            }
            continue;
        }
        match edit {
            Tamper::Flip(i, m) => {
                let i = i.index(b.len());
                b[i] ^= m;
            }
            Tamper::Append(more) => b.extend_from_slice(more),
            Tamper::Truncate(i) => b.truncate(i.index(b.len())),
            Tamper::Insert(i, x) => b.insert(i.index(b.len() + 1), *x),
            Tamper::Remove(i) => {
                b.remove(i.index(b.len()));
            }
            Tamper::NonMinimal(i) => {
                if let Some(longer) = non_minimal(&b, i.index(b.len())) {
                    b = longer;
                }
            }
            Tamper::Small(i, x) => {
                let i = i.index(b.len());
                b[i] = *x;
            }
        }
    }
    b
}

pub fn arb_tampers() -> impl Strategy<Value = Vec<Tamper>> {
    vec(arb_tamper(), 1..4)
}
