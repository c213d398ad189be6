//! The late guesser: a code holder who keeps guessing after the invitation ended (completed,
//! cancelled, expired). An ended invitation must answer nothing PIN-dependent to anyone it did
//! not admit, so every guess here is wasted; a host that still runs the PAKE is a free PIN
//! oracle, and S6 counts the `WrongPin` answers its guesses hear.

use spaces_protocol::invitation::AuthMethod;
use spaces_protocol::invitation::host::HostEvent;
use spaces_protocol::peer::{Command, Event};

use super::{GUESS_ROUNDS_MAX, adversary_node, chance};
use crate::world::{Ev, World};

/// An honest host's invitation changed state: if it ended, maybe its code reaches the guesser.
pub fn event(w: &mut World, host: usize, e: &Event) {
    let Event::Hosting { id, event: HostEvent::State(state) } = e else { return };
    if !state.is_terminal() || !w.nodes[host].is_honest() {
        return;
    }
    let Some(adv) = adversary_node(w) else { return };
    let Some(code) = w.work.offers.iter().find(|o| o.issued.id == *id).map(|o| o.issued) else { return };
    if code.auth != AuthMethod::Pin || !chance(w, w.cfg.adversaries.late_guess_ppm) {
        return;
    }
    w.stats.attack("late-guess");
    w.oracle.success.leaked.insert(code.id);
    match w.adversary.rounds.iter_mut().find(|(i, _)| *i == code.id) {
        // A guesser already on this code gets its full set of rounds again.
        Some(r) => r.1 = r.1.min(GUESS_ROUNDS_MAX - 1),
        None => w.adversary.rounds.push((code.id, 1)),
    }
    let delay = 100 + super::roll(w, 3_000);
    w.after(delay, Ev::Command { node: adv, command: Command::AcceptInvitation { code } });
}
