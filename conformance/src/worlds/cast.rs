//! Who comes for the invitation, and what each does when its flow asks for something. The
//! guests are the harness's own flows (our protocol crate), so the world knows exactly what
//! each typed and who it is; only the host is the driver's.

use super::plan::MINUTE;
use crate::scenarios::net::{Abort, Net, Step};
use crate::wire::{FlowInput, FlowOutput, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Got the code and the PIN from the host's user; a typo first, sometimes.
    Honest { typo: bool },
    /// Holds the code (and PIN) of a KEY invitation made out to someone else.
    Stranger,
    /// Holds a leaked code, never its PIN: types wrong PINs until the flow ends.
    Guesser,
}

/// One guest of the world. A rejoiner is an honest guest whose host removes it once it is
/// admitted, and which then comes back as itself (same seed: same identity and Noise key).
#[derive(Debug, Clone)]
pub struct Actor {
    pub part: Part,
    /// Offset from the world's start.
    pub start: u64,
    pub seed: String,
    pub rejoins: bool,
    /// The driver plays this guest (its identity is the driver's, not the seed's).
    pub driver: bool,
    /// The identity its seed gives, once known (hex).
    pub identity: Option<String>,
    /// Its flow, once started; the second is the rejoin.
    pub flows: Vec<usize>,
    /// Every PIN it typed, in order, and whether it was the right one.
    pub typed: Vec<bool>,
    /// Per flow, whether the PIN it holds now (and sends in its confirmations, retries in
    /// doubt included) is the right one; `None` before it typed one.
    pub holds_right: Vec<Option<bool>>,
    /// When its host removed it (absolute), and when it comes back.
    pub removed_at: Option<u64>,
    pub back_at: Option<u64>,
    /// When each flow ended (absolute), by flow.
    pub ended_at: Vec<Option<u64>>,
}

impl Actor {
    pub fn new(part: Part, start: u64, seed: String) -> Actor {
        Actor {
            part,
            start,
            seed,
            rejoins: false,
            driver: false,
            identity: None,
            flows: Vec::new(),
            typed: Vec::new(),
            holds_right: Vec::new(),
            removed_at: None,
            back_at: None,
            ended_at: Vec::new(),
        }
    }

    pub fn label(&self) -> String {
        let what = match self.part {
            Part::Honest { typo: true } => "honest (typo first)",
            Part::Honest { typo: false } => "honest",
            Part::Stranger => "stranger",
            Part::Guesser => "guesser",
        };
        let rejoin = if self.rejoins { ", rejoins" } else { "" };
        let driver = if self.driver { " (the driver)" } else { "" };
        format!("{what}{rejoin}{driver} at +{}s", self.start / 1_000)
    }

    pub fn is_honest(&self) -> bool {
        matches!(self.part, Part::Honest { .. })
    }

    /// Whether it ever typed the right PIN.
    pub fn knew_pin(&self) -> bool {
        self.typed.iter().any(|right| *right)
    }

    /// Whether `slot` is one of its flows holding a wrong PIN now.
    pub fn holds_wrong_pin(&self, slot: usize) -> bool {
        self.flows.iter().zip(&self.holds_right).any(|(s, right)| *s == slot && *right == Some(false))
    }

    pub fn wrong_pins(&self) -> usize {
        self.typed.iter().filter(|right| !**right).count()
    }

    /// Every flow it started has ended, and it has nothing left to do.
    pub fn done(&self) -> bool {
        let pending_rejoin = self.back_at.is_some() && self.flows.len() < 2;
        !self.flows.is_empty() && self.ended_at.iter().all(Option::is_some) && !pending_rejoin
    }

    /// The next time it wants to act on its own (start, come back), if any.
    pub fn next_wake(&self, t0: u64) -> Option<u64> {
        if self.flows.is_empty() {
            return Some(t0 + self.start);
        }
        self.back_at.filter(|_| self.flows.len() < 2)
    }
}

/// Whether the `index`-th frame a guest sends on a session (PIN method) is a key
/// confirmation: Hello, Handshake, then PakeStart and Confirm for each run of the PAKE (a
/// wrong PIN starts the next run on the same session).
pub fn is_confirm(index: usize) -> bool {
    index >= 3 && index % 2 == 1
}

/// The PIN the `k`-th wrong guess types: never the right one.
fn wrong_pin(pin: &str, k: usize) -> String {
    let n: u64 = pin.parse().unwrap_or(0);
    format!("{:06}", (n + 1 + k as u64) % 1_000_000)
}

/// Lets every actor do what its flow and the clock ask of it now. `pin` is the invitation's
/// PIN, if it has one. Returns the identities whose removal the host must perform now.
pub fn act(net: &mut Net<'_>, cast: &mut [Actor], code: &str, pin: Option<&str>, t0: u64) -> Step<Vec<usize>> {
    let mut to_remove = Vec::new();
    for (i, a) in cast.iter_mut().enumerate() {
        let now = net.now;
        let starting = a.flows.is_empty() && now >= t0 + a.start;
        let returning = a.flows.len() == 1 && a.back_at.is_some_and(|t| now >= t);
        if starting || returning {
            let (slot, created) =
                if a.driver { net.driver_guest(code)? } else { net.local_guest_seeded(code, &a.seed)? };
            a.identity = Some(created.identity);
            a.flows.push(slot);
            a.ended_at.push(None);
            a.holds_right.push(None);
        }
        for (k, slot) in a.flows.clone().into_iter().enumerate() {
            if a.ended_at[k].is_none() && net.terminal(slot) {
                a.ended_at[k] = Some(now);
            }
            if !net.waits_for_pin(slot) {
                continue;
            }
            let Some(pin) = pin else {
                return Err(Abort::Check {
                    expected: "a flow of an invitation without a PIN never asks for one".into(),
                    actual: format!("{} waits for a PIN", net.name(slot)),
                });
            };
            let typo_first = matches!(a.part, Part::Honest { typo: true }) && a.typed.is_empty();
            let right = matches!(a.part, Part::Honest { .. } | Part::Stranger) && !typo_first;
            let typed = if right { pin.to_owned() } else { wrong_pin(pin, a.wrong_pins()) };
            a.typed.push(right);
            a.holds_right[k] = Some(right);
            net.input(slot, FlowInput::Authenticate { pin: typed })?;
        }
        // A rejoiner's first flow succeeded: the host's user removes it, and it comes back.
        let admitted = a.flows.first().is_some_and(|s| matches!(net.status(*s).outcome, Some(Outcome::Success { .. })));
        if a.rejoins && admitted && a.removed_at.is_none() {
            a.removed_at = Some(now);
            a.back_at = Some(now + MINUTE);
            to_remove.push(i);
        }
    }
    Ok(to_remove)
}

/// The wrong-PIN answers every guest got from the host so far.
pub fn wrong_pin_answers(net: &Net<'_>, cast: &[Actor]) -> usize {
    let flows = cast.iter().flat_map(|a| a.flows.iter());
    flows.map(|s| net.events(*s).iter().filter(|e| matches!(e, FlowOutput::WrongPin { .. })).count()).sum()
}
