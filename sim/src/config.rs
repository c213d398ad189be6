//! What a seed fixes: the size of the world, the workload's pace, every fault rate and every
//! adversary. Swarm testing (TigerBeetle's VOPR): each rate is drawn from the seed and many
//! are switched off outright, so different seeds stress different corners instead of every
//! seed averaging everything into the same weather.
//!
//! A `Config` is plain data: `shrink` edits it, `replay --scenario` reads it back.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

/// Honest peers in a world, inclusive bounds.
pub const PEERS_MIN: usize = 2;
pub const PEERS_MAX: usize = 20;

/// The family of worlds a seed is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// No faults, no adversaries: the protocol on a good day.
    Calm,
    /// Transport and process faults: latency, resets, partitions, crashes, skew, outages.
    Faulty,
    /// Faults plus every adversary.
    Hostile,
    /// Swarm testing: each fault and adversary on or off per seed.
    Swarm,
}

impl Profile {
    pub const ALL: [Profile; 4] = [Profile::Calm, Profile::Faulty, Profile::Hostile, Profile::Swarm];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Calm => "calm",
            Profile::Faulty => "faulty",
            Profile::Hostile => "hostile",
            Profile::Swarm => "swarm",
        }
    }
}

/// Transport and process faults. Rates are per minute of virtual time unless named `_ppm`
/// (parts per million per frame).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// One-way latency of a frame: uniform in [min, max], plus a tail.
    pub latency_min_ms: u64,
    pub latency_max_ms: u64,
    /// Chance per frame of a latency spike of up to `latency_tail_ms` (head-of-line blocking).
    pub latency_tail_ppm: u32,
    pub latency_tail_ms: u64,
    /// Chance per frame that its connection resets instead.
    pub reset_ppm: u32,
    pub partitions_per_min: u32,
    pub partition_ms_max: u64,
    pub crashes_per_min: u32,
    pub crash_down_ms_max: u64,
    /// Clocks start off by up to this much, and drift by up to `drift_ppm_max`.
    pub skew_ms_max: u64,
    pub drift_ppm_max: u32,
    pub clock_jumps_per_min: u32,
    pub signal_outages_per_min: u32,
    pub signal_outage_ms_max: u64,
}

impl Faults {
    pub fn none() -> Self {
        Faults {
            latency_min_ms: 5,
            latency_max_ms: 40,
            latency_tail_ppm: 0,
            latency_tail_ms: 0,
            reset_ppm: 0,
            partitions_per_min: 0,
            partition_ms_max: 0,
            crashes_per_min: 0,
            crash_down_ms_max: 0,
            skew_ms_max: 0,
            drift_ppm_max: 0,
            clock_jumps_per_min: 0,
            signal_outages_per_min: 0,
            signal_outage_ms_max: 0,
        }
    }

    pub fn any(&self) -> bool {
        *self != Faults { latency_min_ms: self.latency_min_ms, latency_max_ms: self.latency_max_ms, ..Faults::none() }
    }
}

/// Who attacks. Each field is off (zero/false) or a rate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Adversaries {
    /// An on-path attacker on peer connections: per frame, the chance of dropping,
    /// duplicating, tampering, replaying an old frame or reordering (each `_ppm`).
    pub network_ppm: u32,
    /// Chance that an invite code (never its PIN) leaks to the PIN guesser.
    pub leak_ppm: u32,
    /// Chance that the side channel hands a guest a code with a rewritten role, and the
    /// network rewrites the topic so the guest still reaches the real host (a relay MITM).
    pub mitm_ppm: u32,
    /// The signaling server lies: per message, the chance of dropping, duplicating,
    /// delaying or redirecting a peer's address to the adversary.
    pub signal_ppm: u32,
    /// One admitted member turns malicious: forged credentials, self-promotion, writes as a
    /// reader, writes after removal.
    pub insider: bool,
    /// Malformed, non-canonical and oversized frames sent at peers and the server, per minute.
    pub flood_per_min: u32,
    /// Chance that a member removed from a space tries the invite code that admitted it again
    /// (every method; after the invitation completed, was cancelled or expired).
    pub rejoin_ppm: u32,
    /// Chance that a leaked code is still guessed after its invitation ended (completed,
    /// cancelled, expired): a completed invitation must not answer PINs.
    pub late_guess_ppm: u32,
    /// On-path attacker on invitation connections: per guest confirmation, the chance it is
    /// dropped (the guest, in doubt, retries on its own).
    pub confirm_drop_ppm: u32,
    /// Signaling connections the flooder opens to fill the server's topic table (0 = none).
    pub signal_flood_conns: u32,
    /// The insider goes on issuing credentials and writing in its feeds after its removal.
    pub insider_after_removal: bool,
    /// The insider, while a member, issues credentials in the hostile DAG shapes of issue 11
    /// (`adversary::shapes`); R2 bounds what they cost honest replicas.
    pub shapes: bool,
    /// The insider's device comes back from an old copy of its disk and writes again at
    /// positions it had published (`adversary::fork`): its feeds fork.
    pub forker: bool,
    /// The insider sends its links a stream of summaries claiming to hold nothing
    /// (`adversary::summary_flood`); R3 bounds what honest devices send it in answer.
    pub summary_flood: bool,
}

impl Adversaries {
    pub fn any(&self) -> bool {
        *self != Adversaries::default()
    }
}

/// Everything a run depends on besides the code. Two runs of one `Config` are identical.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub seed: u64,
    pub profile: Profile,
    /// Honest peers; some start as blank devices to be linked to another's identity.
    pub peers: usize,
    pub blank_devices: usize,
    /// Virtual time with workload, faults and attacks.
    pub safety_ms: u64,
    /// Virtual time allowed, after healing, for every invitation to end and replicas to agree.
    pub liveness_ms: u64,
    /// Mean virtual time between two user actions in the whole world.
    pub action_gap_ms: u64,
    pub faults: Faults,
    pub adversaries: Adversaries,
    /// Users remove linked devices of their identity (`RemoveDevice`, SPEC §1.5): in half the
    /// worlds with a blank device to link. Absent from scenario files older than it, which
    /// therefore mean none.
    #[serde(default)]
    pub device_removal: bool,
    /// The planted bug, by name (only honoured in builds with the `mutants` feature).
    pub mutant: Option<String>,
    /// What `shrink` deleted from the drawn sequences of actions and faults (`cuts`); absent
    /// from scenario files older than it, which therefore mean no cuts.
    #[serde(default)]
    pub cuts: crate::cuts::Cuts,
}

/// Draws a world from `seed` for `profile`.
pub fn draw(seed: u64, profile: Profile) -> Config {
    let mut rng = ChaCha20Rng::seed_from_u64(seed ^ 0x5eed_c0f1_9000_0000);
    let mut r = |n: u64| if n == 0 { 0 } else { rng.next_u64() % n };
    let peers = match profile {
        Profile::Swarm => PEERS_MIN + r((PEERS_MAX - PEERS_MIN + 1) as u64) as usize,
        _ => PEERS_MIN + r(9) as usize,
    };
    let blank_devices = if peers >= 3 && r(3) == 0 { 1 } else { 0 };
    let safety_ms = 60_000 + r(4) * 60_000;
    let action_gap_ms = 1_000 + r(5) * 1_000;
    let faults = match profile {
        Profile::Calm => Faults::none(),
        Profile::Faulty | Profile::Hostile => faulty(&mut r, false),
        Profile::Swarm => faulty(&mut r, true),
    };
    let adversaries = match profile {
        Profile::Calm | Profile::Faulty => Adversaries::default(),
        Profile::Hostile => hostile(&mut r, false),
        Profile::Swarm => hostile(&mut r, true),
    };
    // Drawn last, so every world drawn before device removal existed is unchanged.
    let device_removal = blank_devices > 0 && r(2) == 0;
    Config {
        seed,
        profile,
        peers,
        blank_devices,
        device_removal,
        safety_ms,
        liveness_ms: 900_000,
        action_gap_ms,
        faults,
        adversaries,
        mutant: None,
        cuts: crate::cuts::Cuts::default(),
    }
}

/// `on(p)`: with swarm testing a feature is present with probability p; otherwise always.
fn faulty(r: &mut impl FnMut(u64) -> u64, swarm: bool) -> Faults {
    let mut on = |pct: u64| !swarm || r(100) < pct;
    let (tail, reset, partition, crash, skew, jump, outage) = (on(50), on(50), on(60), on(50), on(60), on(30), on(30));
    Faults {
        latency_min_ms: 1 + r(20),
        latency_max_ms: 30 + r(300),
        latency_tail_ppm: if tail { 1_000 + r(20_000) as u32 } else { 0 },
        latency_tail_ms: if tail { 500 + r(5_000) } else { 0 },
        reset_ppm: if reset { 500 + r(10_000) as u32 } else { 0 },
        partitions_per_min: if partition { 1 + r(3) as u32 } else { 0 },
        partition_ms_max: if partition { 2_000 + r(30_000) } else { 0 },
        crashes_per_min: if crash { 1 + r(2) as u32 } else { 0 },
        crash_down_ms_max: if crash { 1_000 + r(20_000) } else { 0 },
        skew_ms_max: if skew { r(30_000) } else { 0 },
        drift_ppm_max: if skew { r(200) as u32 } else { 0 },
        clock_jumps_per_min: if jump { 1 } else { 0 },
        signal_outages_per_min: if outage { 1 } else { 0 },
        signal_outage_ms_max: if outage { 1_000 + r(20_000) } else { 0 },
    }
}

fn hostile(r: &mut impl FnMut(u64) -> u64, swarm: bool) -> Adversaries {
    let mut on = |pct: u64| !swarm || r(100) < pct;
    let (net, leak, mitm, signal, insider, flood) = (on(50), on(60), on(40), on(40), on(40), on(40));
    let (rejoin, late, confirm, signal_flood, persistent) = (on(50), on(50), on(40), on(30), on(50));
    let mut adversaries = Adversaries {
        network_ppm: if net { 1_000 + r(20_000) as u32 } else { 0 },
        leak_ppm: if leak { 300_000 + r(700_000) as u32 } else { 0 },
        mitm_ppm: if mitm { 100_000 + r(300_000) as u32 } else { 0 },
        signal_ppm: if signal { 5_000 + r(50_000) as u32 } else { 0 },
        insider,
        flood_per_min: if flood { 1 + r(10) as u32 } else { 0 },
        rejoin_ppm: if rejoin { 300_000 + r(700_000) as u32 } else { 0 },
        late_guess_ppm: if late { 300_000 + r(700_000) as u32 } else { 0 },
        confirm_drop_ppm: if confirm { 100_000 + r(500_000) as u32 } else { 0 },
        signal_flood_conns: if signal_flood { 64 + r(64) as u32 } else { 0 },
        insider_after_removal: insider && persistent,
        shapes: false,
        forker: false,
        summary_flood: false,
    };
    // Drawn last, so every world drawn before the shape-maker, the forker and the summary
    // flood existed is unchanged (the flood still changes what happens in it).
    adversaries.shapes = insider && (!swarm || r(100) < 60);
    adversaries.forker = insider && (!swarm || r(100) < 60);
    adversaries.summary_flood = insider && (!swarm || r(100) < 50);
    adversaries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_fixes_the_world() {
        for p in Profile::ALL {
            assert_eq!(draw(7, p), draw(7, p));
        }
        assert_ne!(draw(7, Profile::Hostile), draw(8, Profile::Hostile));
    }

    #[test]
    fn a_scenario_written_before_cuts_existed_reads_as_the_drawn_world() {
        let mut json = serde_json::to_value(draw(3, Profile::Hostile)).expect("a config serialises");
        assert!(json.as_object_mut().expect("an object").remove("cuts").is_some());
        let cfg: Config = serde_json::from_value(json).expect("an old scenario still reads");
        assert_eq!(cfg, draw(3, Profile::Hostile));
    }

    #[test]
    fn profiles_keep_their_promises() {
        for seed in 0..200 {
            let calm = draw(seed, Profile::Calm);
            assert!(!calm.faults.any() && !calm.adversaries.any());
            let faulty = draw(seed, Profile::Faulty);
            assert!(faulty.faults.any() && !faulty.adversaries.any());
            let hostile = draw(seed, Profile::Hostile);
            assert!(hostile.adversaries.any());
            let swarm = draw(seed, Profile::Swarm);
            assert!((PEERS_MIN..=PEERS_MAX).contains(&swarm.peers));
        }
    }
}
