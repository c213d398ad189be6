//! Discovery topics beyond the signaling limit (SPEC.md §9.1.1, §9.7 item 6): a device in more
//! spaces than `topics_per_client_max` lets its spaces take turns on the topics it may hold, so
//! it is still found on every one of them.

use spaces_protocol::peer::{Command, TOPIC_EPOCH_MS, rotation, rotation_due, rotation_modulus};
use spaces_protocol::signal::SignalLimits;
use spaces_protocol::testing::peer_net::{Net, space_of};
use spaces_protocol::{PublicKey, Timestamp};

/// Failed before the rotation (seed 51): each device held the four spaces of lowest key for
/// good, and the shared one was among neither's, so after a restart they never met again.
#[test]
fn devices_in_more_spaces_than_topics_still_meet_on_each() {
    let limits = SignalLimits { topics_per_client_max: 4, ..SignalLimits::default() };
    let mut net = Net::with_signal_limits(2, 51, limits);
    net.command(0, Command::CreateSpace);
    let shared = space_of(&net, 0);
    net.invite(0, 1, shared);
    for _ in 0..11 {
        net.command(0, Command::CreateSpace);
        net.command(1, Command::CreateSpace);
    }
    assert!(net.peers.iter().all(|p| p.signal_topics().len() == 4), "each holds as many topics as it may");
    // Restarts drop the link: only signaling can bring the two together again.
    net.restart(0);
    net.restart(1);
    net.write(0, shared, "written while apart");
    assert!(net.run(30 * 60_000, |n| n.converged(&shared, &[0, 1])), "they met on the shared space's topic");
}

fn keys(n: u8) -> Vec<PublicKey> {
    (0..n).map(|i| PublicKey([i; 32])).collect()
}

/// The rotation's rules, on its own: everything when it fits; otherwise exactly `slots`
/// spaces, changing at each epoch, every space held within a few epochs; and a space due for
/// a device in more spaces is held by a device in fewer (powers of two nest).
#[test]
fn rotation_holds_every_space_in_turn_and_nests_across_devices() {
    let now = Timestamp::from_millis(1_700_000_000_000);
    assert_eq!(rotation(&keys(4), 4, now), (keys(4), None), "room for all: no rotation");
    let many = keys(40);
    let mut seen = std::collections::BTreeSet::new();
    for e in 0..64 {
        let at = Timestamp::from_millis(now.as_millis() + e * TOPIC_EPOCH_MS);
        let (held, next) = rotation(&many, 8, at);
        assert_eq!(held.len(), 8);
        assert!(next.is_some_and(|t| t > at && t.as_millis() - at.as_millis() <= TOPIC_EPOCH_MS));
        seen.extend(held);
    }
    assert_eq!(seen.len(), 40, "every space had its turn within 64 epochs");
    // Device A: 40 spaces in 8 slots (k = 16); device B: 10 of them in 4 slots (k = 8). A
    // space due for A is due for B, and B holds it whenever no more than 4 are due for B.
    let few: Vec<PublicKey> = many[..10].to_vec();
    let (k_a, k_b) = (rotation_modulus(40, 8), rotation_modulus(10, 4));
    assert_eq!((k_a, k_b), (16, 8));
    let mut met = 0;
    for e in 0..256 {
        let at = Timestamp::from_millis(now.as_millis() + e * TOPIC_EPOCH_MS);
        let (held_b, _) = rotation(&few, 4, at);
        let due_b = few.iter().filter(|s| rotation_due(s, k_b, at)).count();
        for s in &few {
            if rotation_due(s, k_a, at) {
                assert!(rotation_due(s, k_b, at), "epoch {e}: due for A, so due for B");
                if due_b <= 4 {
                    assert!(held_b.contains(s), "epoch {e}: B holds what is due for it");
                    met += 1;
                }
            }
        }
    }
    assert!(met > 0, "the check above ran");
}
