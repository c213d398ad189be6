//! HALO replication (SPEC.md §9.8): a device linked by a DEVICE invitation learns its
//! identity's devices, contacts and spaces from the device that linked it, is admitted to each
//! space by its identity, replicates them with every member, and keeps a space it left left.
//! The join half fails with its planted bug (`halo-no-join`).

mod net;

use spaces_protocol::item::ItemId;
use spaces_protocol::peer::{Command, Event};
use spaces_protocol::space::Standing;
use spaces_protocol::{Assertion, PublicKey};

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

/// Peer 0 removes its linked device (peer 1) after the two share both spaces. Returns whether
/// the lost device's write, made afterwards, stayed out of both the remover's and the other
/// member's replicas, and whether those saw the removal.
fn removed_device_world(seed: u64) -> (bool, bool) {
    let (mut net, [shared, own], both) = linked_world(seed);
    assert!(both, "the linked device holds both spaces");
    assert!(net.run(120_000, |n| n.converged(&shared, &[0, 1, 2])), "replicas agree");
    let lost = net.peers[1].client().identity().device_key();
    net.command(0, Command::RemoveDevice { device: lost });
    let me = net.key(0);
    // Whether the replica holds the removal (not its effect, which the planted bug undoes).
    let removed = |n: &Net, i: usize, space: &PublicKey| {
        let names_lost = |c: &spaces_protocol::Credential| {
            c.issuer() == me && matches!(c.assertion(), Assertion::RemovedDevice { device, .. } if *device == lost)
        };
        n.peers[i].client().space(space).is_some_and(|s| s.membership().credentials().any(names_lost))
    };
    assert!(removed(&net, 0, &shared) && removed(&net, 0, &own), "removed from both spaces at once");
    let seen = net.run(120_000, |n| removed(n, 2, &shared));
    let item = net.write(1, shared, "from the lost device");
    net.run(300_000, |_| false);
    let shows = |n: &Net, i: usize| n.peers[i].client().items(&shared).is_ok_and(|it| it.iter().any(|x| x.id == item));
    (!shows(&net, 0) && !shows(&net, 2), seen)
}

#[test]
fn a_removed_device_writes_nowhere_its_identity_and_the_other_members_replicate() {
    let (kept_out, seen) = removed_device_world(92);
    assert!(seen, "the other member learns of the removal");
    assert!(kept_out, "the lost device's write after its removal is void for every member");
}

#[cfg(feature = "mutants")]
#[test]
fn a_removed_device_writes_on_with_removal_planted_off() {
    use spaces_protocol::mutants::{Mutant, set};
    set(Some(Mutant::IgnoreDeviceRemoval));
    let (kept_out, _) = removed_device_world(92);
    set(None);
    assert!(!kept_out, "ignore-device-removal: the lost device's write counts");
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
