//! `credentials.json`: signing (SPEC.md §3.4) and stateless verification (§3.6), with broken
//! credentials of every kind: type, version, signature, encoding, device chain, shape, and
//! the Ed25519 edge cases of §1.3 inside a credential.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde_json::json;
use spaces_protocol::Canonical;
use spaces_protocol::credential::{Assertion, Credential, Signer};
use spaces_protocol::fixture::SpaceFixture;
use spaces_protocol::identity::Identity;
use spaces_protocol::keys::{Keypair, NoiseKeypair, PublicKey, Signature};
use spaces_protocol::{Role, Timestamp};

use super::encoding::spec_genesis;
use super::keys::add_ell;
use super::{invalid, valid};
use crate::file::VectorFile;
use crate::json::hex;

const SIGN: &str = "credential.sign";
const VERIFY: &str = "credential.verify";

fn notes(f: &mut VectorFile) {
    f.note("Valid", "Functionality", "A correct credential that MUST verify.");
    f.note("SpecExample", "Functionality", "The worked example of SPEC.md §2.6.");
    f.note(
        "DeviceChain",
        "Functionality",
        "Signed by a device on behalf of its identity, with the AuthorizedDevice chain (§1.5, §3.3).",
    );
    f.note("WrongType", "Functionality", "The assertion's variant index changed after signing: the bytes no longer decode, or the signature no longer covers them.");
    f.note(
        "WrongVersion",
        "Versioning",
        "A version byte other than 1, in the credential or in a link of its chain (§2.3 rule 9).",
    );
    f.note("BadSignature", "Authentication", "The signature does not verify over the signing input (§3.4).");
    f.note(
        "NonCanonical",
        "Malleability",
        "A non-canonical encoding of an otherwise valid credential; a strict decoder refuses it before verifying.",
    );
    f.note(
        "BrokenChain",
        "Authentication",
        "The device chain is missing, unexpected, for another device or identity, or itself invalid (§3.6).",
    );
    f.note("BadShape", "Functionality", "Breaks a shape rule of §3.5 although correctly signed.");
    f.note("NonCanonicalS", "SignatureMalleability", "s + ℓ in place of s (§1.3 rule 1).");
    f.note("SmallOrderKey", "WeakPublicKey", "A credential of a small-order key with R = identity and s = 0: valid under cofactorless lenient verification for any body, refused by §1.3 rule 4.");
}

fn sign_cases(f: &mut VectorFile, fx: &SpaceFixture) {
    let spec_seed: [u8; 32] = core::array::from_fn(|i| i as u8);
    let genesis = spec_genesis();
    let body = |c: &Credential| hex(postcard_body(c));
    let t = f.group(SIGN);
    let spec = valid(
        SIGN,
        "SPEC §2.6 SpaceGenesis signed by the space key",
        &["Valid", "SpecExample"],
        json!({ "signerSeed": hex(spec_seed), "body": body(&genesis) }),
    );
    assert_eq!(
        spec.output["signature"],
        "6e4a4b12707ff408165ab0dde3424c26d50c8f6ee2fe5dd5104798b81fbffa650531643f43d30d20aedf8d342e1a792d589e6bfefb06fa33718a0d6799acdb0c"
    );
    t.push(spec);
    let admit = &fx.genesis[2];
    let input = json!({
        "signerSeed": hex(fx.owner.identity.device_keypair().secret_bytes()),
        "body": body(admit),
        "chain": hex(fx.owner.identity.device_credential().to_bytes()),
    });
    let signed =
        valid(SIGN, "feed admission signed by the owner's device, chain attached", &["Valid", "DeviceChain"], input);
    assert_eq!(signed.output["credential"], hex(admit.to_bytes()));
    t.push(signed);
}

fn postcard_body(c: &Credential) -> Vec<u8> {
    let bytes = c.to_bytes();
    let chain_len = c.chain.as_ref().map_or(0, |l| l.to_bytes().len());
    bytes[..bytes.len() - 64 - 1 - chain_len].to_vec()
}

fn resign(c: &mut Credential, key: &Keypair) {
    c.signature = key.sign(&c.body.signing_input());
}

/// The credentials the verify cases start from.
struct Cast<'a> {
    fx: &'a SpaceFixture,
    /// Another identity, for chains that authorise the wrong one.
    member: Identity,
    /// A grant signed by the owner's second device: identity → device 1 → device 2.
    two_links: Credential,
}

impl Cast<'_> {
    fn member_assertion(&self, role: Role) -> Assertion {
        Assertion::SpaceMember { space: self.fx.space(), role, invitation: None, data_frontier: vec![] }
    }
}

fn cast<'a>(fx: &'a SpaceFixture, rng: &mut ChaCha20Rng) -> Cast<'a> {
    let owner = &fx.owner.identity;
    let (dev2, noise2) = (Keypair::generate(rng), NoiseKeypair::generate(rng));
    let link2 = owner.authorize_device(dev2.public(), noise2.public(), fx.now);
    let member = Identity::create(rng, fx.now);
    let mut cast = Cast { fx, member, two_links: fx.genesis[1].clone() };
    let assertion = cast.member_assertion(Role::Reader);
    cast.two_links = Signer::device(&dev2, &link2).issue(cast.member.identity_key(), assertion, fx.now, vec![fx.tip()]);
    cast
}

fn ok(c: &Credential) -> serde_json::Value {
    json!({ "credential": hex(c.to_bytes()) })
}

fn bad(t: &mut Vec<crate::file::Test>, comment: &str, flag: &'static str, c: &Credential) {
    t.push(invalid(VERIFY, comment, &[flag], ok(c)));
}

fn valid_cases(t: &mut Vec<crate::file::Test>, c: &Cast<'_>) {
    let fx = c.fx;
    let device = fx.owner.identity.device_credential();
    t.push(valid(VERIFY, "SPEC §2.6 SpaceGenesis", &["Valid", "SpecExample"], ok(&spec_genesis())));
    t.push(valid(VERIFY, "AuthorizedDevice signed by the identity key", &["Valid"], ok(device)));
    t.push(valid(VERIFY, "owner grant signed by the space key", &["Valid"], ok(&fx.genesis[1])));
    let flags = ["Valid", "DeviceChain"];
    t.push(valid(VERIFY, "feed admission signed by a device (one link)", &flags, ok(&fx.genesis[2])));
    t.push(valid(VERIFY, "grant signed by a second device (two links)", &flags, ok(&c.two_links)));
}

fn signature_and_version_cases(t: &mut Vec<crate::file::Test>, fx: &SpaceFixture) {
    let grant = &fx.genesis[1];
    let mut c = grant.clone();
    c.signature.0[0] ^= 1;
    bad(t, "one bit of R flipped", "BadSignature", &c);
    let mut c = grant.clone();
    c.body.issued_at = Timestamp::from_millis(fx.now.as_millis() + 1);
    bad(t, "issued_at changed after signing", "BadSignature", &c);
    let mut c = fx.genesis[2].clone();
    c.body.signer = fx.owner.identity.identity_key();
    c.chain = None;
    resign(&mut c, &fx.space_key);
    bad(t, "signed by the space key but claims the owner identity as signer", "BadSignature", &c);
    let mut c = grant.clone();
    c.body.version = 2;
    resign(&mut c, &fx.space_key);
    bad(t, "version 2, correctly signed", "WrongVersion", &c);
    let mut c = fx.genesis[2].clone();
    if let Some(link) = c.chain.as_mut() {
        link.body.version = 0;
    }
    bad(t, "chain link with version 0", "WrongVersion", &c);
}

fn encoding_cases(t: &mut Vec<crate::file::Test>, grant: &Credential) {
    // Type tag: SpaceMember (1) retagged as AdmittedFeed (2) and as CancelInvitation (5).
    for (variant, what) in [(2u8, "AdmittedFeed"), (5, "CancelInvitation")] {
        let mut bytes = grant.to_bytes();
        let at = 1 + 32 + 32 + 6 + 1 + 32 * grant.parents().len();
        assert_eq!(bytes[at], 1, "the SpaceMember variant index");
        bytes[at] = variant;
        let comment = format!("SpaceMember variant retagged as {what}");
        t.push(invalid(VERIFY, &comment, &["WrongType"], json!({ "credential": hex(bytes) })));
    }
    let mut bytes = grant.to_bytes();
    let at = 1 + 32 + 32 + 5;
    assert_eq!(bytes[at] & 0x80, 0, "last byte of issued_at");
    bytes[at] |= 0x80;
    bytes.insert(at + 1, 0);
    let input = json!({ "credential": hex(bytes) });
    t.push(invalid(VERIFY, "issued_at as a non-minimal varint", &["NonCanonical"], input));
}

fn chain_cases(t: &mut Vec<crate::file::Test>, cast: &Cast<'_>) {
    let (fx, owner) = (cast.fx, &cast.fx.owner.identity);
    let mut c = fx.genesis[2].clone();
    c.chain = None;
    bad(t, "device signature, chain missing", "BrokenChain", &c);
    let mut c = fx.genesis[1].clone();
    c.chain = Some(Box::new(owner.device_credential().clone()));
    bad(t, "signed by the issuer itself, chain attached anyway", "BrokenChain", &c);
    let mut c = fx.genesis[2].clone();
    c.chain = Some(Box::new(cast.member.device_credential().clone()));
    bad(t, "chain authorises another identity's device", "BrokenChain", &c);
    let mut c = cast.two_links.clone();
    c.chain = Some(Box::new(owner.device_credential().clone()));
    bad(t, "chain authorises another device of the same identity", "BrokenChain", &c);
    let mut c = cast.two_links.clone();
    if let Some(link) = c.chain.as_mut() {
        link.signature.0[5] ^= 0x20;
    }
    bad(t, "second link's signature broken", "BrokenChain", &c);
    let mut c = cast.two_links.clone();
    if let Some(link) = c.chain.as_mut().and_then(|l| l.chain.as_mut()) {
        link.signature.0[40] ^= 1;
    }
    bad(t, "first link (identity → device) broken", "BrokenChain", &c);
}

fn shape_cases(t: &mut Vec<crate::file::Test>, cast: &Cast<'_>) {
    let (fx, owner) = (cast.fx, &cast.fx.owner.identity);
    let mut c = spec_genesis();
    c.body.parents = vec![fx.genesis[1].id()];
    resign(&mut c, &Keypair::from_secret_bytes(core::array::from_fn(|i| i as u8)));
    bad(t, "SpaceGenesis with a parent", "BadShape", &c);
    let self_device = Assertion::AuthorizedDevice {
        identity: owner.identity_key(),
        device: owner.identity_key(),
        noise_key: owner.noise_key(),
    };
    let id_key = owner.identity_secret().expect("the creating device holds the identity secret");
    let c = Signer::direct(id_key).issue(owner.identity_key(), self_device, fx.now, vec![]);
    bad(t, "AuthorizedDevice whose device is the identity", "BadShape", &c);
    let c = owner.signer().issue(fx.space(), cast.member_assertion(Role::Admin), fx.now, vec![fx.tip()]);
    bad(t, "SpaceMember naming the space key as member", "BadShape", &c);
    let member = cast.member.identity_key();
    let c = owner.signer().issue(member, cast.member_assertion(Role::Reader), fx.now, vec![]);
    bad(t, "SpaceMember without parents", "BadShape", &c);
}

/// The Ed25519 edge cases of §1.3 inside credentials.
fn edge_cases(t: &mut Vec<crate::file::Test>, grant: &Credential) {
    let mut c = grant.clone();
    let malleated = [&c.signature.0[..32], &add_ell(&c.signature.0[32..])[..]].concat();
    c.signature = Signature(malleated.try_into().expect("64 bytes"));
    bad(t, "owner grant with s + ℓ", "NonCanonicalS", &c);
    let weak = PublicKey(hex::decode(super::keys::SMALL_ORDER[0].0).expect("hex").try_into().expect("32 bytes"));
    let mut c = spec_genesis();
    c.body.issuer = weak;
    c.body.subject = weak;
    c.body.signer = weak;
    c.body.assertion = Assertion::SpaceGenesis { space: weak };
    let mut forged = [0u8; 64];
    forged[0] = 1;
    c.signature = Signature(forged);
    bad(t, "SpaceGenesis of the identity point, R = identity, s = 0", "SmallOrderKey", &c);
}

fn verify_cases(f: &mut VectorFile, fx: &SpaceFixture, rng: &mut ChaCha20Rng) {
    let cast = cast(fx, rng);
    let t = f.group(VERIFY);
    valid_cases(t, &cast);
    signature_and_version_cases(t, fx);
    encoding_cases(t, &fx.genesis[1]);
    chain_cases(t, &cast);
    shape_cases(t, &cast);
    edge_cases(t, &fx.genesis[1]);
    device_removal_cases(t, &cast);
}

/// `RemovedDevice` (assertion 6, §3.2, §3.5). Appended last: files only grow.
fn device_removal_cases(t: &mut Vec<crate::file::Test>, cast: &Cast<'_>) {
    let (fx, owner) = (cast.fx, &cast.fx.owner.identity);
    let device = cast.member.device_key();
    let removal = |device| Assertion::RemovedDevice { space: fx.space(), device, data_frontier: vec![] };
    let c = owner.signer().issue(device, removal(device), fx.now, vec![fx.tip()]);
    t.push(valid(VERIFY, "RemovedDevice signed by a device of the identity", &["Valid", "DeviceChain"], ok(&c)));
    let c = owner.signer().issue(owner.device_key(), removal(device), fx.now, vec![fx.tip()]);
    bad(t, "RemovedDevice whose subject is not its device", "BadShape", &c);
    let c = owner.signer().issue(device, removal(device), fx.now, vec![]);
    bad(t, "RemovedDevice without parents", "BadShape", &c);
    let own_key = cast.member.device_keypair();
    let by_itself = Signer::direct(own_key).issue(device, removal(device), fx.now, vec![fx.tip()]);
    bad(t, "RemovedDevice issued by the device it removes", "BadShape", &by_itself);
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("credentials.json", "spaces/1 credentials: signing and stateless verification");
    notes(&mut f);
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0002);
    let fx = SpaceFixture::new(&mut rng);
    sign_cases(&mut f, &fx);
    verify_cases(&mut f, &fx, &mut rng);
    f
}
