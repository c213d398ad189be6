//! Leaving hands off first (SPEC.md §9.4.2): the summary that ends the handoff must come from a
//! member that does not owe its membership to the leaver's own feeds.

use spaces_protocol::Role;
use spaces_protocol::peer::Command;
use spaces_protocol::testing::peer_net::{Net, space_of};

/// Found by the simulator (faulty seed 972, L1): an admin admitted a guest while the owner was
/// away, left, and took the guest's own summary, which shows the admin's feeds held (the grant
/// gave them), for the handoff. It dropped its replica, and the owner, back, never learned of
/// the guest: it refuses the guest's links until it holds the admission, which only the admin
/// carried.
#[test]
fn a_leaver_hands_off_to_a_member_it_did_not_admit() {
    let mut net = Net::new(3, 53);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    net.invite(0, 1, space);
    net.promote(0, 1, space);

    net.take_down(0);
    net.invite(1, 2, space);
    net.command(1, Command::Leave { space });
    net.run(30_000, |_| false); // the guest's summaries reach the leaver meanwhile
    assert!(net.peers[1].client().space(&space).is_some(), "the guest's summary does not end the handoff");

    net.down.remove(&0);
    net.restart(0);
    let guest = net.key(2);
    let known = |n: &Net| n.peers[0].client().space(&space).unwrap().membership().role(&guest) == Some(Role::Editor);
    assert!(net.run(60_000, known), "the owner, back, learns of the guest from the leaver");
    assert!(net.run(300_000, |n| n.peers[1].client().space(&space).is_none()), "and the admin is gone");
}

/// Found by the simulator (hostile seed 1360, L1): a member (1) away while the creator (0)
/// admitted a guest (2) and left, handing off to the guest, came back and met the guest over
/// the connection they share for another space. The guest summarised the space; the member,
/// which could not place the guest yet, refused it there, and the entries carrying the guest's
/// admission never came. Open: SPEC.md §9.7 item 12; probing the space beside the link set
/// (branch `probe-beside`) passes it.
#[test]
#[ignore = "open: SPEC §9.7 item 12 (a member refuses a space beside a link set); passes on branch probe-beside"]
fn a_member_back_learns_of_a_guest_admitted_while_it_was_away_over_a_link_for_another_space() {
    assert!(learns_of_the_guest_beside(), "the member, back, learns of the guest");
}

/// Whether peer 1, back, learns of the guest peer 0 admitted and handed off to before leaving.
fn learns_of_the_guest_beside() -> bool {
    let mut net = Net::new(3, 54);
    let other = net.shared_space(&[1, 2]);
    net.command(0, Command::CreateSpace);
    let space = space_of_latest(&net, 0);
    assert_ne!(space, other);
    net.invite(0, 1, space);
    assert!(net.run(60_000, |n| n.converged(&space, &[0, 1])));
    net.take_down(1);
    net.invite(0, 2, space);
    net.command(0, Command::Leave { space });
    assert!(net.run(300_000, |n| n.peers[0].client().space(&space).is_none()), "the creator hands off and leaves");
    net.bring_back(1);
    let guest = net.key(2);
    net.run(300_000, |n| n.peers[1].client().space(&space).unwrap().membership().role(&guest) == Some(Role::Editor))
}

/// The space peer `i` created last.
fn space_of_latest(net: &Net, i: usize) -> spaces_protocol::PublicKey {
    use spaces_protocol::peer::Event;
    let created = |e: &Event| if let Event::SpaceCreated { space } = e { Some(*space) } else { None };
    net.events[i].iter().rev().find_map(created).expect("a space was created")
}
