//! HALO replication (SPEC.md §9.8): a device linked by a DEVICE invitation learns its
//! identity's devices, contacts and spaces from the device that linked it, is admitted to each
//! space by its identity, replicates them with every member, and keeps a space it left left.
//! The join half fails with its planted bug (`halo-no-join`).

mod net;

use spaces_protocol::PublicKey;
use spaces_protocol::item::ItemId;
use spaces_protocol::peer::{Command, Event};
use spaces_protocol::space::Standing;

use net::*;

fn holds(net: &Net, i: usize, space: &PublicKey) -> bool {
    let me = net.peers[i].client().identity_key();
    net.peers[i].client().space(space).is_some_and(|sp| matches!(sp.standing(&me), Standing::Member(_)))
}

fn created(net: &Net, i: usize) -> Vec<PublicKey> {
    net.events[i]
        .iter()
        .filter_map(|e| if let Event::SpaceCreated { space } = e { Some(*space) } else { None })
        .collect()
}

/// Peer 0 creates two spaces and invites peer 2 (another identity) to the first, then links
/// blank peer 1 to its identity. Returns the two spaces, and whether peer 1 came to hold both
/// within five minutes.
fn linked_world(seed: u64) -> (Net, [PublicKey; 2], bool) {
    let mut net = Net::new(3, seed);
    let shared = net.shared_space(&[2]);
    net.command(0, Command::CreateSpace);
    let own = *created(&net, 0).last().expect("created");
    net.link_device(0, 1);
    let both = net.run(300_000, |n| holds(n, 1, &shared) && holds(n, 1, &own));
    (net, [shared, own], both)
}

#[test]
fn a_linked_device_learns_and_replicates_every_space_of_its_identity() {
    let (mut net, [shared, own], both) = linked_world(90);
    assert!(both, "the linked device holds both spaces of its identity");
    assert_eq!(net.peers[1].client().identity_key(), net.key(0), "one identity");
    assert!(net.run(120_000, |n| n.converged(&shared, &[0, 1, 2]) && n.converged(&own, &[0, 1])), "replicas agree");
    // It learned its sibling's contacts, and the other member links with it: a write it makes
    // reaches that member.
    assert!(net.peers[1].client().contacts().contains(&net.key(2)), "the contact made on peer 0 is known on peer 1");
    let item = net.write(1, shared, "from the linked device");
    let seen = |n: &Net| n.peers[2].client().items(&shared).is_ok_and(|items| items.iter().any(|i| i.id == item));
    assert!(net.run(120_000, seen), "the other member replicates with the linked device");
    let _: ItemId = item;
}

#[test]
fn a_space_the_linked_device_left_stays_left_and_a_restart_keeps_what_it_learned() {
    let (mut net, [shared, own], both) = linked_world(91);
    assert!(both);
    net.command(1, Command::Leave { space: own });
    assert!(net.run(300_000, |n| n.peers[1].client().space(&own).is_none()), "the leave completes");
    net.restart(1);
    net.run(300_000, |_| false);
    assert!(net.peers[1].client().space(&own).is_none(), "a sibling's HALO does not bring a left space back");
    assert!(holds(&net, 1, &shared), "what it joined from its sibling survives a restart");
    assert!(holds(&net, 0, &own), "the sibling keeps the space");
}

#[cfg(feature = "mutants")]
#[test]
fn the_join_fails_with_its_planted_bug() {
    use spaces_protocol::mutants::{Mutant, set};
    set(Some(Mutant::HaloNoJoin));
    let (_, _, both) = linked_world(90);
    set(None);
    assert!(!both, "halo-no-join: the linked device never holds its identity's spaces");
}
