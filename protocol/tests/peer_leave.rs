//! Leaving hands off first (SPEC.md §9.4.2): the summary that ends the handoff must come from a
//! member that does not owe its membership to the leaver's own feeds.

mod net;

use spaces_protocol::Role;
use spaces_protocol::peer::Command;

use net::*;

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
