//! What a seed fixes in an invitation world: the simulator's config of the same seed and
//! profile (`spaces_sim::config::draw`) decides the weather and which adversaries are present
//! and how often they strike; the world's own draw, from the same seed, decides the
//! invitation and the cast.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use spaces_sim::config::{Config, Faults, Profile};

use super::cast::{Actor, Part};
use crate::lying::Lie;

pub const SECOND: u64 = 1_000;
pub const MINUTE: u64 = 60 * SECOND;
/// Virtual time with weather and attacks; everything after it is healed.
pub const WEATHER_MS: u64 = 10 * MINUTE;
/// After healing, how long every flow has to end (a guest gives up after 3 minutes, SPEC
/// §7.6; this leaves room for a retry or two beyond its last start).
pub const SETTLE_MS: u64 = 30 * MINUTE;
/// A short-lived invitation: it expires while guests are still arriving.
pub const SHORT_EXPIRY_MS: u64 = 4 * MINUTE;
pub const LONG_EXPIRY_MS: u64 = 60 * MINUTE;
/// The honest guest that starts after healing, so that every world asks liveness of someone.
pub const CLOSER_AFTER_HEAL_MS: u64 = 30 * SECOND;

/// Salt of the world's own draw, so it is independent of the simulator's.
const WORLD_SALT: u64 = 0x1a7e_5ca1_ab1e_0000;

/// One world: an invitation the driver hosts, and who comes for it.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seed: u64,
    pub profile: Profile,
    pub auth: &'static str,
    pub use_limit: u32,
    pub expires_in_ms: u64,
    pub faults: Faults,
    /// Host crashes: (at, down for), offsets from the world's start.
    pub crashes: Vec<(u64, u64)>,
    /// Windows in which the host is cut off, offsets from the world's start.
    pub cuts: Vec<(u64, u64)>,
    /// The host's user cancels the invitation at this offset.
    pub cancel_at: Option<u64>,
    /// Per guest confirmation, the chance the path drops it (the simulator's
    /// `confirm_drop_ppm`), before healing.
    pub confirm_drop_ppm: u32,
    /// Per frame, the chance the on-path attacker tampers with it or duplicates it (the
    /// simulator's `network_ppm`), before healing.
    pub network_ppm: u32,
    pub cast: Vec<Actor>,
    /// The driver plays one of the honest guests (`Actor::driver`) and the harness hosts.
    pub driver_joins: bool,
    /// The harness's host lies in every grant (`crate::lying`): the simulator's insider,
    /// turned host, in a world where the driver joins.
    pub lie: Option<Lie>,
}

impl Plan {
    pub fn draw(seed: u64, profile: Profile) -> Plan {
        let cfg: Config = spaces_sim::config::draw(seed, profile);
        let mut d = Draw(ChaCha20Rng::seed_from_u64(seed ^ WORLD_SALT));
        let mut r = |n: u64| d.roll(n);
        let auth = match r(10) {
            0..6 => "pin",
            6..8 => "none",
            _ => "key",
        };
        let use_limit = [1, 2, 0][r(3) as usize];
        let expires_in_ms = if r(4) == 0 { SHORT_EXPIRY_MS } else { LONG_EXPIRY_MS };
        let f = &cfg.faults;
        let minutes = WEATHER_MS / MINUTE;
        // The simulator's rates are per minute of a whole world; one host gets half of them.
        let crashes = (0..r(u64::from(f.crashes_per_min) * minutes / 2 + 1))
            .map(|_| (r(WEATHER_MS), 1 + r(f.crash_down_ms_max)))
            .collect();
        let cuts = (0..r(u64::from(f.partitions_per_min) * minutes / 2 + 1))
            .filter(|_| f.partition_ms_max > 0)
            .map(|_| {
                let at = r(WEATHER_MS);
                (at, at + 1 + r(f.partition_ms_max))
            })
            .collect();
        let cancel_at = (r(8) == 0).then(|| r(WEATHER_MS + 5 * MINUTE));
        let a = &cfg.adversaries;
        let leaked = d.chance(a.leak_ppm);
        let rejoins = d.chance(a.rejoin_ppm);
        let late = leaked && d.chance(a.late_guess_ppm);
        let mut cast = Vec::new();
        let honest = 1 + d.roll(3);
        for i in 0..honest {
            // Under the KEY method only the first honest guest is the one invited; the others
            // hold the code but are strangers to the invitation.
            let part = match (auth, i) {
                ("key", 0) => Part::Honest { typo: false },
                ("key", _) => Part::Stranger,
                ("pin", _) => Part::Honest { typo: d.roll(4) == 0 },
                _ => Part::Honest { typo: false },
            };
            let start = d.roll(WEATHER_MS);
            cast.push(Actor::new(part, start, d.seed()));
        }
        if rejoins {
            // The first honest guest is removed once admitted, and comes back as itself.
            cast[0].rejoins = true;
        }
        if leaked {
            for _ in 0..1 + d.roll(2) {
                let start = d.roll(WEATHER_MS);
                cast.push(Actor::new(Part::Guesser, start, d.seed()));
            }
        }
        if late {
            let start = WEATHER_MS + d.roll(5 * MINUTE);
            cast.push(Actor::new(Part::Guesser, start, d.seed()));
        }
        // The closer: under the KEY method it is the invited guest trying again (an
        // idempotent retry if it got in before), unless that guest was removed.
        let closer_seed = if auth == "key" && !rejoins { cast[0].seed.clone() } else { d.seed() };
        let closer = if auth == "key" && rejoins { Part::Stranger } else { Part::Honest { typo: false } };
        cast.push(Actor::new(closer, WEATHER_MS + CLOSER_AFTER_HEAL_MS, closer_seed));
        // Drawn last, so every world drawn before the driver could join is unchanged.
        let driver_joins = d.roll(3) == 0;
        let mut lie = None;
        if driver_joins {
            // The driver plays the first honest guest or the closer. A KEY invitation would
            // need the driver's identity before its code exists, and a harness host has no
            // user to remove members: those worlds are the driver host's.
            let at = if d.roll(2) == 0 { 0 } else { cast.len() - 1 };
            cast[at].driver = true;
            cast[at].rejoins = false;
            cast[0].rejoins = false;
            for g in cast.iter_mut().filter(|g| g.part == Part::Stranger) {
                g.part = Part::Honest { typo: false };
            }
            if a.insider {
                const LIES: [Lie; 5] =
                    [Lie::OtherSpace, Lie::OtherRole, Lie::OtherGuest, Lie::BadSignature, Lie::NoAuthority];
                lie = Some(LIES[d.roll(LIES.len() as u64) as usize]);
            }
        }
        let auth = if driver_joins && auth == "key" { "pin" } else { auth };
        Plan {
            seed,
            profile,
            auth,
            use_limit,
            expires_in_ms,
            faults: cfg.faults.clone(),
            crashes,
            cuts,
            cancel_at,
            confirm_drop_ppm: a.confirm_drop_ppm,
            network_ppm: a.network_ppm,
            cast,
            driver_joins,
            lie,
        }
    }

    /// The identity the KEY method invites: the first guest's.
    pub fn invited_seed(&self) -> Option<&str> {
        (self.auth == "key").then(|| self.cast[0].seed.as_str())
    }

    /// What the world is, in one line, for reports.
    pub fn describe(&self) -> String {
        let who = if self.driver_joins { "driver joins" } else { "driver hosts" };
        let lie = self.lie.map(|l| format!(", the host lies ({})", l.name())).unwrap_or_default();
        let parts: Vec<String> = self.cast.iter().map(Actor::label).collect();
        let limit = if self.use_limit == 0 { "unlimited".to_owned() } else { format!("use limit {}", self.use_limit) };
        format!(
            "{who}: auth {}, {limit}, expires in {} min; {} crashes, {} cuts{}{lie}; guests: {}",
            self.auth,
            self.expires_in_ms / MINUTE,
            self.crashes.len(),
            self.cuts.len(),
            if self.cancel_at.is_some() { ", cancelled" } else { "" },
            parts.join(", ")
        )
    }
}

/// The world's own draw.
struct Draw(ChaCha20Rng);

impl Draw {
    fn roll(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.next_u64() % n }
    }

    fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.roll(1_000_000) < u64::from(ppm)
    }

    /// A flow seed (DRIVER.md `seed`), hex.
    fn seed(&mut self) -> String {
        let mut s = [0u8; 32];
        self.0.fill_bytes(&mut s);
        hex::encode(s)
    }
}
