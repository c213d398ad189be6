//! Replication between two replicas of a space, driven directly through the pure functions
//! of SPEC §9.3 (`have`, `missing`, `ingest_batch`): no Peer, no network.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::credential::Designation;
use spaces_protocol::item::{ItemId, Op};
use spaces_protocol::replication;
use spaces_protocol::space::Space;
use spaces_protocol::{Client, PublicKey, Role, Timestamp};

/// A member that was offline while a new member joined and wrote `writes` entries: the
/// space as the host holds it afterwards, the member's stale copy, and whether the new
/// member's data feed sorts before the host's control feed (which admits it).
fn offline_member_scenario(seed: u64, writes: usize) -> (Space, Space, bool) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let now = Timestamp::from_millis(1_700_000_000_000);
    let mut host = Client::create_identity(&mut rng, now);
    let space = host.create_space(&mut rng, now);
    let stale = host.space(&space).unwrap().clone();
    let mut guest = Client::create_identity(&mut rng, now);
    let join = guest.join_request(&mut rng);
    let credentials = host.admit(&space, &join, Role::Editor, None, now).unwrap();
    guest.accept(&space, credentials).unwrap();
    for i in 0..writes {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let entry = guest.write(&space, vec![Op::Create { item: ItemId(id), type_name: "n".into() }]).unwrap();
        host.ingest(&space, entry).unwrap();
    }
    let full = host.space(&space).unwrap().clone();
    let feed_of = |identity: PublicKey, designation: Designation| {
        full.membership().feeds().find(|(_, a)| a.identity == identity && a.designation == designation).map(|(k, _)| *k)
    };
    let guest_data = feed_of(guest.identity_key(), Designation::Data).unwrap();
    let host_control = feed_of(host.identity_key(), Designation::Control).unwrap();
    (full, stale, guest_data < host_control)
}

/// Pulls from `from` into `to` the way two Peers do, one batch per round; returns the rounds
/// it took, or `None` if `rounds_max` were not enough.
fn pull(from: &Space, to: &mut Space, rounds_max: usize) -> Option<usize> {
    for round in 0..rounds_max {
        if replication::have(to) == replication::have(from) {
            return Some(round);
        }
        let batch = replication::missing(from, &replication::have(to));
        replication::ingest_batch(to, batch);
    }
    None
}

/// Fix 7(a), SPEC §9.7 item 1 before: with feeds sent in key order, a member missing both
/// the admission (in the host's control feed) and 600 entries of the admitted data feed,
/// whose key sorts first, was sent the same 512 unacceptable entries in every round. Control
/// feeds now go first, so the admission arrives in the first batch.
#[test]
fn an_unadmitted_feed_sorting_first_cannot_stall_replication() {
    let mut adverse = 0;
    for seed in 0..16 {
        let (full, mut stale, data_first) = offline_member_scenario(seed, 600);
        adverse += usize::from(data_first);
        let rounds = pull(&full, &mut stale, 10);
        assert!(rounds.is_some_and(|r| r <= 3), "seed {seed} (data feed first: {data_first}): {rounds:?} rounds");
        assert_eq!(stale.items(), full.items());
    }
    assert!(adverse > 0, "at least one seed puts the unadmitted data feed first");
}

/// A space whose owner writes one entry in each of `feeds` data feeds of its own (plus its
/// two genesis feeds), and a replica holding its credentials and the entries of every
/// `stride`-th feed only (`stride` 0: no entries).
fn many_feeds(feeds: usize, stride: usize) -> (Space, Space) {
    use spaces_protocol::Canonical;
    use spaces_protocol::credential::Assertion;
    use spaces_protocol::feed::FeedEntry;
    use spaces_protocol::fixture::SpaceFixture;
    use spaces_protocol::item::Mutation;
    use spaces_protocol::keys::Keypair;
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let fx = SpaceFixture::new(&mut rng);
    let owner = &fx.owner;
    let mut credentials = fx.genesis.clone();
    let mut keys = Vec::new();
    for _ in 0..feeds {
        let kp = Keypair::generate(&mut rng);
        let assertion = Assertion::AdmittedFeed {
            space: fx.space(),
            identity: owner.key(),
            device: owner.identity.device_key(),
            noise_key: owner.identity.noise_key(),
            designation: Designation::Data,
        };
        // One causal chain: cheap ancestry however many feeds.
        let parent = credentials.last().unwrap().id();
        credentials.push(owner.identity.signer().issue(kp.public(), assertion, fx.now, vec![parent]));
        keys.push(kp);
    }
    let tip = credentials.last().unwrap().id();
    let mut full = Space::new(fx.space());
    full.insert_credentials(credentials.clone());
    let mut partial = Space::new(fx.space());
    partial.insert_credentials(credentials);
    for (i, kp) in keys.iter().enumerate() {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let ops = vec![Op::Create { item: ItemId(id), type_name: "n".into() }];
        let m = Mutation { version: 1, control: vec![tip], lamport: i as u64 + 1, ops };
        let entry = FeedEntry::sign(kp, 0, None, m.to_bytes());
        full.ingest(entry.clone()).unwrap();
        if stride > 0 && i % stride == 0 {
            partial.ingest(entry).unwrap();
        }
    }
    (full, partial)
}

/// Answers every message of `to`'s summary from `from`, as a Peer does, after a round trip
/// through the wire encoding (so the decoder's rules hold for what the sender produces).
fn answer(from: &Space, to: &Space) -> Vec<spaces_protocol::feed::FeedEntry> {
    use spaces_protocol::Canonical;
    use spaces_protocol::swarm::SwarmMessage;
    let mut out = Vec::new();
    for m in replication::summary_messages(to.key(), &replication::heads(to), to.credentials_digest()) {
        let m = SwarmMessage::from_bytes(&m.to_bytes()).expect("a summary page decodes");
        match m {
            SwarmMessage::Summary { after, through, feeds, .. } => {
                out.extend(replication::missing_for_summary(from, &feeds, after.as_ref(), through.as_ref()))
            }
            other => panic!("not a summary: {other:?}"),
        }
    }
    out
}

/// Defect 4, SPEC §9.7 item 7 before: `have` kept the first 4096 feeds, so a replica of a
/// larger space was sent every later feed from position 0 in every round, even in sync. Now
/// the summary travels in pages over key ranges: replicas in sync send nothing, and a replica
/// missing entries on both sides of the page boundary catches up.
#[test]
fn a_space_of_more_feeds_than_one_have_holds_replicates_in_pages() {
    use spaces_protocol::swarm::{HAVE_FEEDS_MAX, SwarmMessage};
    let (full, partial) = many_feeds(HAVE_FEEDS_MAX + 200, 3);
    let summary = replication::heads(&full);
    assert!(summary.len() > HAVE_FEEDS_MAX);
    let pages = replication::summary_messages(full.key(), &summary, full.credentials_digest());
    assert_eq!(pages.len(), 2);
    assert!(pages.iter().all(|p| matches!(p, SwarmMessage::Summary { after: _, through: _, .. })));
    assert!(answer(&full, &full.clone()).is_empty(), "in sync: nothing to send");
    let mut to = partial;
    for _ in 0..16 {
        let batch = answer(&full, &to);
        if batch.is_empty() {
            break;
        }
        replication::ingest_batch(&mut to, batch);
    }
    assert_eq!(replication::have(&to), replication::have(&full));
    assert_eq!(to.items(), full.items());
}

/// Defect 4: a summary lists each feed once. One listing a feed twice (allowed before, since
/// only the pairs had to ascend) does not decode, nor a page listing a feed outside its range.
#[test]
fn a_summary_listing_a_feed_twice_or_outside_its_page_does_not_decode() {
    use spaces_protocol::Canonical;
    use spaces_protocol::credential::FeedPosition;
    use spaces_protocol::swarm::SwarmMessage;
    let space = PublicKey([1; 32]);
    let at = |k: u8, length| FeedPosition { feed: PublicKey([k; 32]), length };
    let twice = SwarmMessage::Have { space, feeds: vec![at(2, 1), at(2, 5)] };
    assert!(SwarmMessage::from_bytes(&twice.to_bytes()).is_err());
    let once = SwarmMessage::Have { space, feeds: vec![at(2, 1), at(3, 5)] };
    assert_eq!(SwarmMessage::from_bytes(&once.to_bytes()).unwrap(), once);
    let outside =
        SwarmMessage::HavePage { space, after: Some(PublicKey([2; 32])), through: None, feeds: vec![at(2, 1)] };
    assert!(SwarmMessage::from_bytes(&outside.to_bytes()).is_err());
    let inside =
        SwarmMessage::HavePage { space, after: Some(PublicKey([2; 32])), through: None, feeds: vec![at(3, 1)] };
    assert_eq!(SwarmMessage::from_bytes(&inside.to_bytes()).unwrap(), inside);
}

/// A member offline while a new admin joined and then issued `changes` role changes: the
/// space as the host holds it afterwards, the member's stale copy, and whether the admin's
/// control feed sorts by key before the host's control feed (which admits it).
fn busy_admin_scenario(seed: u64, changes: usize) -> (Space, Space, bool) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let now = Timestamp::from_millis(1_700_000_000_000);
    let mut host = Client::create_identity(&mut rng, now);
    let space = host.create_space(&mut rng, now);
    let stale = host.space(&space).unwrap().clone();
    let mut admin = Client::create_identity(&mut rng, now);
    let join = admin.join_request(&mut rng);
    admin.accept(&space, host.admit(&space, &join, Role::Admin, None, now).unwrap()).unwrap();
    let mut member = Client::create_identity(&mut rng, now);
    let join = member.join_request(&mut rng);
    admin.admit(&space, &join, Role::Editor, None, now).unwrap();
    for i in 0..changes {
        let role = if i % 2 == 0 { Role::Reader } else { Role::Editor };
        admin.set_role(&space, member.identity_key(), role, now).unwrap();
    }
    let feed_of = |sp: &Space, identity: PublicKey| {
        sp.membership()
            .feeds()
            .find(|(_, a)| a.identity == identity && a.designation == Designation::Control)
            .map(|(k, _)| *k)
            .unwrap()
    };
    let admin_control = feed_of(admin.space(&space).unwrap(), admin.identity_key());
    for entry in admin.space(&space).unwrap().feed(&admin_control).unwrap().entries().to_vec() {
        host.ingest(&space, entry).unwrap();
    }
    let full = host.space(&space).unwrap().clone();
    let host_control = feed_of(&full, host.identity_key());
    (full, stale, admin_control < host_control)
}

/// SPEC §9.3.4: control feeds go in the order of their admissions. An admin's control feed
/// with more than one batch of entries, admitted from the host's control feed of greater key,
/// filled every batch with entries the stale member deferred when control feeds went in key
/// order; now the host's control feed (the earlier admission) goes first.
#[test]
fn a_long_control_feed_admitted_from_a_greater_key_cannot_stall_replication() {
    let mut adverse = 0;
    for seed in 0..8 {
        let (full, mut stale, admin_first) = busy_admin_scenario(seed, 600);
        adverse += usize::from(admin_first);
        let rounds = pull(&full, &mut stale, 10);
        assert!(rounds.is_some_and(|r| r <= 4), "seed {seed} (admin's feed first: {admin_first}): {rounds:?} rounds");
        assert_eq!(stale.members(), full.members());
    }
    assert!(adverse > 0, "at least one seed puts the admin's control feed first by key");
}

/// Pulls both ways until neither side has anything more to give (at most `rounds` rounds).
fn sync(a: &mut Client, b: &mut Client, space: &PublicKey, rounds: usize) {
    for _ in 0..rounds {
        let from_a = replication::missing(a.space(space).unwrap(), &replication::have(b.space(space).unwrap()));
        let from_b = replication::missing(b.space(space).unwrap(), &replication::have(a.space(space).unwrap()));
        if from_a.is_empty() && from_b.is_empty() {
            return;
        }
        replication::ingest_batch(b.space_mut(space).unwrap(), from_a);
        replication::ingest_batch(a.space_mut(space).unwrap(), from_b);
    }
}

fn join(host: &mut Client, space: &PublicKey, role: Role, seed: u64) -> Client {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let now = Timestamp::from_millis(1_700_000_000_000);
    let mut guest = Client::create_identity(&mut rng, now);
    let request = guest.join_request(&mut rng);
    let credentials = host.admit(space, &request, role, None, now).unwrap();
    guest.accept(space, credentials).unwrap();
    guest
}

/// Sim seed 622 (swarm), before: admin A admits B as admin while the owner concurrently
/// removes A, so strong removal voids B's grant and the admission of B's control feed. B had
/// already issued a credential X, and admin D, who fetched B's feed before it learned of the
/// removal, issued Y on top of X. The owner, who learned of the removal first, refused every
/// entry of B's control feed (`NotAdmitted`), so it never held X and Y stayed pending on it
/// forever: two replicas with every link up disagreed for good on the credential set, and so
/// on the members. A control feed named by any connected `AdmittedFeed` now carries its
/// credentials whatever that admission's effect (SPEC.md §5.5).
#[test]
fn credentials_in_a_control_feed_whose_admission_was_voided_still_replicate() {
    let mut rng = ChaCha20Rng::seed_from_u64(622);
    let now = Timestamp::from_millis(1_700_000_000_000);
    let mut owner = Client::create_identity(&mut rng, now);
    let space = owner.create_space(&mut rng, now);
    let mut a = join(&mut owner, &space, Role::Admin, 1);
    let mut d = join(&mut owner, &space, Role::Admin, 2);
    sync(&mut owner, &mut a, &space, 10);
    sync(&mut owner, &mut d, &space, 10);
    sync(&mut a, &mut d, &space, 10);
    // Concurrently: the owner removes A; A admits B as admin, and B demotes A (X).
    owner.remove_member(&space, a.identity_key(), now).unwrap();
    let mut b = join(&mut a, &space, Role::Admin, 3);
    sync(&mut a, &mut b, &space, 10);
    b.set_role(&space, a.identity_key(), Role::Editor, now).unwrap();
    // D learns all of it before the removal, and issues Y on top of X.
    sync(&mut b, &mut d, &space, 10);
    sync(&mut a, &mut d, &space, 10);
    let y = d.set_role(&space, b.identity_key(), Role::Reader, now).unwrap();
    // The owner, knowing of the removal, gets everything D holds; then D gets the removal.
    sync(&mut owner, &mut d, &space, 20);
    let (o, dd) = (owner.space(&space).unwrap(), d.space(&space).unwrap());
    assert_eq!(o.membership().effect(&y.id()), dd.membership().effect(&y.id()));
    assert_eq!(o.summary().credentials, dd.summary().credentials, "the same credential set");
    assert_eq!(o.members(), dd.members());
    assert_eq!(replication::have(o), replication::have(dd));
}

/// SPEC §9.2.2 rule 6: the pull pages a member sends a heard device (a removed member's) make
/// its ordinary answer carry exactly the control-feed entries the member lacks: none of the
/// data it also lacks.
#[test]
fn pull_pages_draw_exactly_the_missing_control_entries() {
    use spaces_protocol::swarm::SwarmMessage;
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let now = Timestamp::from_millis(1_700_000_000_000);
    let mut owner = Client::create_identity(&mut rng, now);
    let space = owner.create_space(&mut rng, now);
    let mut a = join(&mut owner, &space, Role::Admin, 1);
    sync(&mut owner, &mut a, &space, 10);
    let stale = owner.space(&space).unwrap().clone();
    // A writes data and issues credentials (a member admitted, a role changed) the owner lacks.
    a.write(&space, vec![Op::Create { item: ItemId([7; 16]), type_name: "n".into() }]).unwrap();
    let b = join(&mut a, &space, Role::Editor, 2);
    a.set_role(&space, b.identity_key(), Role::Reader, now).unwrap();
    let full = a.space(&space).unwrap();
    let pages = replication::pull_pages(&stale, &replication::have(full), None);
    assert!(!pages.is_empty());
    let mut answer = Vec::new();
    for page in &pages {
        let SwarmMessage::HavePage { after, through, feeds, .. } = page else { panic!("pages only") };
        answer.extend(replication::missing_in(full, feeds, after.as_ref(), through.as_ref()));
    }
    let control = |f: &PublicKey| full.membership().carrier(f).is_some_and(|x| x.designation == Designation::Control);
    let lacking: Vec<_> =
        replication::missing(full, &replication::have(&stale)).into_iter().filter(|e| control(&e.body.feed)).collect();
    assert!(answer.iter().all(|e| control(&e.body.feed)), "no data entry is drawn");
    assert_eq!(answer, lacking, "exactly the control entries the member lacks");
    let mut stale = stale;
    replication::ingest_batch(&mut stale, answer);
    assert!(replication::pull_pages(&stale, &replication::have(full), None).is_empty(), "then nothing more");
    assert_eq!(stale.members(), full.members());
}

/// A member pulls from the heard device of a removed admin `x` the way a Peer does (SPEC.md
/// §9.2.2 rule 6): pull pages, `x`'s ordinary answer to them (at most `chunk` entries), then
/// `ingest_heard`.
fn heard(x: &Space, to: &mut Space, chunk: usize) {
    use spaces_protocol::swarm::SwarmMessage;
    let mut answer = Vec::new();
    for page in replication::pull_pages(to, &replication::have(x), None) {
        let SwarmMessage::HavePage { after, through, feeds, .. } = page else { panic!("pages only") };
        answer.extend(replication::missing_in(x, &feeds, after.as_ref(), through.as_ref()));
    }
    answer.truncate(chunk);
    replication::ingest_heard(to, answer);
}

fn forward(from: &Space, to: &mut Space) {
    replication::ingest_batch(to, replication::missing(from, &replication::have(to)));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// The heard limit depends on each replica's view, so the owner (who removed `x`) and admin
    /// `a` (who took `pre` of `x`'s later credentials as a member's before it learned of the
    /// removal) take different amounts from `x`'s device, in any interleaving with forwarding
    /// between them. They still end with the same credentials, members and feeds, and hold of
    /// `x`'s control feed no more than the larger of what `a` took first and the bound.
    #[test]
    fn replicas_taking_different_amounts_from_a_removed_device_converge(
        issued in 20usize..60,
        pre in 0usize..40,
        steps in proptest::collection::vec((0u8..4, 1usize..40), 0..24),
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(issued as u64);
        let now = Timestamp::from_millis(1_700_000_000_000);
        let mut owner = Client::create_identity(&mut rng, now);
        let space = owner.create_space(&mut rng, now);
        let mut a = join(&mut owner, &space, Role::Admin, 1);
        let mut x = join(&mut owner, &space, Role::Admin, 2);
        sync(&mut owner, &mut a, &space, 10);
        sync(&mut owner, &mut x, &space, 10);
        sync(&mut a, &mut x, &space, 10);
        owner.remove_member(&space, x.identity_key(), now).unwrap();
        for k in 0..issued {
            let role = if k % 2 == 0 { Role::Reader } else { Role::Editor };
            x.set_role(&space, a.identity_key(), role, now).unwrap();
        }
        let xs = x.space(&space).unwrap().clone();
        let control = xs.membership().feeds()
            .find(|(_, f)| f.identity == x.identity_key() && f.designation == Designation::Control)
            .map(|(k, _)| *k).unwrap();
        let before = owner.space(&space).unwrap().feed(&control).map_or(0, |f| f.len());
        // `a` takes `pre` of them as a member's, then learns of the removal.
        let early: Vec<_> = replication::missing(&xs, &replication::have(a.space(&space).unwrap()))
            .into_iter().filter(|e| e.body.feed == control).take(pre).collect();
        let pre_taken = early.len() as u64;
        replication::ingest_batch(a.space_mut(&space).unwrap(), early);
        let removal = replication::missing(owner.space(&space).unwrap(), &replication::have(a.space(&space).unwrap()));
        replication::ingest_batch(a.space_mut(&space).unwrap(), removal);
        let (mut o, mut s) = (owner.space(&space).unwrap().clone(), a.space(&space).unwrap().clone());
        for (kind, chunk) in steps {
            match kind {
                0 => heard(&xs, &mut o, chunk),
                1 => heard(&xs, &mut s, chunk),
                2 => forward(&o, &mut s),
                _ => forward(&s, &mut o),
            }
        }
        for _ in 0..20 {
            heard(&xs, &mut o, 512);
            heard(&xs, &mut s, 512);
            forward(&o, &mut s);
            forward(&s, &mut o);
        }
        proptest::prop_assert_eq!(o.summary().credentials, s.summary().credentials);
        proptest::prop_assert_eq!(o.members(), s.members());
        proptest::prop_assert_eq!(replication::have(&o), replication::have(&s));
        let held = o.feed(&control).map_or(0, |f| f.len()) - before;
        let bound = pre_taken.max(replication::HEARD_ENTRIES_MAX);
        proptest::prop_assert!(held <= bound, "held {} of {} (bound {})", held, issued, bound);
        proptest::prop_assert!(held >= replication::HEARD_ENTRIES_MAX.min(issued as u64), "the first ones arrive");
    }
}

/// Two branches of the owner's data feed from `common` shared entries on: `len` entries in all
/// each, differing from `common` on.
fn forked_replicas(common: usize, len: usize) -> (Space, Space, PublicKey, Space) {
    use spaces_protocol::feed::FeedEntry;
    use spaces_protocol::fixture::SpaceFixture;
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let f = SpaceFixture::new(&mut rng);
    let branch = |tag: &str| {
        let mut entries: Vec<FeedEntry> = Vec::new();
        for seq in 0..len {
            let name = if seq < common { format!("common {seq}") } else { format!("{tag} {seq}") };
            let ops = vec![Op::Create { item: ItemId([seq as u8; 16]), type_name: name }];
            let prev = entries.last().map(FeedEntry::hash);
            entries.push(f.owner.data_entry(seq as u64, prev, vec![f.tip()], seq as u64 + 1, ops));
        }
        entries
    };
    let replica = |entries: &[FeedEntry]| {
        let mut s = Space::new(f.space());
        s.insert_credentials(f.genesis.clone());
        assert_eq!(replication::ingest_batch(&mut s, entries.to_vec()).new, entries.len());
        s
    };
    let (one, two) = (branch("one"), branch("two"));
    (replica(&one), replica(&two), f.owner.data.public(), replica(&one[..common]))
}

/// Rounds of the Peer's exchange (SPEC §9.3.3, §9.3.5) between two replicas: each answers the
/// other's `Summary`, then tells it the forks it holds. Returns the rounds until nothing moved.
fn exchange(a: &mut Space, b: &mut Space) -> usize {
    use spaces_protocol::Canonical;
    use spaces_protocol::swarm::SwarmMessage;
    for round in 1..=16 {
        let before = (replication::heads(a), replication::heads(b), a.forks().count(), b.forks().count());
        let (sa, sb) = (a.clone(), b.clone());
        for (from, to) in [(&sa, &mut *b), (&sb, &mut *a)] {
            for m in replication::summary_messages(to.key(), &replication::heads(to), to.credentials_digest()) {
                let SwarmMessage::Summary { after, through, feeds, .. } =
                    SwarmMessage::from_bytes(&m.to_bytes()).expect("a summary decodes")
                else {
                    panic!("a device sends Summary")
                };
                let batch = replication::missing_for_summary(from, &feeds, after.as_ref(), through.as_ref());
                replication::ingest_batch(to, batch);
            }
        }
        let (sa, sb) = (a.clone(), b.clone());
        for (from, to) in [(&sa, &mut *b), (&sb, &mut *a)] {
            for m in replication::fork_messages(from) {
                let SwarmMessage::Forks { evidence, .. } = SwarmMessage::from_bytes(&m.to_bytes()).expect("decodes")
                else {
                    panic!("fork_messages sends Forks")
                };
                for e in evidence {
                    to.learn_fork(e).expect("evidence of a carried feed verifies");
                }
            }
        }
        if before == (replication::heads(a), replication::heads(b), a.forks().count(), b.forks().count()) {
            return round;
        }
    }
    panic!("the exchange did not settle in 16 rounds");
}

/// SPEC §5.6 and §9.3.5 (issue 11; §9.7 item 9 before): replicas holding two branches of one
/// forked feed of equal length never compared them, since summaries listed lengths only, and
/// kept different items for ever. With heads in the summary, the fork is proven, both cut the
/// feed where the branches part and agree with a replica that only ever held the common part,
/// also when the branches part further back than one window.
#[test]
fn replicas_on_two_branches_of_a_forked_feed_cut_it_where_they_part_and_agree() {
    for (common, len) in [(5, 9), (0, 3), (10, 10 + 3 * replication::FORK_WINDOW as usize)] {
        let (mut a, mut b, feed, reference) = forked_replicas(common, len);
        assert_ne!(a.items(), b.items());
        let rounds = exchange(&mut a, &mut b);
        for s in [&a, &b] {
            assert_eq!(s.fork_at(&feed), Some(common as u64), "cut where the branches part ({common}, {len})");
            assert_eq!(s.items(), reference.items());
            assert_eq!(s.feed(&feed).map(|f| f.head()), reference.feed(&feed).map(|f| f.head()));
        }
        assert!(rounds <= 2 + (len - common).div_ceil(replication::FORK_WINDOW as usize), "{rounds} rounds");
    }
}
