//! Swarm frames and replication messages (SPEC §9.2).
//!
//! Invariants: decoding is total; an accepted `SwarmFrame` or `SwarmMessage` re-encodes to the
//! same bytes; an `Entries` message holds at most `ENTRIES_PER_MESSAGE_MAX` entries and a
//! `Have` at most `HAVE_FEEDS_MAX` feeds. The message decoder does not validate inner entries
//! (a known leniency: vectors/replication.json flags it `InnerEntryVersion`, acceptable), so an
//! inner entry that is not a valid `FeedEntry` on its own must be refused as malformed by
//! `Feed::append`, before anything else looks at it.

use spaces_protocol::Canonical;
use spaces_protocol::feed::{Feed, FeedEntry, FeedError};
use spaces_protocol::swarm::{ENTRIES_PER_MESSAGE_MAX, HAVE_FEEDS_MAX, SwarmFrame, SwarmMessage};

use crate::support::round_trip;

pub fn run(data: &[u8]) {
    if let Some(frame) = round_trip::<SwarmFrame>(data) {
        assert_eq!(frame.version, 1);
    }
    match round_trip::<SwarmMessage>(data) {
        Some(SwarmMessage::Entries { entries, .. }) => {
            assert!(entries.len() <= ENTRIES_PER_MESSAGE_MAX);
            for entry in entries {
                inner_entry(entry);
            }
        }
        Some(SwarmMessage::Have { feeds, .. }) => assert!(feeds.len() <= HAVE_FEEDS_MAX),
        _ => {}
    }
}

fn inner_entry(entry: FeedEntry) {
    if round_trip::<FeedEntry>(&entry.to_bytes()).is_some() {
        return;
    }
    let mut feed = Feed::new(entry.body.feed);
    let refused = feed.append(entry);
    assert!(
        matches!(refused, Err(FeedError::Malformed(_))),
        "an invalid inner entry was not refused as malformed: {refused:?}"
    );
    assert!(feed.is_empty());
}
