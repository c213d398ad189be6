//! Conformance inside simulated worlds (issue 15 item 6): the driver hosts an invitation (or,
//! in a third of the worlds, joins one as one of the guests) in a world drawn from a
//! `spaces-sim` seed and profile, with that world's weather (latency tails,
//! resets, cuts, host crashes: `scenarios::net::Weather`) and that world's adversaries (leaked
//! codes and PIN guessers, late guesses, removed members coming back, dropped confirmations,
//! tampered and duplicated frames), among honest guests of the harness. `oracle` checks
//! safety after every step and liveness once healed; a seed replays the same world.
//!
//! Scripted scenarios find what their authors thought of; worlds find the holes between
//! them, as the simulator does for whole peers. The implementation under test is the host
//! device of the world, or one guest among the harness's: the driver protocol has no ops for
//! replication, so the driver cannot yet be a member among simulated replicas.

pub mod cast;
pub mod oracle;
pub mod plan;

use std::ops::Range;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use spaces_sim::config::Profile;

use crate::driver::Driver;
use crate::flow::{Dir, LocalFlow};
use crate::report::{Report, TRANSCRIPT_EXCERPT_LINES};
use crate::scenarios::case_of;
use crate::scenarios::net::{Abort, Net, Step, Weather, check};
use crate::wire::{FlowInput, HostCreate, json_text};
use cast::Actor;
use oracle::{Watch, World};
pub use plan::Plan;
use plan::{SETTLE_MS, WEATHER_MS};

pub const SUITE: &str = "worlds";
/// Worlds per profile that `scenarios` runs after its scripts (seeds 0..this).
pub const SCENARIO_WORLDS: u64 = 8;
/// Steps a world may take: one that never settles is a failure, not a hang.
pub const WORLD_STEPS_MAX: usize = 200_000;
/// The profiles a world is drawn from: the simulator's.
pub const PROFILES: [Profile; 4] = Profile::ALL;

const NET_SALT: u64 = 0x3a7e_0000_0000_0001;
const WEATHER_SALT: u64 = 0x3a7e_0000_0000_0002;
const TAP_SALT: u64 = 0x3a7e_0000_0000_0003;

/// A world's name in reports, `--only` filters and `--require`.
pub fn name(profile: Profile, seed: u64) -> String {
    format!("world-{}-{seed}", profile.name())
}

/// Runs the worlds of `profiles` × `seeds` whose name contains `filter`, one case each, each
/// with a fresh driver.
pub fn run(driver: &mut dyn Driver, profiles: &[Profile], seeds: Range<u64>, filter: &str, report: &mut Report) {
    for profile in profiles {
        for seed in seeds.clone() {
            let name = name(*profile, seed);
            if !name.contains(filter) {
                continue;
            }
            let plan = Plan::draw(seed, *profile);
            let comment = plan.describe();
            if let Err(e) = driver.restart() {
                report.cases.push(crate::report::Case::failed(
                    SUITE,
                    &name,
                    &comment,
                    "a driver".into(),
                    e.to_string(),
                ));
                continue;
            }
            let started = std::time::Instant::now();
            let mut net = Net::new(driver, seed ^ NET_SALT);
            let result = run_world(&mut net, &plan);
            let excerpt = net.excerpt(TRANSCRIPT_EXCERPT_LINES);
            let mut case = case_of(SUITE, &name, &comment, result, excerpt);
            case.time = started.elapsed();
            report.cases.push(case);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Crash,
    Revive,
    Cancel,
}

/// Runs one world to its end, checking it all the way.
pub fn run_world(net: &mut Net<'_>, plan: &Plan) -> Step {
    let t0 = net.now;
    let healed = t0 + WEATHER_MS;
    let cuts = plan.cuts.iter().map(|(a, b)| (t0 + a, t0 + b)).collect();
    let weather_rng = ChaCha20Rng::seed_from_u64(plan.seed ^ WEATHER_SALT);
    net.weather = Some(Weather::new(weather_rng, plan.faults.clone(), healed, cuts));
    let invited = match plan.invited_seed() {
        Some(seed) => Some(
            LocalFlow::guest_identity(seed, spaces_protocol::Timestamp::from_millis(t0))
                .map_err(|e| Abort::Driver(e.message))?,
        ),
        None => None,
    };
    let args = HostCreate {
        seed: net.seed(),
        kind: "space".into(),
        auth: plan.auth.into(),
        role: "editor".into(),
        expires_at_ms: t0 + plan.expires_in_ms,
        use_limit: plan.use_limit,
        guest: invited.clone(),
    };
    let (host, created) = if plan.driver_joins { net.local_host(&args)? } else { net.driver_host(&args)? };
    if let Some(lie) = plan.lie {
        let seed = net.seed_bytes();
        net.local_flow_mut(host)?.lie(lie, seed);
    }
    let pin = match plan.auth {
        "pin" => Some(
            created
                .pin
                .clone()
                .ok_or_else(|| Abort::Driver("host.create of a PIN invitation returned no pin".into()))?,
        ),
        _ => None,
    };
    net.session_tap = Some(attacker(plan));
    let mut schedule: Vec<(u64, Action)> = Vec::new();
    for (at, down) in &plan.crashes {
        schedule.push((t0 + at, Action::Crash));
        schedule.push((t0 + at + down, Action::Revive));
    }
    if let Some(at) = plan.cancel_at {
        schedule.push((t0 + at, Action::Cancel));
    }
    schedule.sort();
    let mut cast: Vec<Actor> = plan.cast.clone();
    let world = World { plan, host, created: &created, t0, invited, pin: pin.clone() };
    let mut watch = Watch::default();
    let end = healed + SETTLE_MS;
    let mut down = 0usize;
    for _ in 0..WORLD_STEPS_MAX {
        // What the world's users and faults do now: crashes (overlapping ones nest), a cancel
        // (once the host is up), guests' moves, and removals they call for.
        let now = net.now;
        let mut i = 0;
        while i < schedule.len() {
            let (at, action) = schedule[i];
            if at > now || (action == Action::Cancel && down > 0) {
                i += 1;
                continue;
            }
            schedule.remove(i);
            match action {
                Action::Crash => {
                    if down == 0 {
                        net.crash(host);
                    }
                    down += 1;
                }
                Action::Revive => {
                    down -= 1;
                    if down == 0 {
                        net.revive(host)?;
                    }
                }
                Action::Cancel => {
                    watch.cancelled_at = Some(now);
                    net.input(host, FlowInput::Cancel)?;
                }
            }
        }
        if now >= healed {
            net.session_tap = None;
        }
        let to_remove = cast::act(net, &mut cast, &created.code, pin.as_deref(), t0)?;
        for i in to_remove {
            let member = cast[i].identity.clone().expect("an admitted guest has an identity");
            match net.remove_member(host, &member) {
                Ok(()) => {}
                // Without the op the world has no removed member: the guest stays admitted.
                Err(Abort::Unsupported(_)) => {
                    cast[i].rejoins = false;
                    cast[i].removed_at = None;
                    cast[i].back_at = None;
                }
                Err(e) => return Err(e),
            }
        }
        watch.after_step(net, &world, &cast)?;
        let wakes = cast.iter().filter_map(|a| a.next_wake(t0)).chain(schedule.iter().map(|(t, _)| *t));
        let next_wake = wakes.filter(|t| *t > net.now).min();
        if (cast.iter().all(Actor::done) && schedule.is_empty()) || net.now >= end {
            return finish(net, &world, &watch, &cast);
        }
        let until = next_wake.unwrap_or(end).min(end);
        if !net.step(until)? {
            net.now = net.now.max(until);
        }
    }
    Err(Abort::Driver(format!("the world did not settle in {WORLD_STEPS_MAX} steps")))
}

/// Liveness, and the member list of a world with a removed guest.
fn finish(net: &mut Net<'_>, world: &World<'_>, watch: &Watch, cast: &[Actor]) -> Step {
    watch.at_end(net, world, cast)?;
    for a in cast.iter().filter(|a| a.removed_at.is_some()) {
        let identity = a.identity.clone().unwrap_or_default();
        let members = match net.members(world.host) {
            Ok(m) => m,
            Err(Abort::Unsupported(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let member = members.get(&identity).is_some_and(|role| role != "removed");
        check(
            !member,
            "W2: a removed guest that came back is not a member again",
            format!("members {}", json_text(&members)),
        )?;
    }
    Ok(())
}

/// The world's on-path attacker, until healing: drops a guest's key confirmation
/// (`cast::is_confirm`) with the simulator's `confirm_drop_ppm`, and tampers with or
/// duplicates any frame with its `network_ppm`.
fn attacker(plan: &Plan) -> crate::scenarios::net::SessionTap {
    let mut rng = ChaCha20Rng::seed_from_u64(plan.seed ^ TAP_SALT);
    let (confirm_ppm, network_ppm) = (plan.confirm_drop_ppm, plan.network_ppm);
    Box::new(move |dir, _session, index, mut bytes| {
        let mut chance = |ppm: u32| ppm > 0 && rng.next_u64() % 1_000_000 < u64::from(ppm);
        if dir == Dir::ToHost && cast::is_confirm(index) && chance(confirm_ppm) {
            return vec![];
        }
        if chance(network_ppm) {
            if chance(500_000) {
                return vec![bytes.clone(), bytes];
            }
            let at = (rng.next_u64() as usize) % bytes.len().max(1);
            if let Some(b) = bytes.get_mut(at) {
                *b ^= 0x01;
            }
        }
        vec![bytes]
    })
}
