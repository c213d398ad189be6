//! A write reaches the members in sync with its writer at once (SPEC.md §9.3.3 rule 2): the
//! entries go with the write's own frames, pushed from what each link last heard the other side
//! hold, not a pull round trip later (summary, the receiver's summary back, then the entries).

use spaces_protocol::PublicKey;
use spaces_protocol::item::{ItemId, Op, Value};
use spaces_protocol::peer::Command;
use spaces_protocol::testing::peer_net::{LATENCY_MS, Msg, Net};

fn holds(net: &Net, i: usize, space: &PublicKey, item: ItemId) -> bool {
    net.peers[i].client().space(space).is_some_and(|s| s.items().iter().any(|it| it.id == item))
}

/// Three members in sync; each writes once. The longest time, in virtual ms, from a write to
/// both others holding it.
fn slowest_write(seed: u64) -> u64 {
    let mut net = Net::new(3, seed);
    let space = net.shared_space(&[1, 2]);
    // In sync, and each side has heard the other's summary (anti-entropy runs every 10 s).
    assert!(!net.run(25_000, |_| false));
    assert!(net.converged(&space, &[0, 1, 2]));
    let mut slowest = 0;
    for writer in [1, 0, 2] {
        let start = net.now;
        let item = net.write(writer, space, "hello");
        let others: Vec<usize> = (0..3).filter(|i| *i != writer).collect();
        assert!(net.run(1_000, |n| others.iter().all(|i| holds(n, *i, &space, item))), "delivered");
        slowest = slowest.max(net.now.as_millis() - start.as_millis());
    }
    slowest
}

/// Failed before the push: 3 × `LATENCY_MS` (the summary, the pull, the entries).
#[test]
fn a_write_reaches_a_member_in_sync_in_one_hop() {
    let took = slowest_write(71);
    assert!(took <= LATENCY_MS, "a write took {took} ms, one hop is {LATENCY_MS} ms");
}

/// Two writes in a row: the sizes of the frames they send the other member, in order.
fn frames_of_two_writes(seed: u64) -> Vec<usize> {
    let mut net = Net::new(2, seed);
    let space = net.shared_space(&[1]);
    assert!(!net.run(25_000, |_| false));
    let first = net.write(0, space, "one");
    let ops = vec![Op::Set { item: first, field: "text".into(), value: Value::Text("two".into()) }];
    net.command(0, Command::Write { space, ops });
    let frames = net
        .in_flight()
        .filter_map(|m| if let Msg::Frame { peer: 1, bytes, .. } = m { Some(bytes.len()) } else { None });
    let frames = frames.collect();
    assert!(net.run(1_000, |n| n.converged(&space, &[0, 1])));
    frames
}

/// What a link was sent counts as held: the second write pushes its own entry only.
#[test]
fn consecutive_writes_push_only_what_is_new() {
    let frames = frames_of_two_writes(72);
    // Per write: its entries, then the summary.
    assert_eq!(frames.len(), 4, "{frames:?}");
    // The two entries differ in size by about the `prev` hash the second has (32 bytes); pushed
    // with the first again (an entry is over 150 bytes), the second frame would be far larger.
    assert!(frames[2] < frames[0] + 64, "the second push resent the first entry: {frames:?}");
}

#[cfg(feature = "mutants")]
mod planted {
    use spaces_protocol::mutants::{Mutant, set};

    /// The checks above fail when a write only announces itself (`PullOnly`).
    #[test]
    fn pull_only_writes_take_a_round_trip() {
        set(Some(Mutant::PullOnly));
        let took = super::slowest_write(71);
        let frames = super::frames_of_two_writes(72);
        set(None);
        assert!(took >= 3 * super::LATENCY_MS, "{took} ms");
        assert_eq!(frames.len(), 2, "summaries only: {frames:?}");
    }
}
