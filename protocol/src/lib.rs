//! # spaces-protocol
//!
//! The sans-IO core of *spaces*: identities and devices, credentials, space membership,
//! feeds and items, as pure state machines. Nothing here reads a clock, draws OS
//! randomness, or touches a socket or a file: the caller passes `now: Timestamp` and an
//! `RngCore + CryptoRng`, and gets data back. `clippy.toml` in this crate makes a violation a
//! build failure.
//!
//! ```
//! use rand_core::SeedableRng;
//! use spaces_protocol::{Client, Role, Timestamp, item::Value};
//!
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
//! let now = Timestamp::from_millis(1_700_000_000_000);
//! let mut alice = Client::create_identity(&mut rng, now);
//! let space = alice.create_space(&mut rng, now);
//! alice.create_item(&mut rng, &space, "task", vec![("title".into(), Value::Text("write spec".into()))]).unwrap();
//! assert_eq!(alice.members(&space).unwrap()[0].role, Role::Owner);
//! assert_eq!(alice.items(&space).unwrap().len(), 1);
//! ```
//!
//! A device runs one [`peer::Peer`], and its driver is one loop: every input carries `now`
//! (a user's command goes through `Peer::command`, which answers at once with a `Result`);
//! drain `poll_output` after each (it ends with one `Timeout`); append each `Persist` to the
//! device's log and, once flushed, report it `Durable`: the Peer holds back whatever follows a
//! `Persist` until then, so nothing it says is lost in a crash (SPEC.md §9.5).
//!
//! ```
//! use rand_core::SeedableRng;
//! use spaces_protocol::peer::{Input, Output, Peer, Record};
//! use spaces_protocol::signal::client::ClientInput;
//! use spaces_protocol::{Client, Timestamp};
//!
//! /// One turn of the loop; returns when to deliver `Input::Timeout`.
//! fn drive(peer: &mut Peer, disk: &mut Vec<Record>, input: Input<'_>, now: Timestamp) -> Timestamp {
//!     peer.handle_input(input, now);
//!     loop {
//!         let (mut flushed, mut wake) = (None, now);
//!         while let Some(out) = peer.poll_output() {
//!             match out {
//!                 Output::Persist { seq, records } => {
//!                     disk.extend(records); // a real disk appends, then flushes (group commit)
//!                     flushed = Some(seq);
//!                 }
//!                 Output::SignalTransmit { .. } => {} // to the signaling server
//!                 Output::Connect { .. } => {}        // dial; report Connected or ConnectFailed
//!                 Output::Transmit { .. } => {}       // send on the connection
//!                 Output::Close { .. } => {}
//!                 Output::Event(_) => {} // tell the user
//!                 Output::Timeout(at) => wake = at,
//!             }
//!         }
//!         match flushed {
//!             Some(seq) => peer.handle_input(Input::Durable { seq }, now),
//!             None => return wake,
//!         }
//!     }
//! }
//!
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
//! let now = Timestamp::from_millis(1_700_000_000_000);
//! let client = Client::create_identity(&mut rng, now);
//! let mut peer = Peer::new(client, b"tcp://192.0.2.1:4000".to_vec(), now, &mut rng);
//! let mut disk = Vec::new();
//! let wake = drive(&mut peer, &mut disk, Input::Signal(ClientInput::Connected), now);
//! assert!(wake > now && matches!(disk[0], Record::Snapshot(_)), "the keys are on disk first");
//! // After a crash, the device is what its disk holds.
//! let again = Peer::restore(disk, b"tcp://192.0.2.1:4000".to_vec(), now, &mut rng).unwrap();
//! assert_eq!(again.client().identity_key(), peer.client().identity_key());
//! ```
//!
//! The protocol is specified in `SPEC.md`; the code map is `ARCHITECTURE.md`.
//!
//! The simulator plays a malicious member through four hooks that exist only in its own build
//! of these sources (`sim/insider`, whose `adversary` feature this crate does not have), so no
//! node, driver or benchmark is ever compiled with them. Each is absent here:
//!
//! ```compile_fail,E0599
//! fn tamper(peer: &mut spaces_protocol::peer::Peer) { let _ = peer.client_mut(); }
//! ```
//! ```compile_fail,E0599
//! use spaces_protocol::{PublicKey, Timestamp, swarm::SwarmMessage};
//! fn flood(peer: &mut spaces_protocol::peer::Peer, space: PublicKey, now: Timestamp) {
//!     peer.send_swarm(1, &SwarmMessage::Have { space, feeds: Vec::new() }, now);
//! }
//! ```
//! ```compile_fail,E0599
//! fn forge(c: &mut spaces_protocol::Client, space: &spaces_protocol::PublicKey) {
//!     let _ = c.append_raw(space, true, Vec::new());
//! }
//! ```
//! ```compile_fail,E0599
//! fn write(c: &spaces_protocol::Client, space: &spaces_protocol::PublicKey) {
//!     let _ = c.mutation_raw(space, Vec::new());
//! }
//! ```

pub mod causal;
pub mod client;
pub mod codec;
pub mod credential;
pub mod feed;
pub mod fixture;
pub mod hash;
pub mod identity;
pub mod invitation;
pub mod item;
pub mod keys;
pub mod membership;
pub mod mutants;
pub mod peer;
pub mod proof;
pub mod replication;
pub mod signal;
pub mod space;
pub mod swarm;
pub mod testing;
pub mod time;

pub use client::{Client, ClientError, JoinRequest};
pub use codec::{Canonical, DecodeError};
pub use credential::{Assertion, Credential, CredentialId, Designation, Role};
pub use identity::Identity;
pub use keys::{Keypair, NoiseKey, PublicKey, Signature};
pub use membership::Membership;
pub use space::Space;
pub use time::Timestamp;
