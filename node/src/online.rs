//! Commands that go online: `invite`, `join`, `device invite`, `device join`, `sync` and
//! `up`. Each restores the device, connects it to the signaling server and steps the [`Node`]
//! loop until its goal or its deadline; what happens on the wire is all the Peer's doing, the
//! command only watches its events and tells the user.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use spaces_protocol::PublicKey;
use spaces_protocol::invitation::guest::GuestEvent;
use spaces_protocol::invitation::host::HostEvent;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind as InvitationKind, Pin, Refusal, State};
use spaces_protocol::peer::{Command, Event};
use tokio::time::Instant;

use crate::cli::{self, Command as Cmd, DeviceCommand};
use crate::driver::{Node, Step};
use crate::error::NodeError;
use crate::local;
use crate::output::{Out, Status};

/// How long a finishing command waits for its last frames (an admission, entries) to leave.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// A sync is done when a member link has been up and no frame arrived for this long: the
/// Peer sends what it has at once when a link opens, so a quiet link holds nothing new.
const SYNC_QUIET: Duration = Duration::from_millis(700);

pub struct Ctx {
    pub home: PathBuf,
    pub signal: SocketAddr,
    pub listen: SocketAddr,
    pub out: Out,
}

pub async fn run(ctx: &Ctx, command: &Cmd) -> Result<(), NodeError> {
    match command {
        Cmd::Invite { space, role, multi_use, max_uses, expires, delegated } => {
            let lifetime = cli::parse_duration(expires)?;
            let use_limit = if *multi_use { max_uses.unwrap_or(0) } else { 1 };
            if *delegated {
                return invite_delegated(ctx, space, role.role(), use_limit, lifetime).await;
            }
            invite(ctx, space, role.role(), use_limit, lifetime).await
        }
        Cmd::Join { code, pin, name, timeout } => {
            let code = decode_code(code)?;
            if code.kind != InvitationKind::Space {
                return Err(NodeError::bad("invite code", "it links a device: use spaces device join CODE"));
            }
            let timeout = cli::parse_duration(timeout)?;
            join(ctx, code, pin.as_deref(), name.as_deref(), timeout).await
        }
        Cmd::Device { command: DeviceCommand::Invite { expires } } => {
            device_invite(ctx, cli::parse_duration(expires)?).await
        }
        Cmd::Device { command: DeviceCommand::Join { code, pin, timeout } } => {
            let code = decode_code(code)?;
            if code.kind != InvitationKind::Device {
                return Err(NodeError::bad("invite code", "it invites to a space: use spaces join CODE"));
            }
            device_join(ctx, code, pin.as_deref(), cli::parse_duration(timeout)?).await
        }
        Cmd::Sync { space, timeout } => sync(ctx, space, cli::parse_duration(timeout)?).await,
        Cmd::Up => up(ctx).await,
        other => Err(NodeError::bad("command", format!("{other:?} is not an online command"))),
    }
}

fn decode_code(text: &str) -> Result<InvitationCode, NodeError> {
    InvitationCode::decode(text.trim())
        .map_err(|e| NodeError::bad("invite code", format!("{e} (expected the spc1... code the inviter printed)")))
}

async fn online(ctx: &Ctx) -> Result<Node, NodeError> {
    Node::online(&ctx.home, ctx.signal, ctx.listen).await
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Init => "created",
        State::Connecting => "connecting",
        State::Connected => "guest connected",
        State::ReadyForAuthentication => "waiting for the PIN",
        State::Authenticating => "authenticating",
        State::Success => "admitted",
        State::Cancelled => "cancelled",
        State::Timeout => "timed out",
        State::Error => "failed",
        State::Expired => "expired",
    }
}

/// One reason per refusal, as the issue asks: what happened and what to do.
fn refusal(r: Refusal) -> (String, String) {
    let (reason, hint) = match r {
        Refusal::WrongPin => ("wrong PIN", "check the PIN with the inviter and try again"),
        Refusal::AttemptsExhausted => ("the invitation is burned: too many wrong PINs", "ask for a new invitation"),
        Refusal::Expired => ("the invitation expired", "ask for a new invitation"),
        Refusal::Cancelled => ("the inviter cancelled the invitation", "ask for a new invitation"),
        Refusal::NotAuthorised => ("the inviter may no longer admit members", "ask an admin of the space"),
        Refusal::AlreadyUsed => ("the invitation was already used", "ask for a new invitation"),
        Refusal::Busy => ("another guest is joining right now", "try again in a few seconds"),
        Refusal::ProtocolViolation => ("the host broke the protocol", "try again; report it if it repeats"),
        Refusal::UnknownInvitation => {
            ("the host does not know this invitation", "check the code, or ask for a new one")
        }
        Refusal::Timeout => ("no answer from the host in time", HOST_HINT),
    };
    (reason.to_owned(), hint.to_owned())
}

const HOST_HINT: &str = "is the inviter's `spaces invite` still running, with the same --signal server?";

async fn invite(
    ctx: &Ctx,
    space: &str,
    role: spaces_protocol::Role,
    use_limit: u32,
    lifetime: Duration,
) -> Result<(), NodeError> {
    let mut node = online(ctx).await?;
    let key = local::resolve_space(&node, space)?;
    let id = create_invitation(ctx, &mut node, Some(key), Some(role), use_limit, lifetime)?;
    let status = ctx.out.status();
    status.set("waiting for a guest", json!({"event": "state", "state": "waiting"}));
    let result = host_loop(&mut node, id, &status).await;
    status.finish();
    node.shutdown(SHUTDOWN_GRACE).await;
    result
}

/// A delegated invitation: created, handed to another admin device of the space (the
/// credential that lets it host its share reaches it over a replication link, SPEC §7.8), and
/// left open. The command ends without cancelling: the admins host it while this device is
/// offline.
async fn invite_delegated(
    ctx: &Ctx,
    space: &str,
    role: spaces_protocol::Role,
    use_limit: u32,
    lifetime: Duration,
) -> Result<(), NodeError> {
    let mut node = online(ctx).await?;
    let key = local::resolve_space(&node, space)?;
    let lifetime_ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
    let delegate =
        Command::DelegateInvitation { space: key, auth: AuthMethod::Pin, role, guest: None, lifetime_ms, use_limit };
    let events = local::run(&mut node, &delegate)?;
    announce(ctx, &events, "delegated_invitation", Some(role))?;
    let status = ctx.out.status();
    status.set("handing it to an admin device", json!({"event": "state", "state": "handover"}));
    let result = hand_to_admin(&mut node, key, Instant::now() + HANDOVER_MAX).await;
    status.finish();
    node.shutdown(SHUTDOWN_GRACE).await;
    result?;
    ctx.out
        .emit("handed to the space's admin devices: they host it while online (spaces up)", json!({"event": "handed"}));
    Ok(())
}

/// Until a link carrying `space` to another admin device of it has gone quiet: what we hold
/// (the delegation credential included) has reached that device then.
async fn hand_to_admin(node: &mut Node, space: PublicKey, deadline: Instant) -> Result<(), NodeError> {
    loop {
        while node.next_event().is_some() {}
        let admins: Vec<_> = node
            .peer
            .client()
            .space(&space)
            .map(|s| s.membership().admin_devices().into_iter().map(|(_, _, noise)| noise).collect())
            .unwrap_or_default();
        let own = node.peer.client().identity().noise_keypair().public();
        let linked = node
            .peer
            .swarm_links()
            .iter()
            .any(|l| l.spaces.contains(&space) && l.remote != own && admins.contains(&l.remote));
        let until = if linked { (node.last_frame + SYNC_QUIET).min(deadline) } else { deadline };
        match node.step(Some(until)).await? {
            Step::Progress => {}
            Step::Deadline if linked => return Ok(()),
            Step::Deadline => {
                return Err(NodeError::Invitation {
                    reason: "no other admin device of the space answered: the invitation is open, but only this device hosts it".into(),
                    hint: "run spaces up on another admin device of the space, then spaces up here to hand it over".into(),
                });
            }
            Step::Interrupted => return Err(NodeError::Interrupted),
        }
    }
}

/// Prints the code of the invitation `events` created, then its PIN on a line of its own
/// (for the side channel); its id.
fn announce(
    ctx: &Ctx,
    events: &[Event],
    kind: &str,
    role: Option<spaces_protocol::Role>,
) -> Result<[u8; 16], NodeError> {
    let Some((id, code, pin)) = events.iter().find_map(|e| match e {
        Event::InvitationCreated { id, code, pin } => Some((*id, *code, pin.clone())),
        _ => None,
    }) else {
        return Err(NodeError::Refused { what: "the invitation".into(), detail: "no invitation was created".into() });
    };
    let pin = pin.as_ref().map(Pin::reveal).unwrap_or_default().to_owned();
    ctx.out.emit(
        format!("invite code: {code}"),
        json!({"event": kind, "code": code.to_string(), "role": local::role_name(role)}),
    );
    ctx.out.emit(&pin, json!({"event": "pin", "pin": pin}));
    Ok(id)
}

/// Creates a PIN invitation (to `space`, or a device invitation) and announces it; its id.
fn create_invitation(
    ctx: &Ctx,
    node: &mut Node,
    space: Option<PublicKey>,
    role: Option<spaces_protocol::Role>,
    use_limit: u32,
    lifetime: Duration,
) -> Result<[u8; 16], NodeError> {
    let lifetime_ms = u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX);
    // A device gets its identity's roles; a DEVICE invitation's role is not used.
    let command_role = role.unwrap_or(spaces_protocol::Role::Reader);
    let create = Command::CreateInvitation {
        space,
        auth: AuthMethod::Pin,
        role: command_role,
        guest: None,
        lifetime_ms,
        use_limit,
    };
    let events = local::run(node, &create)?;
    announce(ctx, &events, if space.is_some() { "invitation" } else { "device_invitation" }, role)
}

async fn host_loop(node: &mut Node, id: [u8; 16], status: &Status) -> Result<(), NodeError> {
    // The last session's refusal explains an ERROR end (burned, for one).
    let mut last_refusal = None;
    loop {
        while let Some(e) = node.next_event() {
            let Event::Hosting { id: eid, event } = e else { continue };
            if eid != id {
                continue;
            }
            match event {
                HostEvent::State(s) => {
                    status.note(state_name(s), json!({"event": "state", "state": state_name(s)}));
                    if s == State::Success {
                        return Ok(());
                    }
                    if s.is_terminal() {
                        let why = match (s, last_refusal) {
                            (State::Error, Some(r)) => refusal(r).0,
                            _ => state_name(s).to_owned(),
                        };
                        return Err(NodeError::Invitation {
                            reason: format!("the invitation ended: {why}"),
                            hint: "create a new one with spaces invite SPACE".into(),
                        });
                    }
                }
                HostEvent::Admitted { guest, .. } => {
                    status.note(&format!("admitted {guest}"), json!({"event": "admitted", "guest": guest.to_string()}))
                }
                HostEvent::AttemptFailed { attempts_left } => status.note(
                    &format!("a guest typed a wrong PIN ({attempts_left} attempts left)"),
                    json!({"event": "wrong_pin", "attempts_left": attempts_left}),
                ),
                HostEvent::SessionFailed { reason, .. } => {
                    last_refusal = Some(reason);
                    let (why, _) = refusal(reason);
                    status.note(&format!("a guest failed: {why}"), json!({"event": "session_failed", "reason": why}))
                }
            }
        }
        if node.step(None).await? == Step::Interrupted {
            node.command(&Command::CancelInvitation { id })?;
            return Err(NodeError::Interrupted);
        }
    }
}

fn read_pin() -> Result<Pin, NodeError> {
    let text = rpassword::prompt_password("PIN: ")
        .map_err(|e| NodeError::Io { what: "reading the PIN".into(), detail: e.to_string() })?;
    Pin::parse(&text).map_err(|_| NodeError::bad("PIN", "expected 6 digits"))
}

async fn join(
    ctx: &Ctx,
    code: InvitationCode,
    pin: Option<&str>,
    name: Option<&str>,
    timeout: Duration,
) -> Result<(), NodeError> {
    let given = pin.map(|p| Pin::parse(p).map_err(|_| NodeError::bad("PIN", "expected 6 digits"))).transpose()?;
    let mut node = online(ctx).await?;
    local::run(&mut node, &Command::AcceptInvitation { code })?;
    let status = ctx.out.status();
    status.set("looking for the host", json!({"event": "state", "state": "connecting"}));
    let result = guest_loop(&mut node, code.id, Goal::Space, given, Instant::now() + timeout, &status).await;
    status.finish();
    let result = result.and_then(|space| {
        if let Some(name) = name {
            local::set_alias(&node, name, &space)?;
        }
        ctx.out.emit(format!("joined space {space}"), json!({"event": "joined", "space": space.to_string()}));
        Ok(())
    });
    node.shutdown(SHUTDOWN_GRACE).await;
    result
}

/// What a guest's flow ends in: a space joined, or this device linked to an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal {
    Space,
    Device,
}

/// Runs an accepted invitation to its end; the space joined (`Goal::Space`) or the identity
/// this device now belongs to (`Goal::Device`).
async fn guest_loop(
    node: &mut Node,
    id: [u8; 16],
    goal: Goal,
    mut pin: Option<Pin>,
    deadline: Instant,
    status: &Status,
) -> Result<PublicKey, NodeError> {
    let mut reached = false;
    loop {
        while let Some(e) = node.next_event() {
            match e {
                Event::Joined { space } if goal == Goal::Space => return Ok(space),
                Event::Linked { identity } if goal == Goal::Device => return Ok(identity),
                Event::Joining { id: eid, event } if eid == id => match event {
                    GuestEvent::State(State::ReadyForAuthentication) => {
                        reached = true;
                        let p = match pin.take() {
                            Some(p) => p,
                            None => read_pin()?,
                        };
                        status.set("authenticating", json!({"event": "state", "state": "authenticating"}));
                        node.command(&Command::Authenticate { id, pin: p })?;
                    }
                    GuestEvent::State(s) => {
                        reached |= matches!(s, State::Connected | State::Authenticating);
                        status.set(state_name(s), json!({"event": "state", "state": state_name(s)}));
                    }
                    GuestEvent::WrongPin { attempts_left: 0 } => return Err(failed(Refusal::AttemptsExhausted)),
                    GuestEvent::WrongPin { attempts_left } => {
                        let reason = format!("wrong PIN ({attempts_left} attempts left)");
                        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                            return Err(NodeError::Invitation {
                                reason,
                                hint: "check the PIN with the inviter and run join again".into(),
                            });
                        }
                        status.note(&reason, json!({"event": "wrong_pin", "attempts_left": attempts_left}));
                        let p = read_pin()?;
                        node.command(&Command::Authenticate { id, pin: p })?;
                    }
                    GuestEvent::Admitted(_) => status.set("admitted", json!({"event": "state", "state": "admitted"})),
                    GuestEvent::Failed(Refusal::Timeout) if !reached => return Err(unreachable()),
                    GuestEvent::Failed(r) => return Err(failed(r)),
                },
                _ => {}
            }
        }
        match node.step(Some(deadline)).await? {
            Step::Progress => {}
            Step::Deadline if reached => return Err(failed(Refusal::Timeout)),
            Step::Deadline => return Err(unreachable()),
            Step::Interrupted => {
                node.command(&Command::CancelAccept { id })?;
                return Err(NodeError::Interrupted);
            }
        }
    }
}

fn failed(r: Refusal) -> NodeError {
    let (reason, hint) = refusal(r);
    NodeError::Invitation { reason, hint }
}

fn unreachable() -> NodeError {
    NodeError::Invitation {
        reason: "host unreachable: no host for this invitation answered".into(),
        hint: HOST_HINT.into(),
    }
}

/// Longest a device invitation's host stays up after the link to hand the new device its
/// identity's spaces; a device that misses some gets them from any sibling online later.
const HANDOVER_MAX: Duration = Duration::from_secs(30);

async fn device_invite(ctx: &Ctx, lifetime: Duration) -> Result<(), NodeError> {
    let mut node = online(ctx).await?;
    let id = create_invitation(ctx, &mut node, None, None, 1, lifetime)?;
    let status = ctx.out.status();
    status.set("waiting for your new device", json!({"event": "state", "state": "waiting"}));
    let mut result = host_loop(&mut node, id, &status).await;
    if result.is_ok() {
        status.set("handing over your spaces", json!({"event": "state", "state": "handover"}));
        result = handover(&mut node, Instant::now() + HANDOVER_MAX).await.map(|_| ());
    }
    status.finish();
    node.shutdown(SHUTDOWN_GRACE).await;
    result?;
    ctx.out.emit("linked a new device", json!({"event": "linked"}));
    Ok(())
}

async fn device_join(ctx: &Ctx, code: InvitationCode, pin: Option<&str>, timeout: Duration) -> Result<(), NodeError> {
    let given = pin.map(|p| Pin::parse(p).map_err(|_| NodeError::bad("PIN", "expected 6 digits"))).transpose()?;
    let mut node = online(ctx).await?;
    if node.peer.client().space_keys().next().is_some() {
        return Err(NodeError::NotBlank { home: ctx.home.clone() });
    }
    local::run(&mut node, &Command::AcceptInvitation { code })?;
    let status = ctx.out.status();
    status.set("looking for your other device", json!({"event": "state", "state": "connecting"}));
    let deadline = Instant::now() + timeout;
    let mut result = guest_loop(&mut node, code.id, Goal::Device, given, deadline, &status).await;
    if result.is_ok() {
        status.set("receiving your spaces", json!({"event": "state", "state": "handover"}));
        result = handover(&mut node, deadline).await.and(result);
    }
    status.finish();
    node.shutdown(SHUTDOWN_GRACE).await;
    let identity = result?;
    let spaces = node_spaces(&ctx.home);
    ctx.out.emit(
        format!("linked to identity {identity}; this device holds {spaces} spaces"),
        json!({"event": "linked", "identity": identity.to_string(), "spaces": spaces}),
    );
    Ok(())
}

fn node_spaces(home: &std::path::Path) -> usize {
    Node::offline(home).map(|n| n.peer.client().space_keys().count()).unwrap_or(0)
}

/// After a link, until a link to a sibling (a device of our identity) has gone quiet, or
/// closed: the Peer tells a sibling its spaces and asks for those it lacks as soon as the link
/// opens, so a quiet sibling link has nothing more to give, and a sibling that left took what
/// it asked for (it gets the rest from any sibling later). Ends quietly at `deadline`.
async fn handover(node: &mut Node, deadline: Instant) -> Result<PublicKey, NodeError> {
    let mut seen = false;
    loop {
        while node.next_event().is_some() {}
        let sibling = node.peer.swarm_links().iter().any(|l| node.peer.client().sibling(&l.remote).is_some());
        if seen && !sibling {
            return Ok(node.peer.client().identity_key());
        }
        seen |= sibling;
        let until = if sibling { (node.last_frame + SYNC_QUIET).min(deadline) } else { deadline };
        match node.step(Some(until)).await? {
            Step::Progress => {}
            Step::Deadline => return Ok(node.peer.client().identity_key()),
            Step::Interrupted => return Err(NodeError::Interrupted),
        }
    }
}

async fn sync(ctx: &Ctx, space: &str, timeout: Duration) -> Result<(), NodeError> {
    let mut node = online(ctx).await?;
    let key = local::resolve_space(&node, space)?;
    let deadline = Instant::now() + timeout;
    let status = ctx.out.status();
    status.set("looking for another member device", json!({"event": "state", "state": "searching"}));
    let result = sync_loop(&mut node, key, deadline).await;
    status.finish();
    node.shutdown(SHUTDOWN_GRACE).await;
    let (space_s, items) = (key.to_string(), node_items(&ctx.home, &key));
    result?;
    ctx.out.emit(
        format!("synced space {space_s} ({items} items)"),
        json!({"event": "synced", "space": space_s, "items": items}),
    );
    Ok(())
}

fn node_items(home: &std::path::Path, key: &PublicKey) -> usize {
    Node::offline(home).ok().and_then(|n| n.peer.client().items(key).ok().map(|i| i.len())).unwrap_or(0)
}

async fn sync_loop(node: &mut Node, key: PublicKey, deadline: Instant) -> Result<(), NodeError> {
    let mut refused = false;
    // Only a link the Peer holds authorised for this space when replication goes quiet
    // counts: a device that refuses us (we were removed) answers `Refused`, and the Peer then
    // drops the space from the link.
    let mut linked = false;
    loop {
        while let Some(e) = node.next_event() {
            if let Event::Refused { .. } = e {
                refused = true;
            }
        }
        let now_linked = node.peer.swarm_links().iter().any(|l| l.spaces.contains(&key));
        refused |= linked && !now_linked;
        linked = now_linked;
        let until = if linked { (node.last_frame + SYNC_QUIET).min(deadline) } else { deadline };
        match node.step(Some(until)).await? {
            Step::Progress => {}
            Step::Deadline if linked && Instant::now() < deadline => return Ok(()),
            Step::Deadline => {
                let detail = if refused {
                    "the other devices refused us (removed from the space?)"
                } else {
                    "no other member device answered in time"
                };
                return Err(NodeError::Sync { space: key.to_string(), detail: detail.into() });
            }
            Step::Interrupted => return Err(NodeError::Interrupted),
        }
    }
}

async fn up(ctx: &Ctx) -> Result<(), NodeError> {
    let mut node = online(ctx).await?;
    let identity = node.peer.client().identity_key();
    let listen = node.listen.map(|a| a.to_string()).unwrap_or_default();
    ctx.out.emit(
        format!("online as {identity} on {listen}; Ctrl-C to stop"),
        json!({"event": "online", "identity": identity.to_string(), "listen": listen}),
    );
    loop {
        while let Some(e) = node.next_event() {
            match e {
                Event::Changed { space } => ctx
                    .out
                    .emit(format!("space {space} changed"), json!({"event": "changed", "space": space.to_string()})),
                Event::Joined { space } => ctx
                    .out
                    .emit(format!("joined space {space}"), json!({"event": "joined", "space": space.to_string()})),
                _ => {}
            }
        }
        if node.step(None).await? == Step::Interrupted {
            break;
        }
    }
    node.shutdown(SHUTDOWN_GRACE).await;
    ctx.out.emit("stopped", json!({"event": "stopped"}));
    Ok(())
}
