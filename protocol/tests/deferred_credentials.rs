//! SPEC §9.3.3 rule 4, both halves (hostile seed 675). First: a summary showing entries of a
//! feed we would refuse (no carrier of ours) is no reason to pull, or two replicas with
//! different credential sets ask each other every round trip for entries neither takes.
//! Second: a feed whose admission travels only
//! in that feed's own entries is taken by a replica that never held the admission. After a
//! fork cut an issuer's control feed, each guest carries its own grant again in its own control
//! feed (§9.3.5 rule 3); a replica that never held the cut branch defers every one of those
//! entries (`NotAdmitted`), so it must take the credentials they carry, or it never admits the
//! feed. Driven through the pure functions, no Peer.

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::feed::FeedEntry;
use spaces_protocol::fixture::SpaceFixture;
use spaces_protocol::replication;
use spaces_protocol::space::Space;
use spaces_protocol::{Canonical, Role};

/// A guest's control feed whose entries are its own admission (grant, then its feeds'), and a
/// replica holding only the genesis: how many of the entries one batch lets in, and whether
/// the guest is then a member there.
fn carried_in_own_feed(seed: u64) -> (usize, usize, bool) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let f = SpaceFixture::new(&mut rng);
    let (guest, admission) = f.admit(&mut rng, &f.owner, Role::Editor, vec![f.tip()]);
    let mut entries: Vec<FeedEntry> = Vec::new();
    for (seq, credential) in admission.iter().enumerate() {
        let prev = entries.last().map(FeedEntry::hash);
        entries.push(FeedEntry::sign(&guest.control, seq as u64, prev, credential.to_bytes()));
    }
    let mut replica = Space::new(f.space());
    replica.insert_credentials(f.genesis.clone());
    let taken = replication::ingest_batch(&mut replica, entries.clone()).new;
    let member = replica.membership().is_member(&guest.key());
    (taken, entries.len(), member)
}

#[test]
fn entries_carrying_their_own_feeds_admission_are_taken_in_one_batch() {
    for seed in 0..4 {
        let (taken, sent, member) = carried_in_own_feed(seed);
        assert_eq!(taken, sent, "seed {seed}: every entry of the guest's control feed is taken");
        assert!(member, "seed {seed}: the guest is a member");
    }
}

/// Whether a replica holding only the genesis pulls after a summary listing `length` entries
/// of the owner's control feed (a carrier) and of a feed no credential admits.
fn pulls_for(seed: u64) -> (bool, bool) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let f = SpaceFixture::new(&mut rng);
    let stranger = spaces_protocol::keys::Keypair::generate(&mut rng).public();
    let mut replica = Space::new(f.space());
    replica.insert_credentials(f.genesis.clone());
    let at = |feed| vec![spaces_protocol::credential::FeedPosition { feed, length: 3 }];
    let carried = replication::behind(&replica, &at(f.owner.control.public()));
    let refused = replication::behind(&replica, &at(stranger));
    (carried, refused)
}

#[test]
fn a_summary_of_feeds_we_would_refuse_draws_no_pull() {
    for seed in 0..4 {
        let (carried, refused) = pulls_for(seed);
        assert!(carried, "seed {seed}: a carrier's entries we lack are pulled");
        assert!(!refused, "seed {seed}: a feed nothing admits is not");
    }
}

#[cfg(feature = "mutants")]
mod planted {
    use spaces_protocol::mutants::{Mutant, set};

    /// `a_summary_of_feeds_we_would_refuse_draws_no_pull` fails when every listed feed counts
    /// (`PullRefusedFeeds`, and `ReplicationStorm`, which plants it too).
    #[test]
    fn pulling_for_refused_feeds_pulls_for_a_stranger() {
        for mutant in [Mutant::PullRefusedFeeds, Mutant::ReplicationStorm] {
            set(Some(mutant));
            let (_, refused) = super::pulls_for(0);
            set(None);
            assert!(refused, "{}: a feed nothing admits draws a pull", mutant.name());
        }
    }

    /// `entries_carrying_their_own_feeds_admission_are_taken_in_one_batch` fails when deferred
    /// entries give up nothing (`IgnoreDeferredCredentials`,
    /// and `ReplicationStorm`, which plants it with `PullRefusedFeeds`).
    #[test]
    fn ignoring_deferred_credentials_admits_nothing() {
        for mutant in [Mutant::IgnoreDeferredCredentials, Mutant::ReplicationStorm] {
            set(Some(mutant));
            let (taken, _, member) = super::carried_in_own_feed(0);
            set(None);
            assert_eq!(taken, 0, "{}: nothing of the feed is taken", mutant.name());
            assert!(!member, "{}", mutant.name());
        }
    }
}
