//! A removed member learns of its removal (SPEC.md §9.2.2 rule 7, §9.7 item 2): the entries
//! that carry it reach its device, whose replica then shows it removed and says so once.

use spaces_protocol::Role;
use spaces_protocol::peer::{Command, Event};
use spaces_protocol::space::Standing;
use spaces_protocol::testing::peer_net::Net;

fn standing(net: &Net, i: usize, space: &spaces_protocol::PublicKey) -> Standing {
    let me = net.peers[i].client().identity_key();
    net.peers[i].client().space(space).expect("the replica stays").standing(&me)
}

/// Failed before rule 7 (the link closed before anything carrying the removal was sent): the
/// removed device still believed itself an editor.
#[test]
fn a_removed_member_learns_of_its_removal_before_the_link_closes() {
    let mut net = Net::new(2, 61);
    let space = net.shared_space(&[1]);
    let member = net.key(1);
    net.command(0, Command::SetRole { space, member, role: Role::Removed });
    assert!(net.run(60_000, |n| standing(n, 1, &space) == Standing::Removed), "{:?}", standing(&net, 1, &space));
    assert_eq!(net.events[1].iter().filter(|e| **e == Event::Removed { space }).count(), 1, "told once");
    assert!(net.peers[1].client().space(&space).is_some(), "its replica stays, read-only");
}

/// A device that was away when it was removed learns it from the first member it reaches:
/// its summary (it still believes itself a member) gets the entries that removed it.
#[test]
fn a_member_removed_while_away_learns_of_it_on_its_return() {
    let mut net = Net::new(2, 62);
    let space = net.shared_space(&[1]);
    net.restart(1); // every link of the device drops
    let member = net.key(1);
    net.command(0, Command::SetRole { space, member, role: Role::Removed });
    assert!(net.run(300_000, |n| standing(n, 1, &space) == Standing::Removed), "{:?}", standing(&net, 1, &space));
    assert!(net.events[1].contains(&Event::Removed { space }));
}

/// A device heard for two spaces (removed from both, the second while it was away) learns
/// the second removal too, whichever space its summaries list first. Failed before (hostile
/// seed 1224, L1): the link closed on the first space's summary, which drew nothing, before
/// the second space's summary arrived.
#[test]
fn a_member_removed_from_two_spaces_learns_of_the_second_while_away() {
    for swap in [false, true] {
        assert_eq!(learns_the_second_removal(swap), Ok(()), "swap {swap}");
    }
}

/// Removes peer 1 from two spaces of peer 0, the second while it is away; whether it then
/// learns of the second (and says so), or the standing it is left with.
fn learns_the_second_removal(swap: bool) -> Result<(), Standing> {
    let mut net = Net::new(2, 63);
    let mut first = net.shared_space(&[1]);
    let mut second = net.shared_space(&[1]);
    if swap {
        std::mem::swap(&mut first, &mut second);
    }
    let member = net.key(1);
    net.command(0, Command::SetRole { space: first, member, role: Role::Removed });
    assert!(net.run(60_000, |n| standing(n, 1, &first) == Standing::Removed));
    net.restart(1);
    net.command(0, Command::SetRole { space: second, member, role: Role::Removed });
    if !net.run(300_000, |n| standing(n, 1, &second) == Standing::Removed) {
        return Err(standing(&net, 1, &second));
    }
    assert!(net.events[1].contains(&Event::Removed { space: second }));
    Ok(())
}

#[cfg(feature = "mutants")]
#[test]
fn closing_on_the_first_settled_space_loses_the_second_removal() {
    use spaces_protocol::mutants::{Mutant, set};
    set(Some(Mutant::CloseOnFirstHeardSpace));
    let outcomes = [false, true].map(learns_the_second_removal);
    set(None);
    assert!(outcomes.iter().any(Result::is_err), "{outcomes:?}");
}

/// A device removed while away, whose remover is gone for good by the time it returns, learns
/// of its removal from a member admitted after it went away: a device it cannot know as a
/// member, which knows it as removed. Failed before SPEC.md §9.2.2 rule 8 (§9.7 item 11): it
/// refused every member it met at once, and they sent it nothing unasked.
#[test]
fn a_member_removed_while_away_learns_of_it_from_a_member_admitted_since() {
    assert_eq!(learns_from_a_member_admitted_since(), Ok(()));
}

fn learns_from_a_member_admitted_since() -> Result<(), Standing> {
    let mut net = Net::new(3, 64);
    let space = net.shared_space(&[1]);
    net.take_down(1);
    let member = net.key(1);
    net.command(0, Command::SetRole { space, member, role: Role::Removed });
    net.invite(0, 2, space);
    assert!(net.run(60_000, |n| n.converged(&space, &[0, 2])));
    net.take_down(0);
    net.bring_back(1);
    if !net.run(300_000, |n| standing(n, 1, &space) == Standing::Removed) {
        return Err(standing(&net, 1, &space));
    }
    assert!(net.events[1].contains(&Event::Removed { space }));
    Ok(())
}

#[cfg(feature = "mutants")]
#[test]
fn refusing_strangers_at_once_leaves_it_a_member() {
    use spaces_protocol::mutants::{Mutant, set};
    set(Some(Mutant::RefuseStrangers));
    let outcome = learns_from_a_member_admitted_since();
    set(None);
    assert!(outcome.is_err(), "{outcome:?}");
}
