//! S5, durability: a restarted device holds everything it acknowledged (released outputs
//! acknowledge the state the records before them hold, SPEC §9.5).

use std::collections::BTreeMap;

use spaces_protocol::{Client, PublicKey};

use super::describe::short;
use crate::world::World;

/// Entries per space a device owes across a restart: those of feeds its membership still
/// admits (a feed whose admission was voided holds only void writes, which a rebuilt replica
/// rightly refuses).
pub fn owed(client: &Client) -> BTreeMap<PublicKey, u64> {
    let mut out = BTreeMap::new();
    for s in client.spaces() {
        let Some(space) = client.space(&s.key) else { continue };
        let m = space.membership();
        let n = space.feeds().filter(|f| m.carrier(&f.key()).is_some()).map(|f| f.len()).sum();
        out.insert(s.key, n);
    }
    out
}

pub fn restored(w: &mut World, i: usize, client: &Client) {
    let have = owed(client);
    let lost =
        w.nodes[i].acked.iter().find(|(space, n)| have.get(*space).is_none_or(|h| h < *n)).map(|(s, n)| (*s, *n));
    if let Some((space, n)) = lost {
        let h = have.get(&space).copied().unwrap_or(0);
        // Whether the disk lost it or the restore dropped what the disk holds.
        let disk = spaces_protocol::peer::durable::replay(w.nodes[i].durable.log.clone())
            .ok()
            .and_then(|s| s.client.spaces.into_iter().find(|s| s.key == space));
        let on_disk = disk.as_ref().map_or(0, |s| s.entries.len());
        // The first entry on disk the restored replica lacks, and what ingesting it says now.
        let dropped = disk.and_then(|d| {
            let sp = client.space(&space)?;
            let e = d.entries.into_iter().find(|e| sp.feed(&e.body.feed).and_then(|f| f.get(e.body.seq)).is_none())?;
            let mut again = sp.clone();
            let (feed, seq) = (e.body.feed, e.body.seq);
            Some(format!("; dropped feed {} seq {seq}: {:?}", short(&feed), again.ingest(e)))
        });
        w.fail(
            "S5",
            format!(
                "node {i} restarted with {h} entries of space {} after acknowledging {n} ({on_disk} on disk){}",
                short(&space),
                dropped.unwrap_or_default()
            ),
        );
    }
}
