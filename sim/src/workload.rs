//! The users: random but valid actions on honest devices, and how each user reacts to what
//! their device shows them (a code arrives by side channel, the PIN prompt appears, a PIN
//! was wrong). Every invitation kind, method, role and use limit; right, wrong, slow and
//! missing PINs; cancels, expiries, role changes and removals, writes, leaves and device
//! linking. Actions stop when healing starts; reactions go on, so flows can finish.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_core::RngCore;
use spaces_protocol::invitation::guest::GuestEvent;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind as InvitationKind, Pin, State};
use spaces_protocol::item::{ItemId, Op, Value};
use spaces_protocol::peer::{Command, Event};
use spaces_protocol::space::Standing;
use spaces_protocol::{PublicKey, Role};

use crate::world::{Ev, Kind, Phase, World};

/// Marks every text a user writes, so the secrecy oracle can look for it in observed bytes.
pub const PLAINTEXT_MARK: &[u8] = b"sim-plaintext-";
/// Spaces one device creates at most.
const SPACES_PER_NODE_MAX: usize = 3;

/// How the user holding a code behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Types the PIN a few seconds after the prompt.
    Prompt,
    /// Types a wrong PIN first, then the right one.
    Typo,
    /// Types it minutes later, maybe after the code expired.
    Slow,
    /// Never types it.
    Never,
    /// Gives up a few seconds in.
    Cancel,
}

/// A code handed to one guest over the side channel.
#[derive(Debug, Clone)]
pub struct Offer {
    pub host: usize,
    pub guest: usize,
    /// The code as the guest received it (a MITM may have rewritten it).
    pub code: InvitationCode,
    /// The code as issued.
    pub issued: InvitationCode,
    pub pin: Option<Pin>,
    pub plan: Plan,
    pub typo_sent: bool,
}

/// What an invitation command was for, until its code comes back.
#[derive(Debug, Clone)]
struct Intent {
    guests: Vec<usize>,
}

#[derive(Default)]
pub struct Workload {
    /// Spaces created, with their creator.
    pub spaces: Vec<(PublicKey, usize)>,
    pub offers: Vec<Offer>,
    intents: BTreeMap<usize, VecDeque<Intent>>,
    /// The honest member who turns malicious once admitted.
    pub insider: Option<usize>,
    items: Vec<(PublicKey, ItemId)>,
    next_text: u64,
    /// Blank devices already being linked.
    linking: BTreeSet<usize>,
    /// `Act` events so far, cut or not: the index `Config::cuts` names actions by.
    pub acts: u32,
}

impl Workload {
    /// A crash loses the invitations whose creation was not yet durable, and with them
    /// their events: the codes they would have issued never come, so neither may the
    /// guests queued for them (a later code would be handed to the wrong guest).
    pub fn crashed(&mut self, node: usize) {
        for intent in self.intents.remove(&node).unwrap_or_default() {
            for guest in intent.guests {
                self.linking.remove(&guest);
            }
        }
    }

    pub fn offer_of(&self, guest: usize, id: &[u8; 16]) -> Option<(usize, &Offer)> {
        self.offers.iter().enumerate().rev().find(|(_, o)| o.guest == guest && o.code.id == *id)
    }
}

/// The first actions: someone creates a space, and the action clock starts.
pub fn start(w: &mut World) {
    if w.cfg.adversaries.insider && w.cfg.peers - w.cfg.blank_devices >= 3 {
        w.work.insider = Some(1);
    }
    w.after(100, Ev::Command { node: 0, command: Command::CreateSpace });
    let gap = next_gap(w);
    w.after(500 + gap, Ev::Act);
}

fn next_gap(w: &mut World) -> u64 {
    // Exponential gaps (a Poisson process): bursts and lulls, as users make them.
    let u = (w.rng_work.next_u32() as f64 + 1.0) / (u32::MAX as f64 + 2.0);
    (-(u.ln()) * w.cfg.action_gap_ms as f64) as u64
}

fn roll(w: &mut World, n: u64) -> u64 {
    if n == 0 { 0 } else { w.rng_work.next_u64() % n }
}

fn pick<T: Copy>(w: &mut World, v: &[T]) -> Option<T> {
    (!v.is_empty()).then(|| v[roll(w, v.len() as u64) as usize])
}

/// The role the node's user has in `space` from this device: none at all where its identity
/// removed the device (SPEC §4.4 step 7), whatever the identity's role.
fn role_of(w: &World, node: usize, space: &PublicKey) -> Option<Role> {
    let c = w.nodes[node].peer.as_ref()?.client();
    let me = c.identity_key();
    if c.standing(space) == Ok(Standing::Removed) {
        return Some(Role::Removed);
    }
    c.members(space).ok()?.into_iter().find(|m| m.identity == me).map(|m| m.role)
}

/// The spaces the node's user sees: not those it left and only hands off before it goes.
fn spaces_of(w: &World, node: usize) -> Vec<PublicKey> {
    let Some(p) = w.nodes[node].peer.as_ref() else { return Vec::new() };
    p.client().spaces().iter().map(|s| s.key).filter(|k| !p.is_leaving(k)).collect()
}

/// One user action on a random device; then the next is scheduled.
pub fn act(w: &mut World) {
    if w.phase != Phase::Safety {
        return;
    }
    let gap = next_gap(w);
    w.after(gap.max(1), Ev::Act);
    let k = w.work.acts;
    w.work.acts += 1;
    if w.cfg.cuts.actions.contains(k) {
        // Deleted by shrinking; the trace says so, so a shrunk run reads as what it is.
        return w.trace.line(w.now, usize::MAX, "cut", format!("action {k}"));
    }
    crate::adversary::persistent_insider::tick(w);
    crate::adversary::summary_flood::tick(w);
    // A blank device acts once it is a user's device with spaces (linked, and given them by
    // its siblings, SPEC §9.8).
    let acts = |i: &usize| {
        let n = &w.nodes[*i];
        let linked = n.kind == Kind::Blank && n.peer.as_ref().is_some_and(|p| p.client().space_keys().next().is_some());
        n.up && (n.kind == Kind::Honest || linked)
    };
    let candidates: Vec<usize> = w.honest().filter(acts).collect();
    let Some(i) = pick(w, &candidates) else { return };
    let command = match roll(w, 100) {
        0..=24 => invite(w, i),
        25..=29 => link_device(w, i),
        30..=64 => write(w, i),
        65..=74 => set_role(w, i),
        75..=79 => cancel(w, i),
        80..=81 => leave(w, i),
        82..=85 => create_space(w, i),
        _ => {
            if w.work.insider == Some(i) {
                crate::adversary::insider_act(w, i);
                None
            } else if w.cfg.device_removal {
                remove_device(w, i)
            } else {
                None
            }
        }
    };
    if let Some(command) = command {
        w.after(0, Ev::Command { node: i, command });
    }
}

fn create_space(w: &mut World, i: usize) -> Option<Command> {
    (spaces_of(w, i).len() < SPACES_PER_NODE_MAX).then_some(Command::CreateSpace)
}

fn invite(w: &mut World, i: usize) -> Option<Command> {
    let manageable: Vec<PublicKey> =
        spaces_of(w, i).into_iter().filter(|s| role_of(w, i, s).is_some_and(Role::can_manage_members)).collect();
    let space = pick(w, &manageable)?;
    let members: BTreeSet<PublicKey> = w.nodes[i]
        .peer
        .as_ref()?
        .client()
        .members(&space)
        .ok()?
        .into_iter()
        .filter(|m| m.role != Role::Removed)
        .map(|m| m.identity)
        .collect();
    let outsiders: Vec<usize> = w
        .honest()
        .filter(|j| *j != i && w.nodes[*j].kind == Kind::Honest)
        .filter(|j| w.nodes[*j].peer.as_ref().is_some_and(|p| !members.contains(&p.client().identity_key())))
        .collect();
    let first = pick(w, &outsiders)?;
    let multi = roll(w, 5) == 0;
    let mut guests = vec![first];
    if multi && let Some(second) = pick(w, &outsiders).filter(|s| *s != first) {
        guests.push(second);
    }
    let auth = match roll(w, 10) {
        0 => AuthMethod::None,
        1 | 2 if !multi => AuthMethod::Key,
        _ => AuthMethod::Pin,
    };
    let role = [Role::Admin, Role::Editor, Role::Editor, Role::Reader][roll(w, 4) as usize];
    let guest_key = match auth {
        AuthMethod::Key => Some(w.nodes[first].peer.as_ref()?.client().identity_key()),
        _ => None,
    };
    let lifetime_ms = if roll(w, 10) == 0 { 3_000 + roll(w, 7_000) } else { 30_000 + roll(w, 270_000) };
    let use_limit = if multi { [0, 2][roll(w, 2) as usize] } else { 1 };
    w.work.intents.entry(i).or_default().push_back(Intent { guests });
    // One in four single-guest invitations is delegated (SPEC §7.8): the space's other admin
    // devices host it too, each with its share of the budget, so a leaked code is guessed at
    // several hosts. Multi-guest ones are not: two hosts may both admit the last use, and
    // the canonical order then voids one honest guest's grant, as §7.8 allows.
    if !multi && roll(w, 4) == 0 {
        return Some(Command::DelegateInvitation { space, auth, role, guest: guest_key, lifetime_ms, use_limit });
    }
    Some(Command::CreateInvitation { space: Some(space), auth, role, guest: guest_key, lifetime_ms, use_limit })
}

fn link_device(w: &mut World, i: usize) -> Option<Command> {
    let blanks: Vec<usize> = (0..w.nodes.len())
        .filter(|j| w.nodes[*j].kind == Kind::Blank && w.nodes[*j].up && !w.work.linking.contains(j))
        .collect();
    let blank = pick(w, &blanks)?;
    w.work.linking.insert(blank);
    w.work.intents.entry(i).or_default().push_back(Intent { guests: vec![blank] });
    let lifetime_ms = 60_000 + roll(w, 240_000);
    Some(Command::CreateInvitation {
        space: None,
        auth: AuthMethod::Pin,
        role: Role::Editor,
        guest: None,
        lifetime_ms,
        use_limit: 1,
    })
}

/// One in two times, the user disowns another device of its identity, as for a lost phone:
/// one it was not linked through (that would void this device too), not removed yet.
fn remove_device(w: &mut World, i: usize) -> Option<Command> {
    if roll(w, 2) != 0 {
        return None;
    }
    let c = w.nodes[i].peer.as_ref()?.client();
    let (me, through, removed) = (c.identity_key(), c.devices_through(), c.removed_devices());
    let siblings: Vec<usize> = w
        .honest()
        .filter(|j| *j != i && w.trusted(*j))
        .filter(|j| {
            w.nodes[*j].peer.as_ref().is_some_and(|p| {
                let d = p.client().identity().device_key();
                p.client().identity_key() == me && !through.contains(&d) && !removed.contains(&d)
            })
        })
        .collect();
    let j = pick(w, &siblings)?;
    let device = w.nodes[j].peer.as_ref()?.client().identity().device_key();
    w.stats.devices_removed += 1;
    Some(Command::RemoveDevice { device })
}

fn write(w: &mut World, i: usize) -> Option<Command> {
    let writable: Vec<PublicKey> =
        spaces_of(w, i).into_iter().filter(|s| role_of(w, i, s).is_some_and(Role::can_write)).collect();
    let space = pick(w, &writable)?;
    let ops = ops_for(w, i, space);
    Some(Command::Write { space, ops })
}

/// A new item, or a field of an existing one overwritten (concurrent writers conflict).
pub fn ops_for(w: &mut World, i: usize, space: PublicKey) -> Vec<Op> {
    w.work.next_text += 1;
    let mut text = PLAINTEXT_MARK.to_vec();
    text.extend_from_slice(format!("{i}-{}", w.work.next_text).as_bytes());
    let value = Value::Text(String::from_utf8(text).expect("ascii"));
    let existing: Vec<ItemId> = w.work.items.iter().filter(|(s, _)| *s == space).map(|(_, id)| *id).collect();
    w.stats.items_written += 1;
    if let Some(item) = pick(w, &existing).filter(|_| roll(w, 2) == 0) {
        return vec![Op::Set { item, field: "title".into(), value }];
    }
    let mut id = [0u8; 16];
    w.rng_work.fill_bytes(&mut id);
    let item = ItemId(id);
    w.work.items.push((space, item));
    vec![Op::Create { item, type_name: "note".into() }, Op::Set { item, field: "title".into(), value }]
}

fn set_role(w: &mut World, i: usize) -> Option<Command> {
    let manageable: Vec<PublicKey> =
        spaces_of(w, i).into_iter().filter(|s| role_of(w, i, s).is_some_and(Role::can_manage_members)).collect();
    let space = pick(w, &manageable)?;
    let c = w.nodes[i].peer.as_ref()?.client();
    let me = c.identity_key();
    let others: Vec<PublicKey> = c
        .members(&space)
        .ok()?
        .into_iter()
        .filter(|m| m.identity != me && m.role != Role::Owner && m.role != Role::Removed)
        .map(|m| m.identity)
        .collect();
    let member = pick(w, &others)?;
    let role = [Role::Admin, Role::Editor, Role::Reader, Role::Removed][roll(w, 4) as usize];
    Some(Command::SetRole { space, member, role })
}

fn cancel(w: &mut World, i: usize) -> Option<Command> {
    let live: Vec<[u8; 16]> =
        w.nodes[i].peer.as_ref()?.hosting().filter(|h| !h.state().is_terminal()).map(|h| h.code().id).collect();
    let id = pick(w, &live)?;
    Some(Command::CancelInvitation { id })
}

fn leave(w: &mut World, i: usize) -> Option<Command> {
    let leavable: Vec<PublicKey> =
        spaces_of(w, i).into_iter().filter(|s| role_of(w, i, s).is_some_and(|r| r != Role::Owner)).collect();
    let space = pick(w, &leavable)?;
    Some(Command::Leave { space })
}

/// How a user reacts to what their device shows.
pub fn event(w: &mut World, i: usize, e: &Event) {
    match w.nodes[i].kind {
        Kind::Adversary => return crate::adversary::event(w, i, e),
        Kind::Flooder => return,
        Kind::Honest | Kind::Blank => {}
    }
    match e {
        Event::SpaceCreated { space } => w.work.spaces.push((*space, i)),
        Event::InvitationCreated { code, pin, .. } => issued(w, i, *code, pin.clone()),
        Event::Joining { id, event } => joining(w, i, *id, event),
        _ => {}
    }
}

/// A code came back from the host: hand it (and the PIN, separately) to its guests.
fn issued(w: &mut World, host: usize, code: InvitationCode, pin: Option<Pin>) {
    let Some(intent) = w.work.intents.get_mut(&host).and_then(VecDeque::pop_front) else { return };
    for guest in intent.guests {
        let plan = match roll(w, 20) {
            0..=11 => Plan::Prompt,
            12..=14 => Plan::Typo,
            15..=16 => Plan::Slow,
            17..=18 => Plan::Never,
            _ => Plan::Cancel,
        };
        let received = crate::adversary::side_channel(w, code);
        w.work.offers.push(Offer {
            host,
            guest,
            code: received,
            issued: code,
            pin: pin.clone(),
            plan,
            typo_sent: false,
        });
        let offer = w.work.offers.len() - 1;
        crate::oracle::offered(w, offer);
        let delay = 200 + roll(w, 5_000);
        w.after(delay, Ev::Offer { node: guest, offer });
    }
    crate::adversary::leak(w, code);
}

/// The guest opens the code.
pub fn offer(w: &mut World, node: usize, offer: usize) {
    if !w.nodes[node].up {
        // The user tries again once the device is back (while the code is fresh).
        if w.now < w.heal_at + w.cfg.liveness_ms / 2 {
            w.after(2_000, Ev::Offer { node, offer });
        }
        return;
    }
    // A guest down when the code was issued is registered now, as it receives it.
    crate::oracle::offered(w, offer);
    let code = w.work.offers[offer].code;
    w.after(0, Ev::Command { node, command: Command::AcceptInvitation { code } });
}

fn joining(w: &mut World, i: usize, id: [u8; 16], e: &GuestEvent) {
    let Some((k, o)) = w.work.offer_of(i, &id).map(|(k, o)| (k, o.clone())) else { return };
    match e {
        GuestEvent::State(State::ReadyForAuthentication) => {
            let (pin, delay) = match o.plan {
                Plan::Prompt => (o.pin.clone(), 300 + roll(w, 5_000)),
                Plan::Typo if !o.typo_sent => {
                    w.work.offers[k].typo_sent = true;
                    (o.pin.as_ref().map(wrong_pin), 300 + roll(w, 3_000))
                }
                Plan::Typo => (o.pin.clone(), 300 + roll(w, 3_000)),
                Plan::Slow => (o.pin.clone(), 20_000 + roll(w, 200_000)),
                Plan::Never => return,
                Plan::Cancel => {
                    let delay = roll(w, 10_000);
                    return w.after(delay, Ev::Command { node: i, command: Command::CancelAccept { id } });
                }
            };
            if let Some(pin) = pin {
                w.after(delay, Ev::Command { node: i, command: Command::Authenticate { id, pin } });
            }
        }
        GuestEvent::WrongPin { .. } if o.plan == Plan::Typo => {
            if let Some(pin) = o.pin {
                let delay = 500 + roll(w, 3_000);
                w.after(delay, Ev::Command { node: i, command: Command::Authenticate { id, pin } });
            }
        }
        GuestEvent::Admitted(_) => w.stats.outcome("SUCCESS"),
        GuestEvent::Failed(r) => w.stats.outcome(&format!("{:?}", r.terminal_state()).to_uppercase()),
        _ => {}
    }
}

/// A PIN that is certainly not `pin`.
pub fn wrong_pin(pin: &Pin) -> Pin {
    let n: u32 = pin.reveal().parse().unwrap_or(0);
    Pin::parse(&format!("{:06}", (n + 1) % 1_000_000)).expect("six digits")
}

/// Whether an offer's code grants space membership (not a device link).
pub fn is_space(o: &Offer) -> bool {
    o.issued.kind == InvitationKind::Space
}
