//! HALO replication (SPEC.md §9.8): a device linked by a DEVICE invitation learns its
//! identity's devices, contacts and spaces from the device that linked it, is admitted to each
//! space by its identity, replicates them with every member, and keeps a space it left left.
//! The join half fails with its planted bug (`halo-no-join`).

use spaces_protocol::item::ItemId;
use spaces_protocol::peer::{Command, Event};
use spaces_protocol::space::Standing;
use spaces_protocol::testing::peer_net::Net;
use spaces_protocol::{Assertion, PublicKey};

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

#[test]
fn a_device_cannot_remove_the_device_it_was_linked_through() {
    let (mut net, [shared, _], both) = linked_world(93);
    assert!(both);
    // Peer 1's chain passes through peer 0: removing peer 0 would void peer 1's own
    // signatures, that removal's successors included (SPEC 4.4 step 7).
    let refused = net.try_command(1, Command::RemoveDevice { device: net.device(0) });
    assert!(refused.is_err(), "refused, not self-destructive");
    assert_eq!(net.peers[1].client().standing(&shared), Ok(Standing::Member(spaces_protocol::Role::Owner)));
    // The other way round is the user's remedy for a lost first device.
    net.command(0, Command::RemoveDevice { device: net.device(1) });
}

/// What became of a linked device its identity removed.
struct Removal {
    /// Its write, made as the removal went out, stayed out of the remover's and the other
    /// member's replicas.
    kept_out: bool,
    /// The other member learned of the removal.
    seen: bool,
    /// The device learned of it in both spaces (its user was told, `Event::Removed`).
    told: bool,
    /// Dials it made over five minutes once told.
    dials_after: u32,
    /// It still announces itself on its identity's HALO topic once told.
    on_halo: bool,
    /// What its client shows for the space its identity still holds.
    standing: Standing,
}

/// Peer 0 removes its linked device (peer 1) after the two share both spaces; peer 1, not yet
/// aware, writes at once. A seed where peer 1 has the smallest device key, so it is the one
/// that dials (SPEC.md §9.1.1, §9.8).
fn removed_device_world() -> Removal {
    let seed = (92..).find(|s| {
        let net = Net::new(3, *s);
        net.device(1) < net.device(0) && net.device(1) < net.device(2)
    });
    let (mut net, [shared, own], both) = linked_world(seed.expect("some seed orders the keys so"));
    assert!(both, "the linked device holds both spaces");
    assert!(net.run(120_000, |n| n.converged(&shared, &[0, 1, 2])), "replicas agree");
    let lost = net.device(1);
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
    let item = net.write(1, shared, "from the lost device");
    let seen = net.run(120_000, |n| removed(n, 2, &shared));
    let told_of = |n: &Net, space: &PublicKey| n.events[1].contains(&Event::Removed { space: *space });
    let told = net.run(120_000, |n| told_of(n, &shared) && told_of(n, &own));
    let before = net.dials(1, 0) + net.dials(1, 2);
    net.run(300_000, |_| false);
    let dials_after = net.dials(1, 0) + net.dials(1, 2) - before;
    let on_halo = net.on_topic(&spaces_protocol::identity::halo_topic(&me)).contains(&lost);
    let shows = |n: &Net, i: usize| n.peers[i].client().items(&shared).is_ok_and(|it| it.iter().any(|x| x.id == item));
    let standing = net.peers[1].client().standing(&shared).expect("the replica stays");
    Removal { kept_out: !shows(&net, 0) && !shows(&net, 2), seen, told, dials_after, on_halo, standing }
}

#[test]
fn a_removed_device_writes_nowhere_learns_it_and_stops_dialling() {
    let r = removed_device_world();
    assert!(r.seen, "the other member learns of the removal");
    assert!(r.kept_out, "the lost device's write after its removal is void for every member");
    assert!(r.told, "the removed device learns of its removal in both spaces (SPEC 9.2.2 rule 7)");
    assert_eq!(r.dials_after, 0, "once told it dials no member (SPEC 9.1.1)");
    assert!(!r.on_halo, "once told it leaves its identity's HALO topic (SPEC 9.8)");
    assert_eq!(r.standing, Standing::Removed, "its client shows it removed, though its identity is a member");
}

/// Peers 1 and 3 are linked to peer 0's identity; peer 3 creates a space that peer 0 then
/// leaves, so peer 0 does not hold it. Peer 0 removes peer 1. Returns whether peer 3 repeated
/// the removal in its space, and whether peer 1 learned of its removal there.
fn spread_world(seed: u64) -> (bool, bool) {
    let mut net = Net::new(4, seed);
    let shared = net.shared_space(&[2]);
    net.link_device(0, 1);
    net.link_device(0, 3);
    assert!(net.run(300_000, |n| holds(n, 1, &shared) && holds(n, 3, &shared)), "both hold the space");
    net.command(3, Command::CreateSpace);
    let only = *created(&net, 3).last().expect("created");
    assert!(net.run(300_000, |n| holds(n, 0, &only) && holds(n, 1, &only)), "the HALO brings it to both");
    net.command(0, Command::Leave { space: only });
    assert!(net.run(300_000, |n| n.peers[0].client().space(&only).is_none()), "the leave completes");
    let lost = net.device(1);
    net.command(0, Command::RemoveDevice { device: lost });
    let me = net.key(0);
    let names_lost = |c: &spaces_protocol::Credential| {
        c.issuer() == me && matches!(c.assertion(), Assertion::RemovedDevice { device, .. } if *device == lost)
    };
    let spread =
        |n: &Net| n.peers[3].client().space(&only).is_some_and(|s| s.membership().credentials().any(names_lost));
    let repeated = net.run(300_000, spread);
    let told = net.run(300_000, |n| n.events[1].contains(&Event::Removed { space: only }));
    (repeated, told)
}

#[test]
fn a_sibling_repeats_a_device_removal_in_the_spaces_the_remover_does_not_hold() {
    let (repeated, told) = spread_world(94);
    assert!(repeated, "peer 3 removes the device from the space only it and the device hold (SPEC 9.8)");
    assert!(told, "and the removed device learns of it there");
}

#[cfg(feature = "mutants")]
#[test]
fn the_spread_fails_with_its_planted_bug() {
    use spaces_protocol::mutants::{Mutant, set};
    set(Some(Mutant::NoRemovalSpread));
    let (repeated, _) = spread_world(94);
    set(None);
    assert!(!repeated, "no-removal-spread: the removal stays in the remover's spaces");
}

#[cfg(feature = "mutants")]
#[test]
fn a_removed_device_writes_on_with_removal_planted_off() {
    use spaces_protocol::mutants::{Mutant, set};
    set(Some(Mutant::IgnoreDeviceRemoval));
    let r = removed_device_world();
    set(None);
    assert!(!r.kept_out, "ignore-device-removal: the lost device's write counts");
    assert!(!r.told, "ignore-device-removal: the device never learns");
    set(Some(Mutant::RemovedKeepsDialling));
    let r = removed_device_world();
    set(None);
    assert!(r.told && r.dials_after > 0, "removed-keeps-dialling: told, it dials on");
    assert!(r.on_halo, "removed-keeps-dialling: and stays on its identity's HALO topic");
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
