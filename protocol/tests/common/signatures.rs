//! Forgeries: a signed credential broken where its signature covers it is refused.

use proptest::prelude::*;
use proptest::sample::Index;
use spaces_protocol::credential::{Credential, Role};
use spaces_protocol::fixture::SpaceFixture;
use spaces_protocol::membership::{InsertError, Membership};
use spaces_protocol::time::Timestamp;

use super::{Check, arb_credential, rng};

/// (credential, seed of a space, role of its new member, forgery).
pub fn arb_forgery_case() -> impl Strategy<Value = (Credential, u64, usize, Forgery)> {
    (arb_credential(), any::<u64>(), 0usize..3, arb_forgery())
}

/// Where to break a signed credential.
#[derive(Debug, Clone)]
pub enum Forgery {
    /// Flip bits of one signature byte.
    Signature(Index, u8),
    /// Change the signed body (`issued_at`) but keep the signature.
    Body(u64),
    /// Flip bits of one byte of the device chain's signature (or of the signature itself
    /// when the space key signed directly).
    Chain(Index, u8),
}

pub fn arb_forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Forgery::Signature(i, m)),
        (1u64..1000).prop_map(Forgery::Body),
        (any::<Index>(), 1u8..=255).prop_map(|(i, m)| Forgery::Chain(i, m)),
    ]
}

pub fn forge(c: &Credential, f: &Forgery) -> Credential {
    let mut c = c.clone();
    match f {
        Forgery::Signature(i, m) => c.signature.0[i.index(64)] ^= m,
        Forgery::Body(d) => c.body.issued_at = Timestamp(c.body.issued_at.0.wrapping_add(*d)),
        Forgery::Chain(i, m) => match c.chain.as_deref_mut() {
            Some(chain) => chain.signature.0[i.index(64)] ^= m,
            None => c.signature.0[i.index(64)] ^= m,
        },
    }
    c
}

/// A credential whose signature (or chain signature) does not cover its content is refused
/// by `verify`, and by `Membership::insert` without any change of state.
pub fn check_forgery_refused(c: &Credential, seed: u64, role: usize, forgery: &Forgery) -> Check {
    prop_assert!(c.verify().is_ok());
    let forged = forge(c, forgery);
    prop_assert!(forged.verify().is_err(), "forged credential verifies: {:?}", forgery);

    let mut rng = rng(seed);
    let f = SpaceFixture::new(&mut rng);
    let mut m = Membership::new(f.space());
    for r in m.insert_batch(f.genesis.clone()) {
        prop_assert!(r.is_ok());
    }
    let role = [Role::Admin, Role::Editor, Role::Reader][role % 3];
    let (member, creds) = f.admit(&mut rng, &f.owner, role, vec![f.tip()]);
    let forged = forge(&creds[0], forgery);
    let before = (m.len(), m.members(), m.heads());
    let r = m.insert(forged);
    prop_assert!(matches!(r, Err(InsertError::Invalid(_))), "forged grant not refused: {:?}", r);
    prop_assert_eq!((m.len(), m.members(), m.heads()), before);
    prop_assert_eq!(m.role(&member.key()), None);
    Ok(())
}
