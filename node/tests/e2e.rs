//! End to end: the built `spaces` binary, several devices in temporary homes and a signaling
//! server, all over 127.0.0.1. Every wait has a deadline, so a hang fails the test instead of
//! blocking CI; each test takes a few seconds.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_spaces");
/// Longest any one command may take here: every command in these tests ends in about a
/// second on loopback; more means a hang.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest to wait for one line of a long-running command.
const LINE_TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh directory for one test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("spaces-e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running command whose stdout is read line by line; killed when dropped.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn line(&self) -> String {
        self.lines.recv_timeout(LINE_TIMEOUT).expect("a line in time")
    }

    /// Reads lines until one contains `needle`; returns it.
    fn until(&self, needle: &str) -> String {
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("no line with {needle:?} in time"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill").args([name, &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success());
    }

    /// Waits for the process to end; its exit status.
    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "process did not end in time");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spaces");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    Running { child, lines }
}

/// One command to its end, with a deadline.
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spaces");
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("spaces {args:?} did not end in time");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A device: its home and the signaling server it uses.
struct Device {
    home: String,
    signal: String,
}

impl Device {
    fn new(dir: &Path, name: &str, signal: &str) -> Device {
        let home = dir.join(name).display().to_string();
        let d = Device { home, signal: signal.to_owned() };
        d.ok(&["init", "--name", name]);
        d
    }

    fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["--home", self.home.as_str(), "--signal", self.signal.as_str()];
        v.extend_from_slice(rest);
        v
    }

    fn run(&self, rest: &[&str]) -> Output {
        run(&self.args(rest))
    }

    /// Runs a command that must succeed; its output.
    fn ok(&self, rest: &[&str]) -> String {
        let o = self.run(rest);
        assert!(o.status.success(), "spaces {rest:?} failed: {}", text(&o));
        text(&o)
    }

    /// Runs a command that must fail; its output.
    fn fails(&self, rest: &[&str]) -> String {
        let o = self.run(rest);
        assert!(!o.status.success(), "spaces {rest:?} should have failed: {}", text(&o));
        text(&o)
    }

    fn spawn(&self, rest: &[&str]) -> Running {
        spawn(&self.args(rest))
    }
}

/// A signaling server on a free port; its address.
fn signal_server() -> (Running, String) {
    let server = spawn(&["signal", "--listen", "127.0.0.1:0"]);
    let line = server.line();
    let addr = line.rsplit(' ').next().expect("an address").to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "unexpected line {line:?}");
    (server, addr)
}

/// An invitation hosted by `host` for space `space`: the running host, the code, the PIN.
fn invite(host: &Device, space: &str, extra: &[&str]) -> (Running, String, String) {
    let mut args = vec!["invite", space];
    args.extend_from_slice(extra);
    let inviting = host.spawn(&args);
    let code = inviting.until("invite code:").rsplit(' ').next().expect("code").to_owned();
    let pin = inviting.line();
    assert_eq!(pin.len(), 6, "the PIN on its own line: {pin:?}");
    (inviting, code, pin)
}

/// Alice with space `s`, and Bob joined to it as an editor.
struct Pair {
    _dir: Dir,
    _server: Running,
    alice: Device,
    bob: Device,
    space: String,
    code: String,
    pin: String,
}

fn pair() -> Pair {
    let dir = Dir::new();
    let (server, addr) = signal_server();
    let alice = Device::new(&dir.0, "alice", &addr);
    let bob = Device::new(&dir.0, "bob", &addr);
    let created = alice.ok(&["space", "create", "--name", "s"]);
    let space = created.split_whitespace().nth(2).expect("space key").to_owned();
    let (mut inviting, code, pin) = invite(&alice, "s", &["--role", "editor"]);
    let joined = bob.ok(&["join", &code, "--pin", &pin, "--name", "s", "--timeout", "10s"]);
    assert!(joined.contains(&format!("joined space {space}")), "{joined}");
    assert!(inviting.wait().success(), "the invitation ends admitted");
    Pair { _dir: dir, _server: server, alice, bob, space, code, pin }
}

/// The identity key of `device`'s user, as `members` of `space` shows it.
fn identity_of(device: &Device, space: &str) -> String {
    let members = device.ok(&["--json", "members", space]);
    members
        .lines()
        .find(|l| l.contains("\"you\":true"))
        .and_then(|l| l.split("\"identity\":\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("the device's identity")
        .to_owned()
}

/// Keeps `device` online (`spaces up`) until the returned handle is stopped or dropped.
fn up(device: &Device) -> Running {
    let online = device.spawn(&["up"]);
    online.until("online as");
    online
}

fn stop(mut online: Running) {
    online.signal("-INT");
    assert!(online.wait().success(), "spaces up stops cleanly on Ctrl-C");
}

#[test]
fn bob_joins_with_the_pin_and_both_see_each_others_items_after_sync() {
    let p = pair();
    assert!(p.bob.ok(&["spaces"]).contains(&p.space));
    p.alice.ok(&["put", "s", "milk", "qty=2"]);
    p.bob.ok(&["put", "s", "eggs", "qty=12"]);

    let online = up(&p.alice);
    let synced = p.bob.ok(&["sync", "s", "--timeout", "10s"]);
    assert!(synced.contains("synced"), "{synced}");
    stop(online);

    for device in [&p.alice, &p.bob] {
        let items = device.ok(&["get", "s"]);
        assert!(items.contains("milk qty=2"), "{items}");
        assert!(items.contains("eggs qty=12"), "{items}");
    }
    let members = p.alice.ok(&["members", "s"]);
    assert!(members.contains("editor"), "bob is an editor: {members}");
}

#[test]
fn three_wrong_pins_burn_the_invitation_and_join_says_so() {
    let dir = Dir::new();
    let (_server, addr) = signal_server();
    let alice = Device::new(&dir.0, "alice", &addr);
    let carol = Device::new(&dir.0, "carol", &addr);
    alice.ok(&["space", "create", "--name", "s"]);
    let (mut inviting, code, pin) = invite(&alice, "s", &[]);
    let wrong = if pin == "000000" { "111111" } else { "000000" };

    let first = carol.fails(&["join", &code, "--pin", wrong, "--timeout", "10s"]);
    assert!(first.contains("wrong PIN (2 attempts left)"), "{first}");
    let second = carol.fails(&["join", &code, "--pin", wrong, "--timeout", "10s"]);
    assert!(second.contains("wrong PIN (1 attempts left)"), "{second}");
    let third = carol.fails(&["join", &code, "--pin", wrong, "--timeout", "10s"]);
    assert!(third.contains("burned"), "{third}");

    assert!(!inviting.wait().success(), "a burned invitation is a failure for the host");
    // Even the right PIN no longer helps: nobody hosts the invitation any more.
    let late = carol.fails(&["join", &code, "--pin", &pin, "--timeout", "2s"]);
    assert!(late.contains("host unreachable") || late.contains("burned"), "{late}");
    assert!(carol.ok(&["spaces"]).contains("no spaces"));
}

#[test]
fn a_removed_member_can_neither_sync_new_data_nor_rejoin_with_the_old_code() {
    let p = pair();
    let bob_key = identity_of(&p.bob, "s");
    p.alice.ok(&["remove", "s", &bob_key]);
    p.alice.ok(&["put", "s", "secret", "plan=b"]);

    let online = up(&p.alice);
    let refused = p.bob.fails(&["sync", "s", "--timeout", "2s"]);
    assert!(refused.contains("did not sync"), "{refused}");
    let rejoin = p.bob.fails(&["join", &p.code, "--pin", &p.pin, "--timeout", "2s"]);
    assert!(rejoin.contains("error:") && rejoin.contains("hint:"), "one reason and a hint: {rejoin}");
    stop(online);

    assert!(!p.bob.ok(&["get", "s"]).contains("secret"), "bob never received the new item");
    assert!(p.alice.ok(&["members", "s"]).contains("removed"));
}

#[test]
fn a_node_killed_during_sync_restarts_with_nothing_acknowledged_lost() {
    let p = pair();
    for i in 0..20 {
        p.bob.ok(&["put", "s", &format!("item{i}"), &format!("n={i}")]);
    }
    let online = up(&p.alice);
    // Killed with SIGKILL while replicating: no chance to flush or close anything.
    let mut syncing = p.bob.spawn(&["sync", "s", "--timeout", "10s"]);
    std::thread::sleep(Duration::from_millis(150));
    syncing.signal("-KILL");
    let _ = syncing.wait();

    // Every put that returned is still there, and the device works on.
    let items = p.bob.ok(&["get", "s"]);
    for i in 0..20 {
        assert!(items.contains(&format!("item{i} n={i}")), "item{i} lost: {items}");
    }
    p.bob.ok(&["put", "s", "after", "n=99"]);
    p.bob.ok(&["sync", "s", "--timeout", "10s"]);
    // Alice too: killed outright, restarted, holding what she had.
    let mut alice_online = online;
    alice_online.signal("-KILL");
    let _ = alice_online.wait();
    let theirs = p.alice.ok(&["get", "s"]);
    assert!(theirs.contains("after n=99"), "{theirs}");
    assert!(theirs.contains("item19 n=19"), "{theirs}");
}

#[test]
fn bad_input_is_one_line_and_a_hint_with_a_non_zero_exit() {
    let dir = Dir::new();
    let home = dir.0.join("nobody").display().to_string();
    let o = run(&["--home", &home, "spaces"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with("error: no device in"), "{err}");
    assert!(err.contains("hint: create this device first"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let alice = Device::new(&dir.0, "alice", "127.0.0.1:1");
    let bad = alice.fails(&["join", "spc1notacode", "--pin", "123456"]);
    assert!(bad.contains("bad invite code"), "{bad}");
    let down = alice.fails(&["up"]);
    assert!(down.contains("cannot reach the signaling server"), "{down}");

    // Scripts get one JSON object per line, errors included.
    let listed = alice.ok(&["--json", "space", "create", "--name", "s"]);
    let value: serde_json::Value = serde_json::from_str(listed.trim()).expect("one JSON object");
    assert_eq!(value["event"], "space_created");
    let missing = alice.fails(&["--json", "get", "nope"]);
    let first = missing.lines().next().unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(first).expect("a JSON error line");
    assert_eq!(value["event"], "error");
}

#[cfg(unix)]
#[test]
fn a_key_file_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    let alice = Device::new(&dir.0, "alice", "127.0.0.1:1");
    let db = Path::new(&alice.home).join("spaces.redb");
    assert_eq!(std::fs::metadata(&db).expect("store").permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&alice.home).expect("home").permissions().mode() & 0o777, 0o700);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let refused = alice.fails(&["spaces"]);
    assert!(refused.contains("mode 644") && refused.contains("chmod 600"), "{refused}");
}

/// A device invitation: the code and PIN `spaces device invite` printed, and the running host.
fn device_invite(host: &Device) -> (Running, String, String) {
    let inviting = host.spawn(&["device", "invite"]);
    let code = inviting.until("invite code:").rsplit(' ').next().expect("code").to_owned();
    let pin = inviting.line();
    assert_eq!(pin.len(), 6, "the PIN on its own line: {pin:?}");
    (inviting, code, pin)
}

#[test]
fn a_new_device_joins_its_identity_and_gets_its_spaces_and_items() {
    let p = pair();
    p.alice.ok(&["put", "s", "milk", "qty=2"]);
    let dir = Dir::new();
    let laptop = Device::new(&dir.0, "laptop", &p.alice.signal);

    let (mut inviting, code, pin) = device_invite(&p.alice);
    let linked = laptop.ok(&["device", "join", &code, "--pin", &pin, "--timeout", "10s"]);
    assert!(linked.contains("linked to identity") && linked.contains("holds 1 spaces"), "{linked}");
    assert!(inviting.wait().success(), "the device invitation ends linked");

    // The laptop is Alice: her space, her role, her items; what it writes reaches her phone.
    let alice_members = p.alice.ok(&["--json", "members", "s"]);
    let laptop_members = laptop.ok(&["--json", "members", &p.space]);
    let you = |m: &str| m.lines().find(|l| l.contains("\"you\":true")).map(str::to_owned);
    assert_eq!(you(&alice_members).is_some(), you(&laptop_members).is_some(), "{laptop_members}");
    assert!(laptop.ok(&["get", &p.space]).contains("milk qty=2"));
    laptop.ok(&["put", &p.space, "eggs", "qty=12"]);
    let online = up(&p.alice);
    laptop.ok(&["sync", &p.space, "--timeout", "10s"]);
    stop(online);
    assert!(p.alice.ok(&["get", "s"]).contains("eggs qty=12"));
}

#[test]
fn device_join_refuses_a_device_with_spaces_and_a_space_code() {
    let p = pair();
    let (_inviting, code, pin) = device_invite(&p.alice);
    let refused = p.bob.fails(&["device", "join", &code, "--pin", &pin, "--timeout", "5s"]);
    assert!(
        refused.contains("already holds spaces") && refused.contains("hint: run device join in a new home"),
        "{refused}"
    );
    let wrong_kind = p.bob.fails(&["join", &code, "--pin", &pin]);
    assert!(wrong_kind.contains("use spaces device join"), "{wrong_kind}");
    let dir = Dir::new();
    let fresh = Device::new(&dir.0, "fresh", &p.alice.signal);
    let wrong_kind = fresh.fails(&["device", "join", &p.code, "--pin", "123456"]);
    assert!(wrong_kind.contains("use spaces join"), "{wrong_kind}");
}

#[test]
fn a_delegated_invitation_admits_a_guest_while_its_creator_is_offline() {
    let p = pair();
    let bob_key = identity_of(&p.bob, "s");
    p.alice.ok(&["role", "s", &bob_key, "admin"]);
    let alice_online = up(&p.alice);
    p.bob.ok(&["sync", "s", "--timeout", "10s"]);
    stop(alice_online);

    // Bob's admin device is online; Alice hands it the invitation and goes offline.
    let bob_online = up(&p.bob);
    let handed = p.alice.ok(&["invite", "s", "--delegated", "--role", "editor"]);
    let lines: Vec<&str> = handed.lines().collect();
    let at = lines.iter().position(|l| l.starts_with("invite code:")).expect("a code line");
    let code = lines[at].rsplit(' ').next().expect("code").to_owned();
    let pin = lines[at + 1].to_owned();
    assert!(handed.contains("handed to the space's admin devices"), "{handed}");

    let dir = Dir::new();
    let carol = Device::new(&dir.0, "carol", &p.alice.signal);
    let joined = carol.ok(&["join", &code, "--pin", &pin, "--name", "s", "--timeout", "10s"]);
    assert!(joined.contains(&format!("joined space {}", p.space)), "{joined}");
    stop(bob_online);
    assert!(carol.ok(&["members", "s"]).contains("editor"), "carol joined as the code's role");
}
