//! Durable state decoding (SPEC §9.5, §7.6.4): client snapshots, host records, delegated
//! secrets.
//!
//! Invariants: decoding is total and an accepted value re-encodes to the same bytes; a snapshot
//! that decodes restores or is refused without a panic, and a restored client's own snapshot is
//! the one it was restored from (restore loses nothing and invents nothing); a host record that
//! decodes restores, and the restored host keeps the record's budget, admitted set and code
//! (a spent budget reads as burned: the one normalisation restore makes).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::Client;
use spaces_protocol::client::ClientSnapshot;
use spaces_protocol::invitation::Limits;
use spaces_protocol::invitation::delegation::DelegatedSecret;
use spaces_protocol::invitation::host::{HostRecord, InvitationHost};

use crate::support::round_trip;

pub fn run(data: &[u8]) {
    if let Some(snapshot) = round_trip::<ClientSnapshot>(data)
        && let Ok(client) = Client::restore(snapshot.clone())
    {
        assert_eq!(client.snapshot(), snapshot, "a restored client's snapshot differs from its source");
    }
    if let Some(record) = round_trip::<HostRecord>(data) {
        host_record(record);
    }
    round_trip::<DelegatedSecret>(data);
}

fn host_record(record: HostRecord) {
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let host = InvitationHost::restore(record.clone(), Limits::default(), &mut rng).expect("a decoded record restores");
    let restored = host.record();
    assert_eq!(restored.attempts_left, record.attempts_left);
    assert_eq!(restored.admitted, record.admitted);
    assert_eq!(restored.code, record.code);
    assert_eq!(host.attempts_left(), record.attempts_left);
    if record.attempts_left > 0 || record.ended.is_some() {
        assert_eq!(restored, &record, "restore changed a record beyond the burned normalisation");
    }
}
