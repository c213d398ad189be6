//! Whom a device dials once its replica shows it removed (SPEC.md §9.1.1, removed devices): no one for
//! that space, and a member dials it back itself when it re-admits it, whatever the key order.
//! Both halves fail with their planted bug (`removed-keeps-dialling`, `no-readmitted-dial`).

use spaces_protocol::Role;
use spaces_protocol::peer::Command;
use spaces_protocol::space::Standing;
use spaces_protocol::testing::peer_net::Net;

fn standing(net: &Net, i: usize, space: &spaces_protocol::PublicKey) -> Standing {
    let me = net.peers[i].client().identity_key();
    net.peers[i].client().space(space).expect("the replica stays").standing(&me)
}

/// What the removed device did: the dials it made to the member over five minutes after it
/// knew, and whether it learned of its re-admission.
struct Outcome {
    dials_while_removed: u32,
    readmitted: bool,
}

/// A world of two where peer 1 has the smaller device key, so it is the one that dials: the
/// member removes it, waits five minutes, then re-admits it as an editor.
fn remove_then_readmit() -> Outcome {
    let seed = (80..).find(|s| {
        let net = Net::new(2, *s);
        net.device(1) < net.device(0)
    });
    let mut net = Net::new(2, seed.expect("some seed orders the keys so"));
    let space = net.shared_space(&[1]);
    let member = net.key(1);
    net.command(0, Command::SetRole { space, member, role: Role::Removed });
    assert!(net.run(60_000, |n| standing(n, 1, &space) == Standing::Removed), "it learns of its removal");
    let before = net.dials(1, 0);
    net.run(300_000, |_| false);
    let dials_while_removed = net.dials(1, 0) - before;
    net.command(0, Command::SetRole { space, member, role: Role::Editor });
    let readmitted = net.run(300_000, |n| standing(n, 1, &space) == Standing::Member(Role::Editor));
    Outcome { dials_while_removed, readmitted }
}

#[test]
fn a_removed_device_stops_dialling_and_hears_of_its_readmission_from_the_member() {
    let o = remove_then_readmit();
    assert_eq!(o.dials_while_removed, 0, "a device that knows it was removed dials no member for the space");
    assert!(o.readmitted, "the member dials the device it re-admitted, though its key is the greater");
}

#[cfg(feature = "mutants")]
#[test]
fn each_half_of_the_dialling_rule_fails_with_its_planted_bug() {
    use spaces_protocol::mutants::{Mutant, set};
    set(Some(Mutant::RemovedKeepsDialling));
    let keeps = remove_then_readmit();
    set(Some(Mutant::NoReadmittedDial));
    let forgotten = remove_then_readmit();
    set(None);
    assert!(keeps.dials_while_removed > 0, "removed-keeps-dialling: it dials on");
    assert!(!forgotten.readmitted, "no-readmitted-dial: the device never hears it is back");
}
