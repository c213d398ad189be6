//! Durable state decoding (SPEC §9.5, §7.6.4): client snapshots, host records, delegated
//! secrets.
//!
//! Invariants: decoding is total and an accepted value re-encodes to the same bytes; a snapshot
//! that decodes restores or is refused without a panic; a restored client's snapshot holds no
//! credential or entry its source did not, and restores to itself (restore may reorder, so
//! only the client's own snapshots are a fixpoint); a host record that
//! decodes restores, and the restored host keeps the record's budget, admitted set and code
//! (a spent budget reads as burned: the one normalisation restore makes).

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::client::ClientSnapshot;
use spaces_protocol::credential::Credential;
use spaces_protocol::invitation::Limits;
use spaces_protocol::invitation::delegation::DelegatedSecret;
use spaces_protocol::invitation::host::{HostRecord, InvitationHost};
use spaces_protocol::{Canonical, Client};

use crate::support::round_trip;

pub fn run(data: &[u8]) {
    if let Some(snapshot) = round_trip::<ClientSnapshot>(data)
        && let Ok(client) = Client::restore(snapshot.clone())
    {
        restored(&snapshot, client.snapshot());
    }
    if let Some(record) = round_trip::<HostRecord>(data) {
        host_record(record);
    }
    round_trip::<DelegatedSecret>(data);
}

/// What a restored client writes holds nothing its source did not (restore invents nothing,
/// though it may order credentials and entries its own way, drop what does not verify, and keep
/// another verified copy of a credential's device chain), and
/// restoring that gives it back exactly (the client's own snapshots are a fixpoint).
fn restored(source: &ClientSnapshot, written: ClientSnapshot) {
    assert_eq!(written.spaces.len(), source.spaces.len(), "restore changed the number of spaces");
    for (a, b) in source.spaces.iter().zip(&written.spaces) {
        // By id: the id covers the signed body; the device chain is a proof, and a replica keeps
        // the first copy that verified (one carried by a control entry, say), not every copy.
        // Control entries carry credentials too: restoring an entry inserts what it carries.
        let carried = a.entries.iter().filter_map(|e| Credential::from_bytes(&e.body.payload).ok());
        let ids: std::collections::BTreeSet<_> = a.credentials.iter().cloned().chain(carried).map(|c| c.id()).collect();
        assert!(b.credentials.iter().all(|c| ids.contains(&c.id())), "restore invented a credential");
        assert!(b.entries.iter().all(|e| a.entries.contains(e)), "restore invented an entry");
    }
    let again = Client::restore(written.clone()).expect("a client's own snapshot restores");
    assert_eq!(again.snapshot(), written, "a client's own snapshot does not restore to itself");
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
