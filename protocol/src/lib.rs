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
//! The protocol is specified in `SPEC.md`; the code map is `ARCHITECTURE.md`.

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
pub mod replication;
pub mod signal;
pub mod space;
pub mod swarm;
pub mod time;

pub use client::{Client, ClientError, JoinRequest};
pub use codec::{Canonical, DecodeError};
pub use credential::{Assertion, Credential, CredentialId, Designation, Role};
pub use identity::Identity;
pub use keys::{Keypair, NoiseKey, PublicKey, Signature};
pub use membership::Membership;
pub use space::Space;
pub use time::Timestamp;
