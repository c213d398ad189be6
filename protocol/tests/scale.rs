//! Resolution cost on every credential shape, counted, never timed (issue 11): the honest
//! linear history and the hostile shapes of `fixture::shapes`, loaded in one batch and one
//! credential at a time. `Membership::work` counts credentials judged and fixpoint rounds;
//! `clock_entries` counts the causal graph's memory beyond one node per credential. Each
//! hostile shape must cost, per credential, a small constant times the honest one, and its
//! resolved state must equal the batch's whatever the arrival.
//!
//! `cargo test -p spaces-protocol --release --test scale -- --nocapture` prints the table.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::PublicKey;
use spaces_protocol::credential::Credential;
use spaces_protocol::fixture::shapes;
use spaces_protocol::membership::{Effect, Membership};

/// What loading one shape cost.
#[derive(Debug, Clone, Copy)]
struct Cost {
    credentials: usize,
    judged: u64,
    rounds: u64,
    clock_entries: usize,
}

impl Cost {
    fn judged_per(&self) -> f64 {
        self.judged as f64 / self.credentials as f64
    }
    fn clock_per(&self) -> f64 {
        self.clock_entries as f64 / self.credentials as f64
    }
}

fn batch(space: PublicKey, creds: &[Credential]) -> (Membership, Cost) {
    let mut m = Membership::new(space);
    for r in m.insert_batch(creds.to_vec()) {
        r.expect("every shape's credentials are valid");
    }
    let cost = cost(&m, creds.len());
    (m, cost)
}

fn one_by_one(space: PublicKey, creds: &[Credential]) -> (Membership, Cost) {
    let mut m = Membership::new(space);
    for c in creds {
        m.insert(c.clone()).expect("every shape's credentials are valid");
    }
    let cost = cost(&m, creds.len());
    (m, cost)
}

fn cost(m: &Membership, credentials: usize) -> Cost {
    let w = m.work();
    Cost { credentials, judged: w.judged, rounds: w.rounds, clock_entries: m.clock_entries() }
}

/// Every credential's effect, in the order given: what two replicas must agree on.
fn effects(m: &Membership, creds: &[Credential]) -> Vec<Effect> {
    creds.iter().map(|c| m.effect(&c.id()).expect("held")).collect()
}

fn row(name: &str, how: &str, c: Cost) {
    eprintln!(
        "| {name} | {how} | {} | {} | {:.2} | {} | {:.2} |",
        c.credentials,
        c.judged,
        c.judged_per(),
        c.rounds,
        c.clock_per()
    );
}

type Shape = fn(&mut ChaCha20Rng, usize) -> (spaces_protocol::fixture::SpaceFixture, Vec<Credential>);

fn shapes() -> Vec<(&'static str, Shape)> {
    vec![
        ("honest", shapes::honest_chain::<ChaCha20Rng>),
        ("double-cite", shapes::double_cite_reader::<ChaCha20Rng>),
        ("cascade", shapes::demotion_cascade::<ChaCha20Rng>),
    ]
}

/// Per-credential judged steps and clock entries of every shape, batch and one by one, plus
/// early junk arriving one by one after an honest history.
fn measure(size: usize) -> Vec<(&'static str, &'static str, Cost)> {
    let mut out = Vec::new();
    for (name, shape) in shapes() {
        let (f, creds) = shape(&mut ChaCha20Rng::seed_from_u64(11), size);
        let (b, cb) = batch(f.space(), &creds);
        out.push((name, "batch", cb));
        if name == "cascade" && size > 10_000 {
            continue;
        }
        let (o, co) = one_by_one(f.space(), &creds);
        out.push((name, "one-by-one", co));
        assert_eq!(effects(&b, &creds), effects(&o, &creds), "{name}: arrival order changed the result");
        assert_eq!(b.members(), o.members(), "{name}");
        let mut scratch = o.clone();
        scratch.resolve();
        assert_eq!(effects(&scratch, &creds), effects(&o, &creds), "{name}: incremental differs from scratch");
    }
    let junk = size / 10;
    let (f, honest, junk) = shapes::early_junk(&mut ChaCha20Rng::seed_from_u64(11), size - junk, junk);
    let (mut m, _) = batch(f.space(), &honest);
    let before = m.work();
    for c in &junk {
        m.insert(c.clone()).expect("valid");
    }
    let after = m.work();
    let mut scratch = m.clone();
    scratch.resolve();
    let all: Vec<Credential> = honest.iter().chain(&junk).cloned().collect();
    assert_eq!(effects(&scratch, &all), effects(&m, &all), "early junk: incremental differs from scratch");
    let c = Cost {
        credentials: junk.len(),
        judged: after.judged - before.judged,
        rounds: after.rounds - before.rounds,
        clock_entries: m.clock_entries(),
    };
    out.push(("early-junk", "junk one-by-one", c));
    out
}

#[test]
fn every_shape_costs_what_its_size_costs() {
    check_sizes(&[1_000, 10_000]);
}

/// The same at 100k (minutes: `-- --ignored`). The one-by-one cascade is skipped there: it
/// reruns its voids per insert (SPEC §4.10).
#[test]
#[ignore]
fn every_shape_costs_what_its_size_costs_at_100k() {
    check_sizes(&[100_000]);
}

fn check_sizes(sizes: &[usize]) {
    eprintln!("| shape | load | credentials | judged | judged/credential | rounds | clock entries/credential |");
    eprintln!("| --- | --- | --- | --- | --- | --- | --- |");
    for size in sizes.iter().copied() {
        for (name, how, c) in measure(size) {
            row(name, how, c);
            let n = c.credentials as u64;
            assert!(
                c.clock_entries <= c.credentials,
                "{name} {how} at {size}: clock entries grow past one per credential"
            );
            // A cascade arriving one credential at a time reruns its rounds per insert (SPEC §4.10).
            if !(name == "cascade" && how == "one-by-one") {
                assert!(c.judged <= 2 * n, "{name} {how} at {size}: {} judged for {n} credentials", c.judged);
            }
        }
    }
}

/// The verification cache changes no answer: a chain whose body was verified once but whose
/// signature bytes differ is checked again and refused, as a replica without the cache does.
#[test]
fn a_cached_device_chain_does_not_excuse_other_signature_bytes() {
    use spaces_protocol::credential::{Role, VerifyCache};
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let (f, creds) = shapes::honest_chain(&mut rng, 7);
    let member = f.owner.key();
    let tip = vec![creds[6].id()];
    let good = f.grant(&f.owner, creds[4].subject(), Role::Reader, tip.clone());
    let mut cache = VerifyCache::default();
    assert_eq!(good.verify_cached(&mut cache), good.verify());
    assert_eq!(cache.chains(), 1, "the owner's device chain is remembered");
    let mut bad = f.grant(&f.owner, creds[4].subject(), Role::Editor, tip);
    bad.chain.as_mut().expect("the owner signs with a device").signature.0[10] ^= 1;
    assert!(bad.verify().is_err());
    assert_eq!(bad.verify_cached(&mut cache), bad.verify(), "{member:?}");
    let again = f.grant(&f.owner, creds[4].subject(), Role::Editor, vec![good.id()]);
    assert_eq!(again.verify_cached(&mut cache), again.verify());
    assert_eq!(cache.chains(), 1);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Convergence on the hostile shapes: any arrival order, in runs of one credential or
    /// batches, resolves as the whole set does in one batch and as `resolve()` from scratch.
    #[test]
    fn hostile_shapes_converge_in_any_arrival_order(seed in 0u64..1_000, which in 0usize..4, cut in 1usize..6) {
        use rand_core::RngCore;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (f, creds) = match which {
            0 => shapes::demotion_cascade(&mut rng, 60),
            1 => shapes::double_cite_reader(&mut rng, 40),
            2 => shapes::honest_chain(&mut rng, 30),
            _ => {
                let (f, mut honest, junk) = shapes::early_junk(&mut rng, 30, 10);
                honest.extend(junk);
                (f, honest)
            }
        };
        let (whole, _) = batch(f.space(), &creds);
        let mut shuffled = creds.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
        }
        let mut m = Membership::new(f.space());
        for (k, run) in shuffled.chunks(cut).enumerate() {
            if k % 2 == 0 {
                for c in run {
                    m.insert(c.clone()).expect("valid");
                }
            } else {
                for r in m.insert_batch(run.to_vec()) {
                    r.expect("valid");
                }
            }
        }
        proptest::prop_assert_eq!(effects(&m, &creds), effects(&whole, &creds));
        proptest::prop_assert_eq!(m.members(), whole.members());
        let mut scratch = m.clone();
        scratch.resolve();
        proptest::prop_assert_eq!(effects(&scratch, &creds), effects(&m, &creds));
    }
}

/// Found by the simulator's resource oracle R2 (hostile seed 727, swarm seed 504, on the
/// insider's shape bursts): every insert of a credential that no other judgment reads (here a
/// cancellation of no delegation) re-ran the fixpoint from the whole old void set, so after a
/// strong removal voided `v` credentials each such insert cost `v` judgments. It changes no
/// other credential's effect and nothing can void it, so it costs one judgment.
#[test]
fn a_credential_no_judgment_reads_costs_one_judgment_after_a_strong_removal() {
    use spaces_protocol::credential::Assertion;
    use spaces_protocol::{CredentialId, hash::Digest};
    let mut rng = ChaCha20Rng::seed_from_u64(727);
    let (f, creds) = shapes::demotion_cascade(&mut rng, 2_000);
    let (mut m, _) = batch(f.space(), &creds);
    let voided = creds.iter().filter(|c| matches!(m.effect(&c.id()), Some(Effect::Ignored(_)))).count();
    assert!(voided > 400, "the cascade voided a large set ({voided})");
    let before = m.work().judged;
    const CANCELS: u64 = 200;
    for k in 0..CANCELS {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&k.to_le_bytes());
        let cancel = Assertion::CancelInvitation { space: f.space(), delegation: CredentialId(Digest(id)) };
        let c = f.owner.identity.signer().issue(f.space(), cancel, f.now, m.next_parents());
        m.insert(c).expect("valid");
    }
    let per = (m.work().judged - before) as f64 / CANCELS as f64;
    eprintln!("judged per cancellation after a cascade voiding {voided}: {per:.1}");
    assert!(per <= 2.0, "each cancellation judged {per:.1} credentials");
    let mut all = creds.clone();
    all.extend(m.credentials().skip(creds.len()).cloned());
    let (fresh, _) = batch(f.space(), &m.credentials().cloned().collect::<Vec<_>>());
    assert_eq!(effects(&m, &all), effects(&fresh, &all), "the incremental result is the full resolution's");
}
