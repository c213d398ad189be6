//! Golden traces: one fixed seed per profile keeps its whole trace as an insta snapshot, so any
//! change of protocol or simulator behaviour shows up in review as a trace diff, accepted
//! deliberately (`INSTA_UPDATE=always cargo test -p spaces-sim --release --test golden`) or not.

use spaces_sim::config::{Profile, draw};

fn golden(profile: Profile, seed: u64) {
    let (outcome, lines) = spaces_sim::run_traced(draw(seed, profile), true);
    assert!(outcome.violation.is_none(), "seed {seed} ({}) must pass: {:?}", profile.name(), outcome.violation);
    insta::assert_snapshot!(format!("{}-{seed}", profile.name()), lines.join("\n"));
}

#[test]
fn calm() {
    golden(Profile::Calm, 6);
}

#[test]
fn faulty() {
    golden(Profile::Faulty, 6);
}

#[test]
fn hostile() {
    golden(Profile::Hostile, 5);
}

#[test]
fn swarm() {
    golden(Profile::Swarm, 7);
}

/// Trace lines are read by people who do not write Rust (issue 16): states, roles, methods and
/// kinds as SPEC names them (`READY_FOR_AUTHENTICATION`, `editor`, `pin`), never `Debug`
/// (`ReadyForAuthentication`, `Editor`, `Some(..)`). Refusals keep SPEC's names (`WrongPin`).
#[test]
fn trace_lines_name_things_as_spec_does() {
    const DEBUG_WORDS: [&str; 14] = [
        "Some(",
        "None",
        "Ok(",
        "Err(",
        " { ",
        "Init",
        "Connecting",
        "Connected",
        "ReadyForAuthentication",
        "Authenticating",
        "Success",
        "Admin",
        "Editor",
        "Reader",
    ];
    for (profile, seed) in [(Profile::Calm, 6), (Profile::Faulty, 6), (Profile::Hostile, 5), (Profile::Swarm, 7)] {
        let (_, lines) = spaces_sim::run_traced(draw(seed, profile), true);
        assert!(lines.iter().any(|l| l.contains("\"invite ")), "the trace has invitations");
        for line in &lines {
            let what = line.split("\"what\":").nth(1).unwrap_or("");
            let hit = DEBUG_WORDS.iter().find(|w| what.contains(*w));
            assert!(hit.is_none(), "{} seed {seed}: `{}` in {line}", profile.name(), hit.unwrap());
        }
    }
}
