//! The Peer's invitation table (SPEC.md §9.4): bounded, and ended invitations leave it, so a
//! device that hosts and accepts invitations for years holds only the live ones; and which of
//! its hosted invitations it serves on their topics.

use spaces_protocol::Role;
use spaces_protocol::invitation::guest::GuestEvent;
use spaces_protocol::invitation::{AuthMethod, State};
use spaces_protocol::peer::{Command, CommandError, Event, HOSTED_MAX, JOINING_MAX, Record};
use spaces_protocol::testing::peer_net::{Net, space_of};

/// Failed on the code before the table (`Peer::hosting` and `Peer::joining` only grew, SPEC §9.7
/// item 7): the completed invitation and the finished acceptance stayed for good.
#[test]
fn ended_invitations_leave_the_table_and_the_snapshot() {
    let mut net = Net::new(2, 41);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    net.invite(0, 1, space); // an hour's invitation, used once
    assert_eq!(net.peers[1].joining().count(), 0, "the guest's acceptance ended with its success");
    assert_eq!(net.peers[0].hosting().count(), 1, "a completed invitation serves guests in doubt until it expires");
    assert!(net.run(3_700_000, |n| n.peers[0].hosting().count() == 0), "it leaves at its expiry");
    assert!(net.peers[0].snapshot().hosts.is_empty(), "and the next snapshot leaves its record out");
    // A restart from a log that still holds the record lets it go again at once.
    net.restart(0);
    net.run(1_000, |_| false);
    assert_eq!(net.peers[0].hosting().count(), 0);
    assert!(net.disks[0].iter().any(|r| matches!(r, Record::Host(_))), "the log had the record");
}

/// A cancelled invitation stays (refusing guests as cancelled) until its expiry, then goes.
#[test]
fn a_cancelled_invitation_goes_at_its_expiry() {
    let mut net = Net::new(1, 42);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    let id = net.open_invitation(0, space, 60_000).0.id;
    net.command(0, Command::CancelInvitation { id });
    assert_eq!(net.peers[0].hosting().count(), 1, "ended, not expired");
    assert!(net.run(61_000, |n| n.peers[0].hosting().count() == 0));
    assert_eq!(
        net.try_command(0, Command::CancelInvitation { id }),
        Err(CommandError::UnknownInvitation),
        "a command naming it is refused, saying why"
    );
}

/// Hosting is bounded: past `HOSTED_MAX` live invitations the command is refused with its cause,
/// and one ended and expired makes room again.
#[test]
fn a_device_hosts_at_most_hosted_max_invitations() {
    let mut net = Net::new(1, 43);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    for i in 0..HOSTED_MAX {
        // The first expires soon; the others last.
        let lifetime = if i == 0 { 60_000 } else { 3_600_000 };
        net.open_invitation(0, space, lifetime);
    }
    let one_more = Command::CreateInvitation {
        space: Some(space),
        auth: AuthMethod::Pin,
        role: Role::Editor,
        guest: None,
        lifetime_ms: 60_000,
        use_limit: 1,
    };
    assert_eq!(net.try_command(0, one_more.clone()), Err(CommandError::TooManyInvitations));
    assert_eq!(net.peers[0].hosting().count(), HOSTED_MAX, "the refusal changed nothing");
    assert!(net.run(61_000, |n| n.peers[0].hosting().count() < HOSTED_MAX), "the short one expired and left");
    assert_eq!(net.try_command(0, one_more), Ok(()));
}

/// Accepting is bounded too: a device accepts at most `JOINING_MAX` invitations at once.
#[test]
fn a_device_accepts_at_most_joining_max_invitations() {
    let mut net = Net::new(2, 44);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    let mut codes = Vec::new();
    for _ in 0..=JOINING_MAX {
        codes.push(net.open_invitation(0, space, 3_600_000).0);
    }
    let mut answers = Vec::new();
    for code in codes {
        answers.push(net.try_command(1, Command::AcceptInvitation { code }));
    }
    assert!(answers[..JOINING_MAX].iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(answers[JOINING_MAX], Err(CommandError::TooManyInvitations));
    assert_eq!(net.peers[1].joining().count(), JOINING_MAX);
}

/// Found by the simulator (calm seed 644, L2): an admin named by a delegated invitation, then
/// demoted to editor, went on answering on the invitation's topic and refused the guest it met
/// `NotAuthorised`, a final refusal, though the invitation's creator, still an admin, would
/// have admitted it. A delegated share is served only while its host may admit (SPEC §7.8.2).
#[test]
fn a_demoted_delegate_stops_serving_its_share_and_the_creator_admits() {
    let mut net = Net::new(3, 47);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    net.invite(0, 1, space);
    let (code, pin) = net.delegated_invitation(0, 1, space);
    let delegate = net.key(1);
    let role_on = |n: &Net, i: usize| n.peers[i].client().space(&space).and_then(|s| s.membership().role(&delegate));
    let topic = code.topic();
    let serving = |n: &Net, i: usize| n.peers[i].signal_topics().contains(&topic);
    assert!(net.run(60_000, |n| serving(n, 0) && serving(n, 1)), "creator and delegate both serve it");

    net.command(0, Command::SetRole { space, member: delegate, role: Role::Editor });
    assert!(net.run(60_000, |n| role_on(n, 1) == Some(Role::Editor)), "the delegate learns it was demoted");
    assert!(!serving(&net, 1), "a host that may not admit leaves the invitation's topic");
    assert!(serving(&net, 0), "the creator still serves it");

    net.command(2, Command::AcceptInvitation { code });
    let ready = |n: &Net| {
        n.events[2].iter().any(
            |e| matches!(e, Event::Joining { event: GuestEvent::State(State::ReadyForAuthentication), id } if *id == code.id),
        )
    };
    assert!(net.run(60_000, ready), "the guest reached a host");
    net.command(2, Command::Authenticate { id: code.id, pin });
    assert!(net.run(60_000, |n| n.events[2].contains(&Event::Joined { space })), "the creator admitted the guest");
    let refused = net.events[2].iter().any(|e| matches!(e, Event::Joining { event: GuestEvent::Failed(_), .. }));
    assert!(!refused, "no host turned the guest away");
}
