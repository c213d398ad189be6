//! `flows.json`: whole invitation flows between a reference host and a reference guest
//! (SPEC.md §7.6), each a script of user actions and clock steps over a link that may
//! tamper with or replay chosen frames. Expected: every frame each way and both outcomes.

use serde_json::{Value, json};

use super::valid;
use crate::file::{Test, VectorFile};
use crate::json::hex;

const OP: &str = "flow.transcript";
const OUTCOME: &str = "flow.outcome";
const T0: u64 = 1_700_000_000_000;

fn notes(f: &mut VectorFile) {
    f.note("Success", "Functionality", "The guest is admitted; both sides end in SUCCESS.");
    f.note("WrongPin", "Authentication", "A wrong PIN costs one attempt and the guest may retry (§7.6.3).");
    f.note(
        "Exhausted",
        "BruteForce",
        "The attempt budget is spent: the invitation is burned, across connections and restarts (§7.6.3–7.6.4).",
    );
    f.note(
        "Expired",
        "Expiry",
        "The host refuses after the invitation's expiry, whatever the guest's clock says (§7.6.2).",
    );
    f.note("Cancelled", "Cancellation", "The host cancelled: no admission after that (§7.6.2).");
    f.note(
        "Replay",
        "Integrity",
        "A frame delivered twice: the Noise nonces no longer agree and the session ends (§7.3.2).",
    );
    f.note("Tamper", "Integrity", "One byte of a frame changed in flight (§7.3.2, §7.4).");
    f.note("Restart", "Durability", "The host restarts from its persisted record (§7.6.4).");
    f.note(
        "Reconnect",
        "Durability",
        "The connection drops and the guest reconnects; the budget is per invitation, not per connection.",
    );
    f.note("Timeout", "Liveness", "A deadline passes with no answer (§7.6.5).");
    f.note("NoPin", "Functionality", "Method None: the code alone admits (§7.1.1).");
    f.note("Device", "Functionality", "A DEVICE invitation: the guest is a new device of the host's identity (§7.7).");
}

struct Case {
    kind: &'static str,
    comment: &'static str,
    flags: &'static [&'static str],
    auth: &'static str,
    expires_in_ms: u64,
    script: Value,
    faults: Value,
    skew_ms: i64,
    guest_state: &'static str,
}

fn case(comment: &'static str, flags: &'static [&'static str], script: Value, guest_state: &'static str) -> Case {
    Case {
        kind: "space",
        comment,
        flags,
        auth: "pin",
        expires_in_ms: 3_600_000,
        script,
        faults: json!([]),
        skew_ms: 0,
        guest_state,
    }
}

fn pin(p: &str) -> Value {
    json!({ "do": "pin", "pin": p })
}

fn run(f: &mut VectorFile, n: u8, c: Case) {
    let input = json!({
        "hostSeed": hex([n; 32]),
        "guestSeed": hex([0x80 | n; 32]),
        "start": T0,
        "params": {
            "kind": c.kind,
            "auth": c.auth,
            "role": (c.kind == "space").then_some("editor"),
            "expiresInMs": c.expires_in_ms,
            "useLimit": 1,
        },
        "guestClockSkewMs": c.skew_ms,
        "script": c.script,
        "faults": c.faults,
    });
    let t = valid(OP, c.comment, c.flags, input);
    assert_eq!(t.output["guest"]["state"], c.guest_state, "{}: {}", c.comment, t.output);
    f.group(OP).push(t);
}

fn wrong() -> Value {
    pin("wrong")
}

fn right() -> Value {
    pin("host")
}

/// PIN entries, the attempt budget across connections and restarts.
fn budget_flows(f: &mut VectorFile) {
    let drop_and_wait = || vec![json!({ "do": "dropConnection" }), json!({ "do": "advance", "ms": 6000 })];
    run(f, 1, case("right PIN at once", &["Success"], json!([right()]), "success"));
    run(f, 2, case("wrong PIN, then the right one", &["WrongPin", "Success"], json!([wrong(), right()]), "success"));
    run(
        f,
        3,
        case(
            "three wrong PINs burn the invitation",
            &["WrongPin", "Exhausted"],
            json!([wrong(), wrong(), wrong()]),
            "error",
        ),
    );
    run(
        f,
        4,
        case(
            "two wrong PINs, the right one on the last attempt",
            &["WrongPin", "Success"],
            json!([wrong(), wrong(), right()]),
            "success",
        ),
    );
    let mut across = vec![wrong()];
    across.extend(drop_and_wait());
    across.push(wrong());
    across.extend(drop_and_wait());
    across.push(wrong());
    run(
        f,
        5,
        case(
            "wrong PINs on three connections: one budget",
            &["WrongPin", "Exhausted", "Reconnect"],
            Value::Array(across),
            "error",
        ),
    );
    let restart = json!([wrong(), { "do": "restartHost" }, { "do": "advance", "ms": 6000 }, wrong(), wrong()]);
    run(
        f,
        6,
        case("a host restart does not refill the budget", &["WrongPin", "Exhausted", "Restart"], restart, "error"),
    );
    let restart_ok = json!([wrong(), { "do": "restartHost" }, { "do": "advance", "ms": 6000 }, right()]);
    run(
        f,
        7,
        case(
            "a host restart between a wrong and the right PIN",
            &["WrongPin", "Restart", "Success"],
            restart_ok,
            "success",
        ),
    );
}

/// Cancellation, expiry and timeouts.
fn ending_flows(f: &mut VectorFile) {
    run(
        f,
        8,
        case(
            "the host cancels while the guest types",
            &["Cancelled"],
            json!([{ "do": "cancelHost" }, right()]),
            "cancelled",
        ),
    );
    let mut lost = case(
        "the host cancels; its Refused{Cancelled} is lost, so the guest reconnects to a cancelled invitation",
        &["Cancelled", "Reconnect"],
        json!([{ "do": "cancelHost" }, { "do": "advance", "ms": 6000 }, right()]),
        "cancelled",
    );
    lost.faults = json!([{ "dir": "toGuest", "frame": 1, "action": "drop" }]);
    run(f, 19, lost);
    run(f, 9, case("the guest cancels", &["Cancelled"], json!([{ "do": "cancelGuest" }]), "cancelled"));
    let mut expired = case(
        "the guest's clock is 10 minutes slow; the host's says expired",
        &["Expired"],
        json!([{ "do": "advance", "ms": 61_000 }, right()]),
        "expired",
    );
    expired.expires_in_ms = 60_000;
    expired.skew_ms = -600_000;
    run(f, 10, expired);
    let mut late = case(
        "the code expires while the guest waits",
        &["Expired", "Timeout"],
        json!([{ "do": "advance", "ms": 120_000 }]),
        "expired",
    );
    late.expires_in_ms = 60_000;
    run(f, 11, late);
    run(
        f,
        12,
        case("the guest never types the PIN", &["Timeout"], json!([{ "do": "advance", "ms": 200_000 }]), "timeout"),
    );
}

/// Replayed, tampered and lost frames, and the method without a PIN.
fn fault_flows(f: &mut VectorFile) {
    let mut replay = case(
        "the guest's PakeStart is delivered twice: that session ends, the next succeeds",
        &["Replay", "Reconnect"],
        json!([right(), { "do": "advance", "ms": 6000 }, right()]),
        "success",
    );
    replay.faults = json!([{ "dir": "toHost", "frame": 2, "action": "replay" }]);
    run(f, 13, replay);
    let mut replay_confirm = case(
        "the guest's Confirm is delivered twice",
        &["Replay"],
        json!([right(), { "do": "advance", "ms": 6000 }]),
        "success",
    );
    replay_confirm.faults = json!([{ "dir": "toHost", "frame": 3, "action": "replay" }]);
    run(f, 14, replay_confirm);
    let mut tamper_hello = case(
        "Hello tampered: that connection fails, the guest reconnects",
        &["Tamper", "Reconnect", "Success"],
        json!([{ "do": "advance", "ms": 6000 }, right()]),
        "success",
    );
    tamper_hello.faults = json!([{ "dir": "toHost", "frame": 0, "action": "tamper", "byte": 40 }]);
    run(f, 15, tamper_hello);
    let mut tamper_confirm = case(
        "the guest's Confirm tampered: that session ends with an attempt spent; the guest, in doubt, reconnects and is admitted",
        &["Tamper", "Reconnect", "Success"],
        json!([right(), { "do": "advance", "ms": 6000 }]),
        "success",
    );
    tamper_confirm.faults = json!([{ "dir": "toHost", "frame": 3, "action": "tamper", "byte": 10 }]);
    run(f, 16, tamper_confirm);
    let mut tamper_reply = case(
        "the host's PakeReply tampered: the guest ends in ERROR",
        &["Tamper"],
        json!([right(), { "do": "advance", "ms": 6000 }]),
        "error",
    );
    tamper_reply.faults = json!([{ "dir": "toGuest", "frame": 1, "action": "tamper", "byte": 12 }]);
    run(f, 17, tamper_reply);
    let mut none = case("method None: admitted without a PIN", &["NoPin", "Success"], json!([]), "success");
    none.auth = "none";
    run(f, 18, none);
}

/// A new device joining its identity (DEVICE invitations, SPEC.md §7.7).
fn device_flows(f: &mut VectorFile) {
    let mut link =
        case("a new device joins its identity with the PIN", &["Device", "Success"], json!([right()]), "success");
    link.kind = "device";
    run(f, 20, link);
    let mut wrong_then_right = case(
        "a new device: wrong PIN, then the right one",
        &["Device", "WrongPin", "Success"],
        json!([wrong(), right()]),
        "success",
    );
    wrong_then_right.kind = "device";
    run(f, 21, wrong_then_right);
}

pub fn file() -> VectorFile {
    let mut f = VectorFile::new("flows.json", "spaces/1 invitation flows: host and guest transcripts");
    notes(&mut f);
    budget_flows(&mut f);
    ending_flows(&mut f);
    fault_flows(&mut f);
    device_flows(&mut f);
    // The same flows again, graded on what any implementation reaches (see FORMAT.md).
    let outcomes: Vec<Test> =
        f.groups[0].tests.iter().map(|t| valid(OUTCOME, &t.comment, &t.flags, t.input.clone())).collect();
    f.group(OUTCOME).extend(outcomes);
    f
}
