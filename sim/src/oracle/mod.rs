//! The oracle: what must hold, checked as the world runs (safety) and after it heals
//! (liveness). It trusts only what the simulator itself knows (who was given which code and
//! PIN, who is honest) and what honest devices report; never what the adversary says.
//!
//! - S1 no admission without the secret or the authority: every member of a space an honest
//!   replica lists was its creator or was handed a code for it; no host admits after its
//!   invitation was cancelled or expired (by its own clock), nor a guest never offered it.
//! - S2 secrecy: no PIN and no item plaintext appears in any byte on the wire.
//! - S3 agreement: a guest that succeeds was admitted by the host, to the space and role its
//!   code names; a host never admits a guest whose flow ended in a definite refusal.
//! - S4 access control and strictness: a replica rebuilt from its own state by the
//!   unmodified rules holds exactly the same members and items (so nothing the rules reject
//!   was accepted), and a malformed or non-canonical frame closes its connection.
//! - S5 durability: a restarted device holds everything it had acknowledged.
//! - S1 also: no invitation re-admits an identity removed after the invitation was created
//!   (`readmission`).
//! - S6 the attempt budget: no invitation sees more wrong PINs than `attempts_max`, counted
//!   as the host charges them *and* as guests (the guesser included) hear `WrongPin`, over all
//!   its hosts and all its states: a PIN-dependent answer is a guess, charged or not.
//! - S7 fair share: the signaling server refuses an honest device room only when its source
//!   holds its share of the table (`fair_share`, SPEC §8.3.8).
//! - R1 resources: of what a removed insider appended after every member knew of its removal,
//!   no honest replica holds more than `HEARD_ENTRIES_MAX` entries per control feed, nor any
//!   of its data feeds (`adversary::persistent_insider::check`, SPEC §9.2.2 rule 6).
//! - R3 traffic: no trusted device sends another more than a bound of bytes per minute
//!   (`traffic`): replicas that keep pulling each other without settling are a storm.
//! - R4 removed devices stop: a device that knows it was removed from every space it holds
//!   dials no one for a swarm (`removal::dialled`, SPEC §9.1.1, removed devices).
//! - L1 after healing: every invitation is terminal on both sides, and the honest replicas
//!   of each space that are still members agree on members and items; H1, the devices of one
//!   identity agree on their HALO: spaces, devices, contacts (`halo`, SPEC §9.8).
//! - L2 after healing: honest guests who proved the secret in time succeed (`honest_success`).
//! - L3 after converging: a write reaches every member in sync with its writer in the write's
//!   own frames (`delivery`), whose latency the report shows.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use spaces_protocol::client::ClientSnapshot;
use spaces_protocol::invitation::guest::GuestEvent;
use spaces_protocol::invitation::host::HostEvent;
use spaces_protocol::invitation::{Limits, Refusal};
use spaces_protocol::item::Item;
use spaces_protocol::membership::Member;
use spaces_protocol::peer::redial::DialState;

pub use describe::role_or_none;
use describe::{links, roster, short};
pub use durability::{owed, restored};
use spaces_protocol::peer::{ConnId, Event, Output};
use spaces_protocol::{Canonical, Client, PublicKey, Role};

use crate::world::{Ev, Mark, Phase, World};

pub mod delivery;
mod describe;
mod durability;
pub mod fair_share;
mod halo;
pub mod honest_success;
pub mod readmission;
pub mod removal;
pub mod resources;
pub mod traffic;

/// How often, in virtual time, the liveness phase looks for convergence.
pub const CHECK_INTERVAL_MS: u64 = 5_000;

#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
    /// Virtual time since the world's epoch.
    pub at_ms: u64,
    pub last_events: Vec<String>,
}

/// What the oracle knows of one invitation.
#[derive(Debug, Default)]
struct Invitation {
    /// Keys the simulator handed the code to: identities (SPACE) or device keys (DEVICE).
    offered: BTreeSet<PublicKey>,
    admitted: BTreeSet<PublicKey>,
    /// An honest host's user asked to cancel it.
    cancel_asked: bool,
    /// Hosts that reported it cancelled: released with the record that makes it durable, so
    /// every admission that host reports after it came after the cancel (outputs keep their
    /// order). Per host: another host of a delegated invitation may still admit until the
    /// cancel credential reaches it (SPEC §7.8).
    cancelled: BTreeSet<usize>,
    wrong_pins: u32,
    /// Guests whose flow ended in a definite refusal (not a timeout, which may be in doubt).
    refused: BTreeSet<PublicKey>,
    /// `WrongPin` answers any guest device heard: each is a PIN tested.
    wrong_answers: u32,
    /// Global time the invitation was created.
    created_at: Option<u64>,
}

#[derive(Default)]
pub struct Oracle {
    pub violation: Option<Violation>,
    /// Identities that may legitimately be members, per space.
    allowed: BTreeMap<PublicKey, BTreeSet<PublicKey>>,
    invitations: BTreeMap<[u8; 16], Invitation>,
    /// Every PIN issued so far, as the digits a user types.
    pins: Vec<Vec<u8>>,
    pub deep_checks: u64,
    /// The space each offer's code is for (SPACE invitations), as its host recorded it.
    offer_space: BTreeMap<usize, PublicKey>,
    /// When an honest device first commanded each (space, identity)'s removal.
    removed_at: BTreeMap<(PublicKey, PublicKey), u64>,
    pub success: honest_success::Ledger,
    pub readmission: readmission::Judged,
    pub delivery: delivery::Delivery,
    pub traffic: traffic::Traffic,
}

impl Oracle {
    pub fn cancelled(&self, id: &[u8; 16]) -> bool {
        self.invitations.get(id).is_some_and(|i| i.cancel_asked)
    }
}

/// The space offer `k`'s code admits to, if it is a SPACE invitation.
pub fn space_of_offer(w: &World, k: usize) -> Option<PublicKey> {
    w.oracle.offer_space.get(&k).copied()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.len() >= needle.len() && hay.windows(needle.len()).any(|w| w == needle)
}

/// S2: bytes the adversary could see.
pub fn observed(w: &mut World, bytes: &[u8]) {
    if contains(bytes, crate::workload::PLAINTEXT_MARK) {
        return w.fail("S2", "item plaintext on the wire".into());
    }
    if let Some(pin) = w.oracle.pins.iter().find(|p| contains(bytes, p)) {
        let pin = String::from_utf8_lossy(pin).into_owned();
        w.fail("S2", format!("PIN {pin} on the wire"));
    }
}

/// A code was handed to a guest: its identity (or device) may now be admitted.
pub fn offered(w: &mut World, offer: usize) {
    let o = w.work.offers[offer].clone();
    let Some(peer) = w.nodes[o.guest].peer.as_ref() else { return };
    let (identity, device) = (peer.client().identity_key(), peer.client().identity().device_key());
    let inv = w.oracle.invitations.entry(o.issued.id).or_default();
    if crate::workload::is_space(&o) {
        inv.offered.insert(identity);
        if let Some(space) = space_of(w, o.host, &o.issued) {
            w.oracle.allowed.entry(space).or_default().insert(identity);
            w.oracle.offer_space.insert(offer, space);
        }
    } else {
        inv.offered.insert(device);
    }
}

fn space_of(w: &World, host: usize, code: &spaces_protocol::invitation::InvitationCode) -> Option<PublicKey> {
    let peer = w.nodes[host].peer.as_ref()?;
    peer.hosting().find(|h| h.code().id == code.id)?.record().space
}

/// A user command, before the device sees it. A cancel binds the host once the host reports
/// it (the report leaves with the record that makes it durable).
pub fn command(w: &mut World, i: usize, c: &spaces_protocol::peer::Command) {
    if w.nodes[i].is_honest() {
        honest_success::command(w, i, c);
    }
    if let spaces_protocol::peer::Command::SetRole { space, member, role: Role::Removed } = c
        && w.nodes[i].is_honest()
    {
        let now = w.now;
        w.oracle.removed_at.entry((*space, *member)).or_insert(now);
    }
    if let spaces_protocol::peer::Command::CancelInvitation { id } = c {
        let live = w.nodes[i]
            .peer
            .as_ref()
            .is_some_and(|p| p.hosting().any(|h| h.code().id == *id && !h.state().is_terminal()));
        if live && w.nodes[i].is_honest() {
            w.oracle.invitations.entry(*id).or_default().cancel_asked = true;
        }
    }
}

/// Every event an honest (or adversarial) device reports, as it happens.
pub fn event(w: &mut World, i: usize, e: &Event) {
    match e {
        Event::SpaceCreated { space } => {
            if let Some(me) = w.nodes[i].peer.as_ref().map(|p| p.client().identity_key()) {
                w.oracle.allowed.entry(*space).or_default().insert(me);
            }
        }
        Event::InvitationCreated { id, pin, .. } => {
            let now = w.now;
            w.oracle.invitations.entry(*id).or_default().created_at.get_or_insert(now);
            if let Some(pin) = pin {
                w.oracle.pins.push(pin.reveal().as_bytes().to_vec());
            }
        }
        Event::Hosting { id, event } if w.nodes[i].is_honest() => hosting(w, i, *id, event),
        Event::Joining { id, event: GuestEvent::WrongPin { .. } } => wrong_answer(w, *id),
        Event::Joining { id, event } if w.nodes[i].is_honest() => joining(w, i, *id, event),
        Event::Changed { space } | Event::Joined { space } if w.trusted(i) => {
            members_allowed(w, i, *space);
            crate::adversary::persistent_insider::check(w, i, *space);
        }
        _ => {}
    }
}

/// S6, as guests hear it: every `WrongPin` answer tells its guest a PIN was wrong.
fn wrong_answer(w: &mut World, id: [u8; 16]) {
    let attempts_max = u32::from(Limits::default().attempts_max);
    if w.adversary.forker.forgot(&id) {
        return;
    }
    let inv = w.oracle.invitations.entry(id).or_default();
    inv.wrong_answers += 1;
    if inv.wrong_answers > attempts_max {
        let n = inv.wrong_answers;
        let detail = format!("invitation {} answered {n} PINs wrong (budget {attempts_max})", hex::encode(id));
        w.fail("S6", detail);
    }
}

/// When invitation `id` was created, in global time.
pub fn created_at(w: &World, id: &[u8; 16]) -> Option<u64> {
    w.oracle.invitations.get(id).and_then(|i| i.created_at)
}

/// When an honest device first asked for `member`'s removal from `space`.
pub fn removed_at(w: &World, space: &PublicKey, member: &PublicKey) -> Option<u64> {
    w.oracle.removed_at.get(&(*space, *member)).copied()
}

fn hosting(w: &mut World, i: usize, id: [u8; 16], e: &HostEvent) {
    if *e == HostEvent::State(spaces_protocol::invitation::State::Cancelled) {
        w.oracle.invitations.entry(id).or_default().cancelled.insert(i);
        return;
    }
    let HostEvent::Admitted { guest, .. } = e else { return };
    crate::adversary::fork::admission(w, i);
    // The host's clock when it decided: a flush releases the admission later, and a clock
    // jump meanwhile may have moved past the expiry.
    let decided = w.nodes[i].deciding.unwrap_or_else(|| w.local(i, w.now));
    let expires =
        w.nodes[i].peer.as_ref().and_then(|p| p.hosting().find(|h| h.code().id == id).map(|h| h.code().expires_at()));
    let inv = w.oracle.invitations.entry(id).or_default();
    let again = inv.admitted.contains(guest);
    let problem = if !inv.offered.contains(guest) {
        Some(("S1", "admitted a guest who was never given the code"))
    } else if inv.cancelled.contains(&i) && !again && !w.adversary.forker.forgot(&id) {
        // (A roll-back to a copy of the disk taken before the cancel forgets the cancel:
        // the insider's own promise, like its attempt budgets, not one S1 holds it to.)
        Some(("S1", "admitted after the invitation was cancelled"))
    } else if expires.is_some_and(|x| decided > x) && !again {
        Some(("S1", "admitted after the invitation expired (host clock)"))
    } else if inv.refused.contains(guest) {
        Some(("S3", "admitted a guest whose flow had ended in a refusal"))
    } else {
        None
    };
    inv.admitted.insert(*guest);
    if let Some((s, what)) = problem {
        return w.fail(s, format!("node {i}, invitation {}: {what}", hex::encode(id)));
    }
    readmission::check(w, i, id, *guest);
}

/// An event leaves a device with the group commit that made it durable: a charge counts once
/// it is on disk, since a crash before then also lost the answer that would have told the guest.
pub fn released(w: &mut World, i: usize, e: &Event) {
    let Event::Hosting { id, event: HostEvent::AttemptFailed { .. } } = e else { return };
    if !w.nodes[i].is_honest() || w.adversary.forker.forgot(id) {
        return;
    }
    let delegated = w.nodes[i]
        .peer
        .as_ref()
        .and_then(|p| p.hosting().find(|h| h.code().id == *id))
        .is_some_and(|h| h.record().delegation.is_some());
    if delegated {
        w.stats.attack("delegated-wrong-pin");
    }
    let attempts_max = u32::from(Limits::default().attempts_max);
    let inv = w.oracle.invitations.entry(*id).or_default();
    inv.wrong_pins += 1;
    if inv.wrong_pins > attempts_max {
        let n = inv.wrong_pins;
        w.fail("S6", format!("invitation {} took {n} wrong PINs (budget {attempts_max})", hex::encode(id)));
    }
}

fn joining(w: &mut World, i: usize, id: [u8; 16], e: &GuestEvent) {
    let Some(peer) = w.nodes[i].peer.as_ref() else { return };
    let key = match w.work.offer_of(i, &id) {
        Some((_, o)) if crate::workload::is_space(o) => peer.client().identity_key(),
        Some(_) => peer.client().identity().device_key(),
        None => return,
    };
    let (code, issued) = w.work.offer_of(i, &id).map(|(_, o)| (o.code, o.issued)).expect("checked above");
    honest_success::outcome(w, i, &id, e);
    let role_touched = w.work.offer_of(i, &id).and_then(|(k, _)| space_of_offer(w, k)).is_some_and(|s| {
        let identity = w.nodes[i].peer.as_ref().map(|p| p.client().identity_key());
        identity.is_some_and(|me| w.oracle.success.touched.contains(&(s, me)))
    });
    if w.work.offer_of(i, &id).is_some_and(|(k, _)| w.oracle.success.adversarial.contains(&k)) {
        // A removed member retrying its old code: `readmission` judges the host instead.
        return;
    }
    let inv = w.oracle.invitations.entry(id).or_default();
    match e {
        GuestEvent::Admitted(_) => {
            // A guest already a member keeps its role (admission is idempotent), so the
            // grant's role may differ from the code's; a code that was tampered with on its
            // way must never complete, since its parameters are bound into the handshake.
            let detail = if !inv.admitted.contains(&key) {
                Some("the guest succeeded but the host never admitted it".to_string())
            } else if code != issued {
                Some(format!(
                    "the guest succeeded with a rewritten code (role {}, issued {})",
                    role_or_none(code.role),
                    role_or_none(issued.role)
                ))
            } else {
                None
            };
            if let Some(d) = detail {
                w.fail("S3", format!("node {i}, invitation {}: {d}", hex::encode(id)));
            }
        }
        GuestEvent::Failed(r) if *r != Refusal::Timeout => {
            inv.refused.insert(key);
            // A guest removed or demoted after its admission, whose grant was lost, is rightly
            // refused its retry: the retry returns only what still holds (SPEC §7.7.2).
            if inv.admitted.contains(&key) && !role_touched {
                w.fail("S3", format!("node {i}, invitation {}: refused ({r:?}) yet admitted", hex::encode(id)));
            }
        }
        _ => {}
    }
}

/// S1 on a replica that just changed.
fn members_allowed(w: &mut World, i: usize, space: PublicKey) {
    let Some(peer) = w.nodes[i].peer.as_ref() else { return };
    let Ok(members) = peer.client().members(&space) else { return };
    w.stats.members_max = w.stats.members_max.max(members.len() as u64);
    let allowed = w.oracle.allowed.get(&space);
    let intruder =
        members.iter().find(|m| m.role != Role::Removed && !allowed.is_some_and(|a| a.contains(&m.identity)));
    if let Some(m) = intruder {
        let detail =
            format!("node {i} lists {} as {} of a space it was never invited to", short(&m.identity), m.role.name());
        w.fail("S1", detail);
    }
}

/// S4 (strictness) and the refused-attack count, right after a frame was handled.
pub fn frame_handled(w: &mut World, i: usize, conn: ConnId, mark: Mark, outs: &[Output]) {
    let closed = outs.iter().any(|o| matches!(o, Output::Close { conn: c } if *c == conn));
    match mark {
        Mark::Clean => {}
        Mark::Attacked => w.stats.refused += u64::from(closed),
        Mark::Malformed if closed => w.stats.refused += 1,
        Mark::Malformed => w.fail("S4", format!("node {i} accepted a malformed or non-canonical frame on conn {conn}")),
    }
}

/// The periodic check: during liveness, done once everything converged.
pub fn check(w: &mut World) {
    resources::check(w);
    if w.oracle.delivery.active() {
        return;
    }
    if w.phase == Phase::Liveness && converged(w).is_ok() {
        deep(w);
        honest_success::check(w);
        delivery::next(w);
        return;
    }
    w.after(CHECK_INTERVAL_MS, Ev::Check);
}

/// L1: the deadline passed.
pub fn liveness_deadline(w: &mut World) {
    resources::check(w);
    if w.oracle.delivery.active() {
        return;
    }
    match converged(w) {
        Ok(()) => {
            deep(w);
            honest_success::check(w);
            delivery::next(w);
        }
        Err(why) => w.fail("L1", why),
    }
}

type View = (Vec<Member>, Vec<Item>);

fn view(w: &World, i: usize, space: &PublicKey) -> Option<View> {
    let c = w.nodes[i].peer.as_ref()?.client();
    Some((c.members(space).ok()?, c.items(space).ok()?))
}

/// Whether every invitation ended and every space's honest member replicas agree.
fn converged(w: &World) -> Result<(), String> {
    for i in w.honest().filter(|i| w.trusted(*i)) {
        let Some(peer) = w.nodes[i].peer.as_ref() else { return Err(format!("node {i} is down")) };
        if let Some(h) = peer.hosting().find(|h| !h.state().is_terminal()) {
            return Err(format!(
                "node {i} still hosts invitation {} in {}",
                crate::trace::short(&h.code().id),
                h.state().name()
            ));
        }
        if let Some(g) = peer.joining().find(|g| !g.state().is_terminal()) {
            return Err(format!("node {i} still joins {} in {}", crate::trace::short(&g.code().id), g.state().name()));
        }
    }
    let spaces: BTreeSet<PublicKey> = w.work.spaces.iter().map(|(s, _)| *s).collect();
    for space in spaces {
        let views: Vec<(usize, View)> =
            w.honest().filter(|i| w.trusted(*i)).filter_map(|i| view(w, i, &space).map(|v| (i, v))).collect();
        if views.windows(2).all(|p| p[0].1 == p[1].1) {
            continue;
        }
        // Replicas differ. Some may be stale by design: a removed member, or one admitted by
        // a grant the rules voided (its host was demoted concurrently), is refused
        // everywhere and never learns why. The truth is what the unmodified rules make of
        // everything the honest replicas hold together; its current members must hold it.
        let Some(whole) = crate::mutant::suspended(|| union_space(w, &space)) else { continue };
        let truth = (whole.members(), whole.items());
        let members: BTreeSet<PublicKey> =
            truth.0.iter().filter(|m| m.role != Role::Removed).map(|m| m.identity).collect();
        let key = |i: usize| w.nodes[i].peer.as_ref().map(|p| p.client().identity_key());
        removal::check(w, &space, &whole, &views)?;
        // A device its identity removed is no member's device: it hears of its removal, not
        // of the space's later writes (SPEC §9.2.2).
        let current_member =
            |i: usize| key(i).is_some_and(|k| members.contains(&k)) && !removal::device_removed(w, i, &whole);
        let mut current: Vec<(usize, View)> = vec![(usize::MAX, truth)];
        current.extend(views.iter().filter(|(i, _)| current_member(*i)).cloned());
        let current: Vec<&(usize, View)> = current.iter().collect();
        let Some((_, reference)) = current.first().map(|(i, v)| (*i, v)) else { continue };
        if let Some((i, v)) = current.iter().find(|(_, v)| v != reference) {
            let detail = if v.0 != reference.0 {
                format!(
                    "members: all replicas together give {}, node {i} has {}",
                    roster(w, &reference.0),
                    roster(w, &v.0)
                )
            } else {
                format!("items: all replicas together give {}, node {i} has {}", reference.1.len(), v.1.len())
            };
            let dial = |a: usize, b: usize| {
                let pb = w.nodes[b].peer.as_ref().map(|p| p.client().identity().device_key());
                let pa = w.nodes[a].peer.as_ref();
                match pa.zip(pb).map(|(pa, k)| pa.dial_state(&k)) {
                    None => "down".to_string(),
                    Some(None) => "not wanted".to_string(),
                    Some(Some(DialState::Due(t))) => format!("due at {} ms", t.as_millis()),
                    Some(Some(DialState::Dialling(_))) => "dialling".to_string(),
                    Some(Some(DialState::Linked)) => "linked".to_string(),
                    Some(Some(DialState::Parked)) => "parked".to_string(),
                }
            };
            let mut links = format!("; links of node {i}: {}", links(w, *i));
            if let Some(p) = w.nodes[*i].peer.as_ref() {
                let bytes = p.client().snapshot().to_bytes();
                let rebuilt = crate::mutant::suspended(|| {
                    let c = Client::restore(ClientSnapshot::from_bytes(&bytes).ok()?).ok()?;
                    Some(c.members(&space).ok()? == v.0)
                });
                let rebuilt = match rebuilt {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "cannot rebuild",
                };
                links.push_str(&format!("; its own state rebuilt gives the same members: {rebuilt}"));
            }
            for (j, _) in views.iter().filter(|(j, _)| j != i) {
                links.push_str(&format!("; dial {i}->{j} {}, {j}->{i} {}", dial(*i, *j), dial(*j, *i)));
            }
            for (j, _) in &views {
                let sum = w.nodes[*j].peer.as_ref().and_then(|p| p.client().summary(&space).ok());
                if let Some(sum) = sum {
                    links.push_str(&format!(
                        "; n{j}: {} credentials {} entries {} feeds {} forks",
                        sum.credentials,
                        sum.entries,
                        sum.feeds,
                        w.nodes[*j]
                            .peer
                            .as_ref()
                            .and_then(|p| p.client().space(&space))
                            .map_or(0, |s| s.forks().count())
                    ));
                }
            }
            return Err(format!("node {i} disagrees on space {}: {detail}{links}", short(&space)));
        }
    }
    halo::check(w)
}

/// The members and items of `space` as the rules resolve the union of every credential and
/// entry the honest replicas hold.
pub(crate) fn union_view(w: &World, space: &PublicKey) -> Option<View> {
    union_space(w, space).map(|truth| (truth.members(), truth.items()))
}

/// The replica the rules make of the union of every credential and entry the honest replicas
/// of `space` hold.
pub(crate) fn union_space(w: &World, space: &PublicKey) -> Option<spaces_protocol::Space> {
    let mut credentials = BTreeMap::new();
    let mut entries = BTreeMap::new();
    let mut forks = Vec::new();
    for i in w.honest().filter(|i| w.trusted(*i)) {
        let Some(p) = w.nodes[i].peer.as_ref() else { continue };
        let snapshot = p.client().snapshot();
        for s in snapshot.spaces.into_iter().filter(|s| s.key == *space) {
            credentials.extend(s.credentials.into_iter().map(|c| (c.id(), c)));
            entries.extend(s.entries.into_iter().map(|e| ((e.body.feed, e.body.seq), e)));
            forks.extend(s.forks);
        }
    }
    if credentials.is_empty() {
        return None;
    }
    let mut truth = spaces_protocol::Space::new(*space);
    truth.insert_credentials(credentials.into_values().collect());
    // Every feed cut at the lowest fork any honest replica proved (SPEC §5.6).
    for evidence in forks {
        let _ = truth.learn_fork(evidence);
    }
    // Feeds admit their own entries only once admitted, and data waits for control: a few
    // passes in (feed, seq) order settle everything that can settle.
    let mut pending: Vec<_> = entries.into_values().collect();
    for _ in 0..8 {
        let before = pending.len();
        pending.retain(|e| truth.ingest(e.clone()).is_err());
        if pending.len() == before {
            break;
        }
    }
    Some(truth)
}

/// S4: each honest replica, rebuilt by the unmodified rules from its own durable form,
/// must equal the live one.
fn deep(w: &mut World) {
    w.oracle.deep_checks += 1;
    let nodes: Vec<usize> = w.honest().filter(|i| w.trusted(*i)).collect();
    for i in nodes {
        let Some(peer) = w.nodes[i].peer.as_ref() else { continue };
        let live = peer.client();
        let bytes = live.snapshot().to_bytes();
        let rebuilt = crate::mutant::suspended(|| {
            ClientSnapshot::from_bytes(&bytes)
                .map_err(|e| format!("{e:?}"))
                .and_then(|s| Client::restore(s).map_err(|e| format!("{e:?}")))
        });
        let rebuilt = match rebuilt {
            Ok(c) => c,
            Err(e) => return w.fail("S4", format!("node {i}'s state is rejected by the rules: {e}")),
        };
        for s in live.spaces() {
            let a = (live.members(&s.key).ok(), live.items(&s.key).ok());
            let b = crate::mutant::suspended(|| (rebuilt.members(&s.key).ok(), rebuilt.items(&s.key).ok()));
            if a != b {
                let what = if a.0 != b.0 { "members" } else { "items" };
                return w.fail("S4", format!("node {i} holds {what} of space {} that the rules reject", short(&s.key)));
            }
        }
    }
}
