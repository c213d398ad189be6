//! The invitation targets' world can reach what their invariants are about: without these,
//! "never admitted without the PIN" could hold only because nobody is ever admitted.

use arbitrary::{Arbitrary, Unstructured};
use spaces_fuzz::duel::{Duel, Step};
use spaces_protocol::invitation::State;

fn run(bytes: &[u8]) -> Duel {
    let mut u = Unstructured::new(bytes);
    let mut duel = Duel::new(u64::arbitrary(&mut u).unwrap());
    while !u.is_empty() {
        let step = Step::arbitrary(&mut u).unwrap();
        duel.step(step);
    }
    duel
}

#[test]
fn a_guest_who_knows_the_pin_is_admitted_in_the_seed_flow() {
    let (_, honest) = spaces_fuzz::seed::duel_scripts().into_iter().find(|(t, _)| *t == "guest").unwrap();
    let duel = run(&honest);
    assert!(duel.parties[0].admitted);
    assert_eq!(duel.parties[0].guest.state(), State::Success);
}

#[test]
fn wrong_pins_cost_attempts_in_the_seed_flow() {
    let scripts = spaces_fuzz::seed::duel_scripts();
    let (_, burn) = scripts.iter().filter(|(t, _)| *t == "host").nth(1).unwrap();
    let duel = run(burn);
    assert!(!duel.parties[0].admitted);
    assert!(duel.attempts_left() < 3, "no wrong PIN was charged");
}
