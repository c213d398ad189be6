//! The test kit: deterministic in-memory worlds that drive the crate's state machines the way a
//! real driver would, so tests, benches, conformance scenarios and the simulator exercise one
//! driver loop rather than one each.
//!
//! - [`invitation_pair`]: invitation hosts and guests over one time-ordered queue with a tap
//!   (quinn-proto's test `Pair`, grown to many parties).
//! - [`peer_net`]: several [`Peer`](crate::peer::Peer)s and one signaling server over
//!   in-memory connections, each Peer's durable log kept on its own "disk".
//!
//! Both are pure like the rest of the crate: virtual time jumps to the next event, randomness
//! comes from a seeded ChaCha20, and nothing reads a clock or touches the OS, so one seed is one
//! run, byte for byte. A world's helpers `expect` their own preconditions (a command the test
//! says must be accepted, a record the test says was persisted) and panic with a message that
//! names it; what the parties send each other never panics the world.
//!
//! The deterministic builders of credential DAGs are [`fixture`](crate::fixture).

pub mod invitation_pair;
pub mod peer_net;

/// Where every world's virtual clock starts (2023-11-14T22:13:20Z): a fixed epoch keeps
/// expiry times, and so the bytes of credentials and codes, equal from run to run.
pub const EPOCH_MS: u64 = 1_700_000_000_000;
