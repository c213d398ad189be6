//! L2, honest users succeed: after healing, every honest guest that typed the right PIN
//! (first try, or after its own typos within the budget) before the code expired, whose host is
//! up, still an admin and did not cancel, and whose use limit other honest guests did not take,
//! ends SUCCESS and is a member on every honest replica.
//!
//! Safety oracles cannot see a protocol that refuses everyone: an invitation that burns its
//! budget on a dropped confirmation, or answers an honest guest `AttemptsExhausted` after no
//! wrong PIN, breaks no S-rule. This one is judged only on offers where success is owed, so
//! each exclusion below names a cause that really does excuse a failure:
//! - the user did not try (never typed, typed too late, cancelled, a wrong PIN only);
//! - the code it used is not the one issued (a relay rewrote it: S3 wants that to fail);
//! - the code leaked to the PIN guesser (its wrong guesses may rightly spend the budget);
//! - the host cancelled, lost the right to admit, or left; the guest's own role was changed;
//! - the guest's device crashed mid-flow (a flow does not survive a restart of its guest);
//! - with faults, the flow could not outlive them: its code expires, or the guest gives up,
//!   less than `AFTER_HEAL_MS` after healing.

use std::collections::{BTreeMap, BTreeSet};

use spaces_protocol::invitation::guest::GuestEvent;
use spaces_protocol::invitation::{AuthMethod, Limits, Refusal};
use spaces_protocol::peer::Command;
use spaces_protocol::{PublicKey, Role};

use crate::world::World;

/// Virtual time a flow must have left after healing for its success to be owed: enough for
/// the guest's backoff (at most 5 s), signaling re-joins and a full handshake with margin.
const AFTER_HEAL_MS: u64 = 60_000;
/// Time a right PIN needs to reach the host before the code expires, on top of twice the
/// clock skew: a few round trips at the worst drawn latency.
const BEFORE_EXPIRY_MS: u64 = 10_000;

/// What the oracle saw of one offer's guest.
#[derive(Debug, Default, Clone)]
pub struct Track {
    /// Global time of the guest's first proof of the secret: the right PIN typed, or the code
    /// opened for methods without a PIN.
    pub proved_at: Option<u64>,
    pub accepted_at: Option<u64>,
    pub cancelled: bool,
    /// The guest device crashed while this flow was live.
    pub lost: bool,
    /// The on-path attacker altered a frame the guest device received while this flow was
    /// live: before the guest is in doubt, an unauthentic frame rightly ends it in ERROR.
    pub attacked: bool,
    pub outcome: Option<Result<(), Refusal>>,
}

#[derive(Default)]
pub struct Ledger {
    pub tracks: BTreeMap<usize, Track>,
    /// (space, identity) pairs whose role a command changed, or who left.
    pub touched: BTreeSet<(PublicKey, PublicKey)>,
    /// Invitation ids whose code reached the PIN guesser.
    pub leaked: BTreeSet<[u8; 16]>,
    /// Offers made by adversaries in the story (a removed member's rejoin): owed nothing.
    pub adversarial: BTreeSet<usize>,
}

fn identity(w: &World, node: usize) -> Option<PublicKey> {
    Some(w.nodes[node].peer.as_ref()?.client().identity_key())
}

/// A user command, before the device sees it.
pub fn command(w: &mut World, i: usize, c: &Command) {
    match c {
        Command::AcceptInvitation { code } => {
            let Some((k, o)) = w.work.offers.iter().enumerate().rev().find(|(_, o)| o.guest == i && o.code == *code)
            else {
                return;
            };
            let no_pin = o.code.auth != AuthMethod::Pin;
            let t = w.now;
            let track = w.oracle.success.tracks.entry(k).or_default();
            track.accepted_at.get_or_insert(t);
            if no_pin {
                track.proved_at.get_or_insert(t);
            }
        }
        Command::Authenticate { id, pin } => {
            let Some((k, o)) = w.work.offer_of(i, id) else { return };
            let right = o.pin.as_ref().is_some_and(|p| p.reveal() == pin.reveal());
            let t = w.now;
            let track = w.oracle.success.tracks.entry(k).or_default();
            // A PIN typed after the flow ended proves nothing to anyone.
            if right && track.outcome.is_none() {
                track.proved_at.get_or_insert(t);
            }
        }
        Command::CancelAccept { id } => {
            if let Some((k, _)) = w.work.offer_of(i, id) {
                w.oracle.success.tracks.entry(k).or_default().cancelled = true;
            }
        }
        Command::SetRole { space, member, .. } => {
            w.oracle.success.touched.insert((*space, *member));
        }
        Command::Leave { space } => {
            if let Some(me) = identity(w, i) {
                w.oracle.success.touched.insert((*space, me));
            }
        }
        _ => {}
    }
}

/// A guest's flow reported an outcome.
pub fn outcome(w: &mut World, i: usize, id: &[u8; 16], e: &GuestEvent) {
    let Some((k, _)) = w.work.offer_of(i, id) else { return };
    let result = match e {
        GuestEvent::Admitted(_) => Ok(()),
        GuestEvent::Failed(r) => Err(*r),
        _ => return,
    };
    w.oracle.success.tracks.entry(k).or_default().outcome.get_or_insert(result);
}

/// The on-path attacker altered a frame that reached node `i`.
pub fn attacked(w: &mut World, i: usize) {
    for (k, o) in w.work.offers.iter().enumerate() {
        if o.guest != i {
            continue;
        }
        let track = w.oracle.success.tracks.entry(k).or_default();
        if track.accepted_at.is_some() && track.outcome.is_none() {
            track.attacked = true;
        }
    }
}

/// Node `i` crashed: its live flows are gone.
pub fn crashed(w: &mut World, i: usize) {
    for (k, o) in w.work.offers.iter().enumerate() {
        if o.guest != i {
            continue;
        }
        let track = w.oracle.success.tracks.entry(k).or_default();
        if track.accepted_at.is_some() && track.outcome.is_none() {
            track.lost = true;
        }
    }
}

/// Why offer `k`'s success is not owed, or `None` when it is.
/// `removed` is `removal::removed_devices(w)`, computed once per check.
fn excuse(w: &World, k: usize, removed: &BTreeSet<(PublicKey, PublicKey)>) -> Option<&'static str> {
    let o = &w.work.offers[k];
    let ledger = &w.oracle.success;
    let track = ledger.tracks.get(&k).cloned().unwrap_or_default();
    let space = crate::oracle::space_of_offer(w, k);
    let (Some(host), Some(guest)) = (identity(w, o.host), identity(w, o.guest)) else { return Some("a node is gone") };
    // No excuse for a host that "forgot" its invitation: the user sees a code only once the
    // record that stores it is durable (SPEC §9.5), and a Peer lets an ended invitation go at
    // its expiry (§9.4), so its absence from the host's table says nothing. (That guard
    // silenced L2 for every expired invitation once the table evicted them.)
    let broken = track.attacked && track.outcome == Some(Err(Refusal::ProtocolViolation));
    let checks: [(bool, &'static str); 13] = [
        (ledger.adversarial.contains(&k), "an adversary's offer"),
        (!w.trusted(o.host) || !w.trusted(o.guest), "host or guest not trusted"),
        (o.code != o.issued, "the code was rewritten"),
        (track.cancelled, "the guest cancelled"),
        (track.lost, "the guest crashed mid-flow"),
        (broken, "the on-path attacker broke the flow before the guest was in doubt"),
        (ledger.leaked.contains(&o.issued.id), "the code leaked to the guesser"),
        (w.oracle.cancelled(&o.issued.id), "the host cancelled"),
        (
            space.is_some_and(|s| ledger.touched.contains(&(s, host)) || ledger.touched.contains(&(s, guest))),
            "roles changed",
        ),
        (space.is_some_and(|s| !still_admin(w, &s, &host)), "the host cannot admit any more"),
        (crate::oracle::removal::disowned(w, o.host, removed), "the host's identity removed the host device"),
        (duplicate_offer(w, k), "the guest holds another code for the same space"),
        (!in_time(w, k, &track), "the secret came too late to be owed success"),
    ];
    checks.into_iter().find(|(excused, _)| *excused).map(|(_, why)| why)
}

/// Whether the host may still admit, judged by what the rules make of every honest replica:
/// its own replica may be stale by design (its admission voided by a concurrent demotion of
/// whoever admitted it, which it never learns, SPEC §9.7).
fn still_admin(w: &World, space: &PublicKey, me: &PublicKey) -> bool {
    let truth = crate::mutant::suspended(|| crate::oracle::union_view(w, space));
    truth.is_some_and(|(members, _)| members.iter().any(|m| m.identity == *me && m.role.can_manage_members()))
}

fn duplicate_offer(w: &World, k: usize) -> bool {
    let o = &w.work.offers[k];
    let space = crate::oracle::space_of_offer(w, k);
    w.work.offers.iter().enumerate().any(|(j, p)| {
        j != k && p.guest == o.guest && p.issued.kind == o.issued.kind && crate::oracle::space_of_offer(w, j) == space
    })
}

/// Whether the guest proved the secret early enough, and, with faults, whether the flow could
/// outlive them.
fn in_time(w: &World, k: usize, track: &Track) -> bool {
    let o = &w.work.offers[k];
    let (Some(proved), Some(accepted)) = (track.proved_at, track.accepted_at) else { return false };
    let skew = 2 * w.cfg.faults.skew_ms_max;
    // The code expires when the first of the two clocks says so.
    let at = |node: usize| w.nodes[node].clock.global(o.issued.expires_at().as_millis(), 0);
    let expiry = at(o.host).min(at(o.guest));
    if proved + BEFORE_EXPIRY_MS + skew >= expiry {
        return false;
    }
    if !w.cfg.faults.any() && !w.cfg.adversaries.any() {
        return true;
    }
    let owed_until = w.heal_at + AFTER_HEAL_MS + skew;
    let gives_up = accepted + Limits::default().guest_timeout_ms;
    expiry >= owed_until && gives_up >= owed_until
}

/// L2, once everything converged.
pub fn check(w: &mut World) {
    // Empty, and free, in worlds without device removal.
    let removed = crate::oracle::removal::removed_devices(w);
    for k in 0..w.work.offers.len() {
        if excuse(w, k, &removed).is_some() {
            continue;
        }
        w.stats.owed_successes += 1;
        let o = w.work.offers[k].clone();
        let track = w.oracle.success.tracks.get(&k).cloned().unwrap_or_default();
        let id = crate::trace::short(&o.issued.id);
        if track.outcome != Some(Ok(())) {
            let how = match track.outcome {
                None => "with no outcome".to_string(),
                Some(Ok(())) => "SUCCESS".to_string(),
                Some(Err(refusal)) => format!("refused {refusal:?}"),
            };
            let detail = format!(
                "node {} typed the right secret for invitation {id} of node {} ({}, {}, use limit of offer {k}) \
                 yet ended {how}",
                o.guest,
                o.host,
                o.issued.kind.name(),
                o.issued.auth.name()
            );
            return w.fail("L2", detail);
        }
        let Some(space) = crate::oracle::space_of_offer(w, k) else { continue };
        let Some(guest) = identity(w, o.guest) else { continue };
        // L1 already holds every current member's replica to what the rules make of the union
        // of honest replicas: being a member there is being a member on every one of them.
        let truth = crate::mutant::suspended(|| crate::oracle::union_view(w, &space));
        let role_of = |k: Option<PublicKey>| {
            truth.as_ref().and_then(|(members, _)| members.iter().find(|m| Some(m.identity) == k).map(|m| m.role))
        };
        let role = role_of(Some(guest));
        if role.is_none_or(|r| r == Role::Removed) {
            let detail = format!(
                "node {} joined through invitation {id} but the honest replicas together make it {} \
                 (its host, node {}, {}; space {} held by nodes {:?})",
                o.guest,
                crate::oracle::role_or_none(role),
                o.host,
                crate::oracle::role_or_none(role_of(identity(w, o.host))),
                crate::trace::short(&space.0),
                w.honest()
                    .filter(|j| w.nodes[*j].peer.as_ref().is_some_and(|p| p.client().space(&space).is_some()))
                    .collect::<Vec<_>>()
            );
            return w.fail("L2", detail);
        }
    }
}
