//! What must hold in an invitation world: safety after every step, liveness once healed.
//! Each rule names what a host may never do, whatever the weather and the guests; the world
//! knows every guest's identity and every PIN it typed, so it needs no second opinion from
//! the implementation under test.
//!
//! Safety, after every step:
//! - W1 *budget*: the host's attempts left never grow, never fall by more than the
//!   confirmations with a wrong PIN guests sent (a guest in doubt retries with the PIN it
//!   holds, so one typo can cost one attempt per retry, SPEC §7.6.5), and the guests are told
//!   `wrong_pin` at most the starting budget in all.
//! - W2 *admission*: every guest admitted is entitled at that moment: it typed the right PIN
//!   (PIN), it is the invited identity (KEY), it holds the code (NONE); never one the host
//!   removed, never after the invitation was cancelled or expired, and never more distinct
//!   guests than the use limit.
//! - W3 *ended*: once the host's flow is terminal its budget and its admitted set never move.
//! - W4 *agreement*: a guest that ends admitted ends in the host's space, with the role
//!   granted, and the host lists it as admitted.
//! - W7 *expiry*: a host that is up, with no timer due, is over a second after its
//!   invitation's expiry (its timer asks for the moment, SPEC §7.6.2).
//! - W8 *secrecy*: no frame a guest sends carries the PIN's digits in the clear.
//! - W9 *lies*: where the world's host lies in its grants, no guest ends admitted (every lie
//!   is one SPEC §7.7.3 makes a guest refuse).
//!
//! Liveness, at the end (everything healed at `WEATHER_MS`):
//! - W5: every guest's flows ended.
//! - W6: an honest guest (the closer after healing included) that failed after healing was
//!   refused for a reason the world explains: the use limit filled, its identity admitted
//!   already, the budget spent, the invitation expired, cancelled or otherwise ended (the
//!   refusal for the end), or (for guests that started before healing) a timeout. Not judged
//!   where the host lies: W9 is.

use std::collections::BTreeSet;

use super::cast::{Actor, wrong_pin_answers};
use super::plan::{Plan, WEATHER_MS};
use crate::scenarios::net::{Abort, Net, Step};
use crate::wire::{FlowOutput, HostCreated, Outcome, is_terminal_name, json_text};

/// How late after its expiry a host may still be open: its timer fires at the expiry, and a
/// host that restarted then fires it at its next step.
pub const EXPIRY_SLACK_MS: u64 = 1_000;

/// What the oracle remembers between steps.
#[derive(Debug, Default)]
pub struct Watch {
    budget: Option<u8>,
    last_left: Option<u8>,
    /// Host events already checked.
    events_seen: usize,
    /// Frames of `Net::wire` already looked at, frames per (session, direction) so far, and
    /// the confirmations that carried a wrong PIN.
    wire_seen: usize,
    frames_on: std::collections::BTreeMap<(u64, bool), usize>,
    wrong_confirms: usize,
    /// The host's budget and admitted set when its flow became terminal.
    ended: Option<(String, Option<u8>, Vec<String>)>,
    admitted: BTreeSet<String>,
    /// When the host's user cancelled (absolute).
    pub cancelled_at: Option<u64>,
}

fn fail(rule: &str, expected: String, actual: String) -> Step {
    Err(Abort::Check { expected: format!("{rule}: {expected}"), actual })
}

pub struct World<'a> {
    pub plan: &'a Plan,
    pub host: usize,
    pub created: &'a HostCreated,
    pub t0: u64,
    /// The identity the KEY method invites.
    pub invited: Option<String>,
    /// The invitation's PIN, if it has one.
    pub pin: Option<String>,
}

impl World<'_> {
    fn expires_at(&self) -> u64 {
        self.t0 + self.plan.expires_in_ms
    }
}

impl Watch {
    pub fn after_step(&mut self, net: &Net<'_>, w: &World<'_>, cast: &[Actor]) -> Step {
        let status = net.status(w.host).clone();
        let left = status.attempts_left;
        self.budget = self.budget.or(left);
        // W1
        if let (Some(before), Some(now)) = (self.last_left, left)
            && now > before
        {
            return fail("W1", format!("the attempts left never grow ({before} before)"), format!("now {now}"));
        }
        self.last_left = left.or(self.last_left);
        self.read_wire(net, w, cast)?;
        if let (Some(budget), Some(left)) = (self.budget, left) {
            let spent = usize::from(budget.saturating_sub(left));
            if spent > self.wrong_confirms {
                return fail(
                    "W1",
                    format!(
                        "the budget falls by at most the {} confirmations with a wrong PIN guests sent",
                        self.wrong_confirms
                    ),
                    format!("{spent} of {budget} attempts spent"),
                );
            }
            let told = wrong_pin_answers(net, cast);
            if told > usize::from(budget) {
                return fail(
                    "W1",
                    format!("guests are told wrong_pin at most {budget} times in all"),
                    format!("{told} wrong_pin answers"),
                );
            }
        }
        // W2
        let events = net.events(w.host);
        for e in &events[self.events_seen..] {
            if let FlowOutput::Admitted { guest, .. } = e {
                self.admitted_one(net, w, cast, guest)?;
            }
        }
        self.events_seen = events.len();
        // W3. An ended invitation's state may still change in one way: a `Completed` one
        // (SUCCESS) can be cancelled (SPEC §7.6.2).
        match &mut self.ended {
            None if is_terminal_name(&status.state) => {
                self.ended = Some((status.state.clone(), left, status.admitted.clone()));
            }
            Some((state, was_left, was)) => {
                let grew = status.admitted.iter().any(|g| !was.contains(g));
                let cancelled = state == "SUCCESS" && status.state == "CANCELLED";
                if (*state != status.state && !cancelled) || *was_left != left || grew {
                    return fail(
                        "W3",
                        format!(
                            "an ended invitation ({state}) keeps its budget ({}) and admitted set {}",
                            crate::wire::count_text(*was_left),
                            json_text(was)
                        ),
                        format!(
                            "now {}, budget {}, admitted {}",
                            status.state,
                            crate::wire::count_text(left),
                            json_text(&status.admitted)
                        ),
                    );
                }
                *state = status.state.clone();
            }
            None => {}
        }
        self.check_expiry(net, w)?;
        // W4
        for a in cast {
            for slot in &a.flows {
                if let Some(Outcome::Success { space, role }) = &net.status(*slot).outcome {
                    if let Some(lie) = w.plan.lie {
                        return fail(
                            "W9",
                            format!("no guest of a host that lies ({}) ends admitted", lie.name()),
                            format!("{} ends {role} of {space}", net.name(*slot)),
                        );
                    }
                    let identity = a.identity.clone().unwrap_or_default();
                    let listed = status.admitted.contains(&identity);
                    if *space != w.created.space || role != "editor" || !listed {
                        return fail(
                            "W4",
                            format!(
                                "{} ends an editor of the host's space {}, listed admitted",
                                net.name(*slot),
                                w.created.space
                            ),
                            format!("{role} of {space}; host admitted {}", json_text(&status.admitted)),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn check_expiry(&self, net: &Net<'_>, w: &World<'_>) -> Step {
        let status = net.status(w.host);
        let late = net.now > w.expires_at() + EXPIRY_SLACK_MS;
        // A host back from a crash learns the time from its next timer, which the harness
        // owes it before judging.
        let timer_due = status.timeout_ms.is_some_and(|t| t <= net.now);
        if late && net.is_up(w.host) && !timer_due && !is_terminal_name(&status.state) {
            return fail(
                "W7",
                "an invitation past its expiry is over (EXPIRED, or another end)".into(),
                format!("{} at +{} ms after its expiry", status.state, net.now - w.expires_at()),
            );
        }
        Ok(())
    }

    /// Counts the confirmations put on the wire since the last step whose PIN was wrong
    /// (`cast::is_confirm`), sent by a flow that holds a wrong PIN (it cannot have typed
    /// another since: a new PIN follows a `wrong_pin` answer, a step later at the least).
    ///
    /// And W8: no frame a guest sent carries the PIN in the clear.
    fn read_wire(&mut self, net: &Net<'_>, w: &World<'_>, cast: &[Actor]) -> Step {
        let pin = w.pin.as_deref().map(str::as_bytes);
        for (session, dir, bytes) in &net.wire[self.wire_seen..] {
            let to_host = *dir == crate::flow::Dir::ToHost;
            if let Some(pin) = pin.filter(|_| to_host)
                && bytes.windows(pin.len()).any(|win| win == pin)
            {
                let who = net.guest_of(*session).map(|g| net.name(g).to_owned()).unwrap_or_default();
                return fail(
                    "W8",
                    "no guest frame carries the PIN in the clear".into(),
                    format!("{who} sent it on session {session}"),
                );
            }
            let n = self.frames_on.entry((*session, to_host)).or_default();
            let index = *n;
            *n += 1;
            let Some(guest) = net.guest_of(*session) else { continue };
            if to_host && super::cast::is_confirm(index) && cast.iter().any(|a| a.holds_wrong_pin(guest)) {
                self.wrong_confirms += 1;
            }
        }
        self.wire_seen = net.wire.len();
        Ok(())
    }

    fn admitted_one(&mut self, net: &Net<'_>, w: &World<'_>, cast: &[Actor], guest: &str) -> Step {
        let now = net.now;
        let who = cast.iter().find(|a| a.identity.as_deref() == Some(guest));
        let Some(a) = who else {
            return fail("W2", "only the world's guests are admitted".into(), format!("admitted {guest}"));
        };
        let entitled = match w.plan.auth {
            "pin" => a.knew_pin(),
            "key" => w.invited.as_deref() == Some(guest),
            _ => true,
        };
        if !entitled {
            return fail(
                "W2",
                format!("only a guest entitled by the {} method is admitted", w.plan.auth),
                format!("admitted {} ({}), which typed {:?}", guest, a.label(), a.typed),
            );
        }
        if a.removed_at.is_some_and(|t| t < now) {
            return fail("W2", "a removed member is never admitted again".into(), format!("admitted {guest} again"));
        }
        if let Some(t) = self.cancelled_at.filter(|t| *t < now) {
            return fail(
                "W2",
                "nobody is admitted after a cancel".into(),
                format!("admitted {guest} {} ms after", now - t),
            );
        }
        if now > w.expires_at() {
            return fail(
                "W2",
                "nobody is admitted after the invitation expired".into(),
                format!("admitted {guest} {} ms after", now - w.expires_at()),
            );
        }
        self.admitted.insert(guest.to_owned());
        let limit = w.plan.use_limit as usize;
        if limit > 0 && self.admitted.len() > limit {
            return fail(
                "W2",
                format!("at most {limit} distinct guests are admitted"),
                format!("admitted {}", json_text(&self.admitted)),
            );
        }
        Ok(())
    }

    /// W5 and W6, once the world has run out.
    pub fn at_end(&self, net: &Net<'_>, w: &World<'_>, cast: &[Actor]) -> Step {
        let healed = w.t0 + WEATHER_MS;
        self.check_expiry(net, w)?;
        let status = net.status(w.host);
        for a in cast {
            for (k, slot) in a.flows.iter().enumerate() {
                let Some(ended) = a.ended_at[k] else {
                    return fail("W5", format!("{} ends", net.name(*slot)), format!("still {}", net.state(*slot)));
                };
                let honest = a.is_honest() && !(a.rejoins && k == 1);
                let Some(Outcome::Failure { reason }) = &net.status(*slot).outcome else { continue };
                // A lying host's grants are refused by every honest guest: W9's to judge.
                if !honest || ended < healed || w.plan.lie.is_some() {
                    continue;
                }
                let limit = w.plan.use_limit as usize;
                let excused = match reason.as_str() {
                    // An invitation admits an identity once: a new request from one it admitted
                    // (not a retry of the same request) is refused (SPEC §7.6.2).
                    // This flow failed, so an admitted identity of its was admitted by another
                    // flow (its own earlier one, or the closer of a KEY world: the same seed).
                    "already_used" => {
                        (limit > 0 && status.admitted.len() >= limit)
                            || a.identity.as_ref().is_some_and(|g| status.admitted.contains(g))
                    }
                    "attempts_exhausted" => status.attempts_left == Some(0),
                    "expired" => ended >= w.expires_at(),
                    "cancelled" => self.cancelled_at.is_some(),
                    "timeout" => w.t0 + a.start < healed || ended >= w.expires_at(),
                    _ => false,
                };
                // A guest refused at the door of an ended invitation hears its end (SPEC
                // §7.6.2: the refusal for the end).
                let end_refusal = match status.state.as_str() {
                    "SUCCESS" => Some("already_used"),
                    "EXPIRED" => Some("expired"),
                    "CANCELLED" => Some("cancelled"),
                    "ERROR" => Some("attempts_exhausted"),
                    _ => None,
                };
                if !(excused || end_refusal == Some(reason.as_str())) {
                    return fail(
                        "W6",
                        format!(
                            "{} ({}) is admitted once healed, or refused for a reason the world explains",
                            net.name(*slot),
                            a.label()
                        ),
                        format!(
                            "refused {reason} at +{} s; host {}, {} attempts left, admitted {}",
                            (ended - w.t0) / 1_000,
                            status.state,
                            crate::wire::count_text(status.attempts_left),
                            json_text(&status.admitted)
                        ),
                    );
                }
            }
        }
        Ok(())
    }
}
