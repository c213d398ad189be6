//! The invitation handshake (SPEC.md §7.3–7.5): frames, Noise XK with fixed ephemeral keys,
//! SPAKE2 with fixed scalars, and the key confirmation MACs.

use rand_core::{CryptoRng, RngCore};
use serde_json::{Value, json};
use spaces_protocol::Canonical;
use spaces_protocol::credential::{Assertion, Signer};
use spaces_protocol::invitation::handshake::{self, HandshakeHash, NOISE_PARAMS};
use spaces_protocol::invitation::pake::{self, Side};
use spaces_protocol::invitation::wire::{AdmissionRequest, Frame, FrameBody, Message};
use spaces_protocol::invitation::{InvitationCode, Pin, Refusal};
use spaces_protocol::keys::Keypair;
use spaces_protocol::keys::NoiseKeypair;
use spaces_protocol::{JoinRequest, Timestamp};

use super::{OpError, decode_error};
use crate::json::{array_of, hex, hex_list, opt, str_of, u64_of};

/// An RNG that returns the given bytes, then zeros: how a vector injects "randomness".
pub struct FixedRng {
    bytes: Vec<u8>,
    at: usize,
}

impl FixedRng {
    pub fn new(bytes: &[u8]) -> Self {
        FixedRng { bytes: bytes.to_vec(), at: 0 }
    }
}

impl RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            *d = self.bytes.get(self.at).copied().unwrap_or(0);
            self.at += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Only ever fed fixed vector bytes; never used for real keys.
impl CryptoRng for FixedRng {}

fn pin_of(input: &Value, key: &str) -> Result<Pin, OpError> {
    Pin::parse(str_of(input, key)?).map_err(|_| OpError::bad_args(format!("`{key}` is not a 6-digit PIN")))
}

fn run_of(input: &Value) -> Result<u8, OpError> {
    u8::try_from(u64_of(input, "run")?).map_err(|_| OpError::bad_args("`run` must fit a byte"))
}

struct PakeRun {
    guest_message: Vec<u8>,
    host_message: Vec<u8>,
    guest_key: [u8; 32],
    host_key: [u8; 32],
    mac_guest: [u8; 32],
    mac_host: [u8; 32],
    host_accepts: bool,
}

/// Runs SPAKE2 both ways: the guest with `guest_pin` and scalar `x`, the host with `pin` and
/// scalar `y` (each 32 bytes little-endian, drawn as `x || 00…00` per §7.5.4).
fn pake_both(h: &HandshakeHash, run: u8, pin: &Pin, guest_pin: &Pin, x: &[u8; 32], y: &[u8; 32]) -> PakeRun {
    let (g, guest_message) = pake::start_guest(guest_pin, h, run, &mut FixedRng::new(x));
    let (hs, host_message) = pake::start_host(pin, h, run, &mut FixedRng::new(y));
    let kg = g.finish(&host_message).expect("honest host message");
    let kh = hs.finish(&guest_message).expect("honest guest message");
    let mac_guest = pake::confirmation(&kg, Side::Guest, h, run);
    PakeRun {
        host_accepts: pake::verify_confirmation(&kh, Side::Guest, h, run, &mac_guest),
        mac_host: pake::confirmation(&kh, Side::Host, h, run),
        guest_key: *kg.as_bytes(),
        host_key: *kh.as_bytes(),
        mac_guest,
        guest_message,
        host_message,
    }
}

fn pake_json(p: &PakeRun) -> Value {
    json!({
        "guestMessage": hex(&p.guest_message),
        "hostMessage": hex(&p.host_message),
        "guestKey": hex(p.guest_key),
        "hostKey": hex(p.host_key),
        "macGuest": hex(p.mac_guest),
        "macHost": hex(p.mac_host),
        "hostAcceptsGuest": p.host_accepts,
    })
}

/// SPAKE2 and confirmation alone, over a given handshake hash (§7.5.4).
pub fn pake_run(input: &Value) -> Result<Value, OpError> {
    let h = array_of::<32>(input, "h")?;
    let pin = pin_of(input, "pin")?;
    let guest_pin = if opt(input, "guestPin").is_some() { pin_of(input, "guestPin")? } else { pin.clone() };
    let run = run_of(input)?;
    let p = pake_both(&h, run, &pin, &guest_pin, &array_of(input, "x")?, &array_of(input, "y")?);
    Ok(pake_json(&p))
}

type States = (snow::HandshakeState, snow::HandshakeState, [Vec<u8>; 3]);

/// Runs Noise XK between a guest holding `guest_code` and a host holding `host_code`, with
/// fixed ephemeral keys: both finished states and the three messages.
fn handshake_both(
    guest_code: &InvitationCode,
    host_code: &InvitationCode,
    guest_static: &NoiseKeypair,
    host_static: &NoiseKeypair,
    guest_e: &[u8; 32],
    host_e: &[u8; 32],
) -> Result<States, OpError> {
    let (guest_prologue, prologue) = (guest_code.prologue(), host_code.prologue());
    let (gs, hs) = (guest_static.secret_bytes(), host_static.secret_bytes());
    let mut guest = handshake::builder_for(NOISE_PARAMS, &mut FixedRng::new(&[]))
        .prologue(&guest_prologue)
        .and_then(|b| b.local_private_key(&gs))
        .and_then(|b| b.remote_public_key(&guest_code.host.0))
        .map(|b| b.fixed_ephemeral_key_for_testing_only(guest_e))
        .and_then(|b| b.build_initiator())
        .map_err(noise_err)?;
    let mut host = handshake::builder_for(NOISE_PARAMS, &mut FixedRng::new(&[]))
        .prologue(&prologue)
        .and_then(|b| b.local_private_key(&hs))
        .map(|b| b.fixed_ephemeral_key_for_testing_only(host_e))
        .and_then(|b| b.build_responder())
        .map_err(noise_err)?;
    let msg1 = handshake::write(&mut guest).map_err(noise_err)?;
    handshake::read(&mut host, &msg1).map_err(noise_err)?;
    let msg2 = handshake::write(&mut host).map_err(noise_err)?;
    handshake::read(&mut guest, &msg2).map_err(noise_err)?;
    let msg3 = handshake::write(&mut guest).map_err(noise_err)?;
    handshake::read(&mut host, &msg3).map_err(noise_err)?;
    let h = handshake::handshake_hash(&guest);
    assert_eq!(h, handshake::handshake_hash(&host), "both sides hash the same transcript");
    Ok((guest, host, [msg1, msg2, msg3]))
}

fn frame(body: FrameBody) -> Vec<u8> {
    Frame::new(body).to_bytes()
}

fn noise_err(e: snow::Error) -> OpError {
    OpError::new("handshake", e.to_string())
}

fn sealed(transport: &mut snow::TransportState, m: &Message) -> Result<Vec<u8>, OpError> {
    let chunks = handshake::seal(transport, &m.to_bytes()).map_err(noise_err)?;
    Ok(frame(FrameBody::Sealed { chunks }))
}

/// The whole handshake with fixed keys: every frame up to the guest's Confirm, the handshake hash,
/// the PAKE messages and both MACs, and the host's sealed verdict on the guest's MAC.
pub fn transcript(input: &Value) -> Result<Value, OpError> {
    let code = InvitationCode::decode(str_of(input, "code")?).map_err(|e| OpError::new("code", e.to_string()))?;
    let host_static = NoiseKeypair::from_secret_bytes(array_of(input, "hostStatic")?);
    let guest_static = NoiseKeypair::from_secret_bytes(array_of(input, "guestStatic")?);
    if host_static.public() != code.host {
        return Err(OpError::bad_args("hostStatic is not the key the code pins"));
    }
    let (host_e, guest_e) = (array_of::<32>(input, "hostEphemeral")?, array_of::<32>(input, "guestEphemeral")?);
    // The guest may hold another code than the host (a relay altered it): `guestCode`.
    let guest_code = match opt(input, "guestCode").and_then(Value::as_str) {
        Some(text) => InvitationCode::decode(text).map_err(|e| OpError::new("code", e.to_string()))?,
        None => code,
    };
    let (guest, host, noise) = handshake_both(&guest_code, &code, &guest_static, &host_static, &guest_e, &host_e)?;
    let [msg1, msg2, msg3] = noise;
    let h = handshake::handshake_hash(&guest);
    let mut guest_t = guest.into_transport_mode().map_err(noise_err)?;
    let mut host_t = host.into_transport_mode().map_err(noise_err)?;

    let run = run_of(input)?;
    let pin = pin_of(input, "pin")?;
    let guest_pin = if opt(input, "guestPin").is_some() { pin_of(input, "guestPin")? } else { pin.clone() };
    let p = pake_both(&h, run, &pin, &guest_pin, &array_of(input, "x")?, &array_of(input, "y")?);
    let pake_start = sealed(&mut guest_t, &Message::PakeStart { run, pake: p.guest_message.clone() })?;
    let pake_reply = sealed(&mut host_t, &Message::PakeReply { run, pake: p.host_message.clone() })?;
    let request = join_request(input, &guest_static, &h)?;
    let confirm = sealed(&mut guest_t, &Message::Confirm { run, mac: p.mac_guest, request: request.clone() })?;
    host_reads(&mut host_t, &[&pake_start, &confirm], &h, &guest_static)?;
    let verdict = match p.host_accepts {
        true => None,
        false => Some(sealed(&mut host_t, &Message::Refused { refusal: Refusal::WrongPin, attempts_left: 2 })?),
    };
    let frames = [
        frame(FrameBody::Hello { topic: code.topic(), noise: msg1.clone() }),
        frame(FrameBody::Handshake { noise: msg2.clone() }),
        frame(FrameBody::Handshake { noise: msg3.clone() }),
        pake_start,
        pake_reply,
        confirm,
    ];
    Ok(json!({
        "prologue": hex(code.prologue()),
        "hostStaticPublic": hex(host_static.public().0),
        "guestStaticPublic": hex(guest_static.public().0),
        "noiseMessages": hex_list([&msg1, &msg2, &msg3]),
        "handshakeHash": hex(h),
        "frames": hex_list(frames.iter()),
        "pake": pake_json(&p),
        "request": hex(postcard_bytes(&request)),
        "refusedFrame": verdict.map(hex),
    }))
}

/// The host's side of the exchange: opens the guest's sealed frames in order and checks the
/// admission request against the handshake (so every published frame is one a host accepts).
fn host_reads(
    host: &mut snow::TransportState,
    frames: &[&[u8]],
    h: &HandshakeHash,
    guest: &NoiseKeypair,
) -> Result<(), OpError> {
    for bytes in frames {
        let frame = Frame::from_bytes(bytes).map_err(decode_error)?;
        let FrameBody::Sealed { chunks } = frame.body else {
            return Err(OpError::new("frame", "expected a sealed frame"));
        };
        let plain = handshake::open(host, &chunks).map_err(noise_err)?;
        if let Message::Confirm { request, .. } = Message::from_bytes(&plain).map_err(decode_error)? {
            request.verify(h, &guest.public()).map_err(|e| OpError::new("request", format!("{e:?}")))?;
        }
    }
    Ok(())
}

fn postcard_bytes(r: &AdmissionRequest) -> Vec<u8> {
    // A request is encoded as part of `Confirm`; its own encoding is that message's tail.
    let whole = Message::Confirm { run: 0, mac: [0; 32], request: r.clone() }.to_bytes();
    whole[1 + 1 + 32..].to_vec()
}

/// The guest's SPACE admission request, from seeds: its identity and device keys, fresh
/// control and data feed keys, and the `AuthorizedDevice` the identity signed for the device
/// and the guest's Noise key, at `issuedAt`. Signed by the device over the handshake hash.
fn join_request(input: &Value, noise: &NoiseKeypair, h: &HandshakeHash) -> Result<AdmissionRequest, OpError> {
    let identity = Keypair::from_secret_bytes(array_of(input, "guestIdentitySeed")?);
    let device = Keypair::from_secret_bytes(array_of(input, "guestDeviceSeed")?);
    let control = Keypair::from_secret_bytes(array_of(input, "controlFeedSeed")?);
    let data = Keypair::from_secret_bytes(array_of(input, "dataFeedSeed")?);
    let issued_at = Timestamp::from_millis(u64_of(input, "issuedAt")?);
    let assertion =
        Assertion::AuthorizedDevice { identity: identity.public(), device: device.public(), noise_key: noise.public() };
    let device_credential = Signer::direct(&identity).issue(device.public(), assertion, issued_at, vec![]);
    let join = JoinRequest {
        identity: identity.public(),
        device: device.public(),
        control_feed: control.public(),
        data_feed: data.public(),
        device_credential,
    };
    Ok(AdmissionRequest::space(join, &device, h))
}

fn refusal_name(r: Refusal) -> String {
    let debug = format!("{r:?}");
    let mut chars = debug.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

pub fn refusal_json(r: Refusal) -> Value {
    Value::String(refusal_name(r))
}

/// Strict decoding of an invitation `Frame` (§7.3.1).
pub fn decode_frame(input: &Value) -> Result<Value, OpError> {
    let f = Frame::from_bytes(&crate::json::bytes_of(input, "bytes")?).map_err(decode_error)?;
    Ok(match f.body {
        FrameBody::Hello { topic, noise } => json!({ "type": "hello", "topic": hex(topic.0), "noise": hex(noise) }),
        FrameBody::Handshake { noise } => json!({ "type": "handshake", "noise": hex(noise) }),
        FrameBody::Sealed { chunks } => json!({ "type": "sealed", "chunks": hex_list(chunks) }),
        FrameBody::Reject { refusal } => json!({ "type": "reject", "refusal": refusal_json(refusal) }),
    })
}

/// How a delegated invitation's attempt budget is split over its hosts (SPEC §7.8.1 step 2):
/// the parts add up to the budget, so a guesser moving between hosts gets no more.
pub fn delegation_shares(input: &Value) -> Result<Value, OpError> {
    let total = u8::try_from(u64_of(input, "total")?).map_err(|_| OpError::new("bad_args", "total is a u8"))?;
    let hosts = usize::try_from(u64_of(input, "hosts")?).map_err(|_| OpError::new("bad_args", "hosts"))?;
    Ok(json!({ "shares": spaces_protocol::invitation::delegation::shares(total, hosts) }))
}
