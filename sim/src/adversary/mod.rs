//! The adversaries. None of them knows a PIN or holds a key it was not given; each tries
//! what it can, and the oracle judges whether anything it did got through.
//!
//! - The on-path network attacker observes every byte, and drops, duplicates, tampers with,
//!   replays and reorders frames inside connections between honest devices.
//! - The PIN guesser receives leaked codes (never their PINs) and guesses, reconnecting
//!   again and again to stretch the attempt budget. Its device is also where redirected
//!   connections land.
//! - The code-substituting relay rewrites the role in a code on its way to the guest and
//!   makes the guest's connection reach the real host anyway.
//! - The lying signaling server drops, duplicates, delays and redirects what it tells peers.
//! - The insider, an admitted member, forges credentials, promotes itself, writes as a
//!   reader and goes on writing after its removal.
//! - The flooder sends malformed, non-canonical and oversized frames to peers and server.
//! - The signaling flooder (`signal_flood`) opens many connections from a few sources and
//!   fills the server's topic table; honest joins on new topics must still succeed.
//! - The shape-maker (`shapes`), the insider while a member, issues credentials in the
//!   DAG shapes that cost replicas more than linear work or memory before issue 11.
//! - The persistent insider (`persistent_insider`) goes on appending to its feeds as fast as
//!   it can once every member knows of its removal.
//! - The forking insider (`fork`) comes back from an old copy of its disk and writes again at
//!   positions it had published: its feeds fork.

pub mod persistent_insider;

use rand_core::RngCore;
use spaces_protocol::credential::{Assertion, Signer};
use spaces_protocol::hash::Digest;
use spaces_protocol::invitation::guest::GuestEvent;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Kind as InvitationKind, Pin, State};
use spaces_protocol::peer::{Command, Event, Input, PeerBody, PeerFrame};
use spaces_protocol::signal::PeerInfo;
use spaces_protocol::signal::wire::{ClientFrame, ClientMessage, ServerFrame, ServerMessage};
use spaces_protocol::swarm::SwarmSession;
use spaces_protocol::{Canonical, Keypair, PublicKey, Role, Timestamp};

use crate::net::Delivery;
use crate::world::{Ev, Kind, Mark, Phase, World, addr_of};

pub mod confirm_drop;
pub mod fork;
pub mod late_guess;
pub mod rejoin;
pub mod shapes;
pub mod signal_flood;
pub mod summary_flood;

/// Sessions the guesser opens per leaked code: enough to exceed any per-connection budget.
pub(crate) const GUESS_ROUNDS_MAX: u32 = 4;
/// Frames the network attacker remembers for replays.
const REPLAY_POOL_MAX: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attack {
    Flood,
    /// The signaling flooder's first wave, then each of its keep-alive ticks.
    SignalFlood,
}

#[derive(Default)]
pub struct Adversary {
    replay_pool: Vec<Vec<u8>>,
    /// Forged topic -> real topic, for the relay that rewrites codes.
    forged: Vec<(Digest, Digest)>,
    /// Guess rounds per leaked code id.
    rounds: Vec<([u8; 16], u32)>,
    flood_conn: u64,
    confirms: confirm_drop::Tracker,
    pub persistent: persistent_insider::Persistent,
    pub flood: signal_flood::Flood,
    pub shapes: shapes::Shapes,
    pub forker: fork::Forker,
}

pub(crate) fn roll(w: &mut World, n: u64) -> u64 {
    if n == 0 { 0 } else { w.rng_adv.next_u64() % n }
}

pub(crate) fn chance(w: &mut World, ppm: u32) -> bool {
    ppm > 0 && w.phase == Phase::Safety && roll(w, 1_000_000) < u64::from(ppm)
}

pub(crate) fn adversary_node(w: &World) -> Option<usize> {
    w.nodes.iter().position(|n| n.kind == Kind::Adversary)
}

fn flooder_node(w: &World) -> Option<usize> {
    w.nodes.iter().position(|n| n.kind == Kind::Flooder)
}

pub fn start(w: &mut World) {
    signal_flood::start(w);
    let rate = w.cfg.adversaries.flood_per_min;
    if rate == 0 || flooder_node(w).is_none() {
        return;
    }
    let mut t = w.now;
    loop {
        t += 1 + roll(w, 2 * 60_000 / u64::from(rate));
        if t >= w.heal_at {
            break;
        }
        w.at(t, Ev::Attack(Attack::Flood));
    }
}

/// Everything on the wire passes the adversary's eyes: the secrecy oracle looks too.
pub fn observe(w: &mut World, bytes: &[u8]) {
    crate::oracle::observed(w, bytes);
}

/// What the signaling server really sends for one of its messages: `(extra delay, bytes)`.
pub fn signal_lies(w: &mut World, bytes: Vec<u8>) -> Vec<(u64, Vec<u8>)> {
    let ppm = w.cfg.adversaries.signal_ppm;
    if !chance(w, ppm.saturating_mul(4)) {
        return vec![(0, bytes)];
    }
    match roll(w, 4) {
        0 => {
            w.stats.attack("signal-drop");
            vec![]
        }
        1 => {
            w.stats.attack("signal-duplicate");
            vec![(0, bytes.clone()), (roll(w, 2_000), bytes)]
        }
        2 => {
            w.stats.attack("signal-delay");
            vec![(roll(w, 5_000), bytes)]
        }
        _ => redirect(w, bytes),
    }
}

/// Rewrites the addresses the server announces to the adversary's device.
fn redirect(w: &mut World, bytes: Vec<u8>) -> Vec<(u64, Vec<u8>)> {
    let Some(adv) = adversary_node(w) else { return vec![(0, bytes)] };
    let Ok(mut frame) = ServerFrame::from_bytes(&bytes) else { return vec![(0, bytes)] };
    let to_adv = |info: &mut PeerInfo| info.addr = addr_of(adv);
    match &mut frame.message {
        ServerMessage::PeerJoined { info, .. } => to_adv(info),
        ServerMessage::Joined { peers, .. } if !peers.is_empty() => peers.iter_mut().for_each(to_adv),
        _ => return vec![(0, bytes)],
    }
    w.stats.attack("signal-redirect");
    vec![(0, frame.to_bytes())]
}

/// The on-path attacker's hand on one frame from `a` to `b`.
pub fn on_path(w: &mut World, a: usize, b: usize, mut bytes: Vec<u8>) -> Vec<Delivery> {
    rewrite_topics(w, &mut bytes);
    let both_honest = w.nodes[a].is_honest() && w.nodes[b].is_honest();
    let ppm = w.cfg.adversaries.network_ppm;
    if w.adversary.replay_pool.len() < REPLAY_POOL_MAX {
        w.adversary.replay_pool.push(bytes.clone());
    } else {
        let k = roll(w, REPLAY_POOL_MAX as u64) as usize;
        w.adversary.replay_pool[k] = bytes.clone();
    }
    if !both_honest || !chance(w, ppm) {
        return vec![(0, bytes, Mark::Clean)];
    }
    match roll(w, 5) {
        0 => {
            w.stats.attack("net-drop");
            vec![]
        }
        1 => {
            w.stats.attack("net-duplicate");
            vec![(0, bytes.clone(), Mark::Clean), (1, bytes, Mark::Attacked)]
        }
        2 => {
            w.stats.attack("net-tamper");
            let at = roll(w, bytes.len() as u64) as usize;
            bytes[at] ^= 1 << roll(w, 8);
            vec![(0, bytes, Mark::Attacked)]
        }
        3 => {
            w.stats.attack("net-replay");
            let k = roll(w, w.adversary.replay_pool.len() as u64) as usize;
            let old = w.adversary.replay_pool[k].clone();
            vec![(0, old, Mark::Attacked), (0, bytes, Mark::Clean)]
        }
        _ => {
            // Reordering inside a stream: this frame is held back behind the next ones.
            w.stats.attack("net-reorder");
            let hold = 50 + roll(w, 2_000);
            vec![(hold, bytes, Mark::Attacked)]
        }
    }
}

/// The relay's second half: Hellos naming a forged topic are rewritten to the real one.
fn rewrite_topics(w: &mut World, bytes: &mut [u8]) {
    for (forged, real) in &w.adversary.forged {
        if let Some(at) = bytes.windows(32).position(|x| x == forged.0) {
            bytes[at..at + 32].copy_from_slice(&real.0);
        }
    }
}

/// The side channel carrying a code to its guest: sometimes through the relay, which
/// rewrites the role and makes sure the guest still finds the real host.
pub fn side_channel(w: &mut World, code: InvitationCode) -> InvitationCode {
    if code.kind != InvitationKind::Space || !chance(w, w.cfg.adversaries.mitm_ppm) {
        return code;
    }
    let role = match code.role {
        Some(Role::Admin) => Role::Reader,
        _ => Role::Admin,
    };
    let forged = InvitationCode { role: Some(role), ..code };
    w.stats.attack("relay-role-rewrite");
    w.adversary.forged.push((forged.topic(), code.topic()));
    // Announce the real host on the forged topic, so the guest dials it.
    if let Some(host) = w.work.offers.iter().rev().find(|o| o.issued.id == code.id).map(|o| o.host) {
        let client = w.open_signal_client(None, crate::world::ADVERSARY_SOURCE);
        let mut fake = [0u8; 32];
        w.rng_adv.fill_bytes(&mut fake);
        let info = PeerInfo { peer: PublicKey(fake), addr: addr_of(host) };
        let join = ClientFrame::new(ClientMessage::Join { topic: forged.topic(), info }).to_bytes();
        w.after(1, Ev::ToServer { client, bytes: join });
    } else {
        let client = w.open_signal_client(None, crate::world::ADVERSARY_SOURCE);
        let _ = client;
    }
    forged
}

/// A code (never its PIN) leaks to the guesser.
pub fn leak(w: &mut World, code: InvitationCode) {
    let Some(adv) = adversary_node(w) else { return };
    if code.auth == AuthMethod::None || !chance(w, w.cfg.adversaries.leak_ppm) {
        return; // a NONE code is its own secret: whoever holds it may join
    }
    w.stats.attack("code-leak");
    w.oracle.success.leaked.insert(code.id);
    w.adversary.rounds.push((code.id, 1));
    let delay = 100 + roll(w, 3_000);
    w.after(delay, Ev::Command { node: adv, command: Command::AcceptInvitation { code } });
}

/// The guesser reacts to its own device.
pub fn event(w: &mut World, adv: usize, e: &Event) {
    let Event::Joining { id, event } = e else { return };
    match event {
        GuestEvent::State(State::ReadyForAuthentication) | GuestEvent::WrongPin { .. } => {
            let pin = guess(w, id);
            w.stats.attack("pin-guess");
            let delay = 50 + roll(w, 500);
            w.after(delay, Ev::Command { node: adv, command: Command::Authenticate { id: *id, pin } });
        }
        GuestEvent::Admitted(_) => {}
        GuestEvent::Failed(_) | GuestEvent::State(_) => {
            let terminal = matches!(event, GuestEvent::Failed(_));
            let Some(k) = w.adversary.rounds.iter().position(|(i, _)| i == id) else { return };
            if terminal && w.adversary.rounds[k].1 < GUESS_ROUNDS_MAX && w.phase == Phase::Safety {
                w.adversary.rounds[k].1 += 1;
                let code = w.work.offers.iter().find(|o| o.issued.id == *id).map(|o| o.issued);
                if let Some(code) = code {
                    let delay = 200 + roll(w, 3_000);
                    w.after(delay, Ev::Command { node: adv, command: Command::AcceptInvitation { code } });
                }
            }
        }
    }
}

/// A random PIN other than the right one: the adversary never knows it.
fn guess(w: &mut World, id: &[u8; 16]) -> Pin {
    let right = w.work.offers.iter().find(|o| o.issued.id == *id).and_then(|o| o.pin.clone());
    let n = roll(w, 1_000_000);
    let pin = Pin::parse(&format!("{n:06}")).expect("six digits");
    match right {
        Some(r) if r.reveal() == pin.reveal() => crate::workload::wrong_pin(&r),
        _ => pin,
    }
}

/// The flooder has no protocol state: whatever comes back is ignored.
pub fn flooder_input(_w: &mut World, _i: usize, _input: Input<'_>) {}

pub fn attack(w: &mut World, a: Attack) {
    match a {
        Attack::Flood => flood(w),
        Attack::SignalFlood => signal_flood::tick(w),
    }
}

/// One malformed frame at a random honest device, or junk at the signaling server.
fn flood(w: &mut World) {
    if w.phase != Phase::Safety {
        return;
    }
    let Some(f) = flooder_node(w) else { return };
    let targets: Vec<usize> = w.honest().filter(|i| w.nodes[*i].up).collect();
    if targets.is_empty() {
        return;
    }
    let target = targets[roll(w, targets.len() as u64) as usize];
    let kind = roll(w, 4);
    let bytes = match kind {
        0 => non_canonical_hello(w),
        1 => {
            let mut junk = vec![0u8; 1 + roll(w, 300) as usize];
            w.rng_adv.fill_bytes(&mut junk);
            junk
        }
        2 => vec![1u8; PeerFrame::ENCODED_SIZE_MAX + 1 + roll(w, 100) as usize],
        _ => {
            w.stats.attack("flood-signal");
            let client = w.open_signal_client(None, crate::world::ADVERSARY_SOURCE);
            let mut junk = vec![0u8; 1 + roll(w, 600) as usize];
            w.rng_adv.fill_bytes(&mut junk);
            w.after(1, Ev::ToServer { client, bytes: junk });
            return;
        }
    };
    w.stats.attack(["flood-non-canonical", "flood-garbage", "flood-oversize"][kind as usize]);
    w.adversary.flood_conn += 1;
    let conn = w.adversary.flood_conn;
    let lat = w.net.latency(&w.cfg.faults);
    let remote = w.net.open(f, conn, target, w.now + lat);
    w.after(lat, Ev::Accepted { node: target, conn: remote });
    w.after(lat, Ev::Frame { node: target, conn: remote, bytes, mark: Mark::Malformed });
}

/// A genuine first swarm handshake message in a frame whose enum tag is a non-minimal
/// varint: postcard reads it fine, SPEC §2.3 says reject.
fn non_canonical_hello(w: &mut World) -> Vec<u8> {
    let key = spaces_protocol::keys::NoiseKeypair::generate(&mut w.rng_adv);
    let (_, first) = SwarmSession::initiate(&key, &mut w.rng_adv).expect("a fresh key initiates");
    let canonical = PeerFrame { version: 1, body: PeerBody::Swarm(first) }.to_bytes();
    debug_assert_eq!(canonical[1], 1, "Swarm is variant 1");
    let mut bytes = vec![canonical[0], 0x81, 0x00];
    bytes.extend_from_slice(&canonical[2..]);
    bytes
}

/// The insider misbehaves once: forges, promotes itself, or writes as a reader.
pub fn insider_act(w: &mut World, i: usize) {
    let Some(peer) = w.nodes[i].peer.as_ref() else { return };
    let me = peer.client().identity_key();
    let spaces: Vec<PublicKey> = peer.client().spaces().iter().map(|s| s.key).collect();
    if spaces.is_empty() {
        return;
    }
    let space = spaces[roll(w, spaces.len() as u64) as usize];
    let now = w.local(i, w.now);
    if fork::act(w, i) {
        return;
    }
    if w.cfg.adversaries.shapes && roll(w, 2) == 0 {
        return shapes::burst(w, i, space);
    }
    match roll(w, 3) {
        0 => {
            w.stats.attack("insider-self-promotion");
            let command = Command::SetRole { space, member: me, role: Role::Admin };
            w.after(0, Ev::Command { node: i, command });
        }
        1 => forge(w, i, space, me, now),
        _ => {
            w.stats.attack("insider-raw-write");
            let ops = crate::workload::ops_for(w, i, space);
            let Some(peer) = w.nodes[i].peer.as_mut() else { return };
            if let Ok(payload) = peer.client().mutation_raw(&space, ops) {
                let _ = peer.client_mut().append_raw(&space, false, payload);
            }
        }
    }
}

/// A credential naming the space's owner as issuer, signed by the insider's own key.
fn forge(w: &mut World, i: usize, space: PublicKey, me: PublicKey, now: Timestamp) {
    let owner = w.work.spaces.iter().find(|(s, _)| *s == space).map(|(_, o)| *o);
    let owner_key = owner.and_then(|o| w.nodes[o].peer.as_ref()).map(|p| p.client().identity_key());
    let Some(owner_key) = owner_key else { return };
    w.stats.attack("insider-forged-credential");
    let Some(peer) = w.nodes[i].peer.as_mut() else { return };
    let Some(heads) = peer.client().space(&space).map(|s| s.membership().next_parents()) else { return };
    let key: Keypair = peer.client().device_keypair().clone();
    let assertion = Assertion::SpaceMember { space, role: Role::Admin, invitation: None, data_frontier: vec![] };
    let mut credential = Signer::direct(&key).issue(me, assertion, now, heads);
    credential.body.issuer = owner_key;
    credential.body.signer = owner_key;
    let _ = peer.client_mut().append_raw(&space, true, credential.to_bytes());
}
