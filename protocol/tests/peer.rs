//! Several Peers and one signaling server in a small deterministic in-memory world.

use std::collections::BTreeMap;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use spaces_protocol::invitation::guest::GuestEvent;
use spaces_protocol::invitation::{AuthMethod, InvitationCode, Pin, State};
use spaces_protocol::item::{ItemId, Op, Value};
use spaces_protocol::peer::{Command, ConnId, Event, Input, Output, Peer};
use spaces_protocol::signal::client::ClientInput;
use spaces_protocol::signal::server::{ServerInput, ServerOutput, SignalServer};
use spaces_protocol::signal::{ClientId, SignalLimits};
use spaces_protocol::space::WriteVerdict;
use spaces_protocol::{Client, PublicKey, Role, Timestamp};

const LATENCY_MS: u64 = 10;

#[derive(Debug)]
enum Msg {
    ToServer { from: usize, bytes: Vec<u8> },
    FromServer { to: usize, bytes: Vec<u8> },
    Connected { peer: usize, conn: ConnId },
    Accepted { peer: usize, conn: ConnId },
    Frame { peer: usize, conn: ConnId, bytes: Vec<u8> },
    Closed { peer: usize, conn: ConnId },
}

struct Net {
    now: Timestamp,
    rng: ChaCha20Rng,
    /// A malicious signaling network: connections to these addresses go elsewhere.
    redirect: BTreeMap<u8, u8>,
    /// Transport faults: per frame, the chance (in 1/1000) of a connection reset and of a
    /// duplicate delivery.
    chaos: Option<(u32, u32)>,
    server: SignalServer,
    peers: Vec<Peer>,
    events: Vec<Vec<Event>>,
    queue: BTreeMap<(Timestamp, u64), Msg>,
    seq: u64,
    /// (peer, conn) -> (peer, conn) of the other end.
    links: BTreeMap<(usize, ConnId), (usize, ConnId)>,
    next_conn: ConnId,
}

impl Net {
    fn new(n: usize, seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let now = Timestamp::from_millis(1_700_000_000_000);
        let mut server = SignalServer::new(SignalLimits::default());
        let mut peers = Vec::new();
        for i in 0..n {
            let client = Client::create_identity(&mut rng, now);
            peers.push(Peer::new(client, vec![i as u8], now, &mut rng));
            server.handle_input(ServerInput::Connected { client: ClientId(i as u64) }, now);
        }
        let mut net = Net {
            now,
            rng,
            redirect: BTreeMap::new(),
            chaos: None,
            server,
            peers,
            events: vec![Vec::new(); n],
            queue: BTreeMap::new(),
            seq: 0,
            links: BTreeMap::new(),
            next_conn: 1,
        };
        for i in 0..n {
            net.input(i, Input::Signal(ClientInput::Connected));
        }
        net
    }

    fn push(&mut self, m: Msg) {
        self.seq += 1;
        self.queue.insert((self.now.saturating_add_millis(LATENCY_MS), self.seq), m);
    }

    fn input(&mut self, i: usize, input: Input<'_>) {
        let now = self.now;
        self.peers[i].handle_input(input, now);
        self.drain(i);
    }

    fn command(&mut self, i: usize, c: Command) {
        self.input(i, Input::Command(&c));
    }

    fn drain(&mut self, i: usize) {
        while let Some(o) = self.peers[i].poll_output() {
            match o {
                Output::SignalTransmit { bytes } => self.push(Msg::ToServer { from: i, bytes }),
                Output::Connect { conn, addr } => {
                    let j = *self.redirect.get(&addr[0]).unwrap_or(&addr[0]) as usize;
                    let remote = self.next_conn;
                    self.next_conn += 1;
                    self.links.insert((i, conn), (j, remote));
                    self.links.insert((j, remote), (i, conn));
                    self.push(Msg::Accepted { peer: j, conn: remote });
                    self.push(Msg::Connected { peer: i, conn });
                }
                Output::Transmit { conn, bytes } => {
                    if let Some(&(j, c)) = self.links.get(&(i, conn)) {
                        if let Some((reset, dup)) = self.chaos {
                            use rand_core::RngCore;
                            if self.rng.next_u32() % 1000 < reset {
                                self.links.remove(&(i, conn));
                                self.links.remove(&(j, c));
                                self.push(Msg::Closed { peer: j, conn: c });
                                self.push(Msg::Closed { peer: i, conn });
                                continue;
                            }
                            if self.rng.next_u32() % 1000 < dup {
                                self.push(Msg::Frame { peer: j, conn: c, bytes: bytes.clone() });
                            }
                        }
                        self.push(Msg::Frame { peer: j, conn: c, bytes });
                    }
                }
                Output::Close { conn } => {
                    if let Some((j, c)) = self.links.remove(&(i, conn)) {
                        self.links.remove(&(j, c));
                        self.push(Msg::Closed { peer: j, conn: c });
                    }
                }
                Output::Persist(_) => {}
                Output::Event(e) => self.events[i].push(e),
                Output::Timeout(_) => {}
            }
        }
    }

    fn drain_server(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                ServerOutput::Transmit { client, bytes } => self.push(Msg::FromServer { to: client.0 as usize, bytes }),
                ServerOutput::Disconnect { .. } | ServerOutput::Timeout(_) => {}
            }
        }
    }

    fn deliver(&mut self, m: Msg) {
        let now = self.now;
        match m {
            Msg::ToServer { from, bytes } => {
                self.server.handle_input(ServerInput::Frame { client: ClientId(from as u64), bytes: &bytes }, now);
                self.drain_server();
            }
            Msg::FromServer { to, bytes } => self.input(to, Input::Signal(ClientInput::Frame { bytes: &bytes })),
            Msg::Connected { peer, conn } => self.input(peer, Input::Connected { conn }),
            Msg::Accepted { peer, conn } => self.input(peer, Input::Accepted { conn }),
            Msg::Frame { peer, conn, bytes } => {
                if self.links.contains_key(&(peer, conn)) {
                    self.input(peer, Input::Frame { conn, bytes: &bytes });
                }
            }
            Msg::Closed { peer, conn } => self.input(peer, Input::Closed { conn }),
        }
    }

    /// Runs for `ms` of virtual time or until `done`.
    fn run(&mut self, ms: u64, mut done: impl FnMut(&Net) -> bool) -> bool {
        let end = self.now.saturating_add_millis(ms);
        for _ in 0..2_000_000 {
            if done(self) {
                return true;
            }
            let q = self.queue.keys().next().map(|(t, _)| *t);
            let p = self.peers.iter().filter_map(Peer::poll_timeout).min();
            let s = self.server.poll_timeout();
            let Some(t) = [q, p, s].into_iter().flatten().min() else { return false };
            if t > end {
                self.now = end;
                return done(self);
            }
            self.now = self.now.max(t);
            if let Some(entry) = self.queue.first_entry()
                && entry.key().0 <= self.now
            {
                let m = entry.remove();
                self.deliver(m);
                continue;
            }
            for i in 0..self.peers.len() {
                if self.peers[i].poll_timeout().is_some_and(|t| t <= self.now) {
                    self.input(i, Input::Timeout);
                }
            }
            if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
                self.server.handle_input(ServerInput::Timeout, self.now);
                self.drain_server();
            }
        }
        panic!("the world did not settle");
    }

    /// Crash and restart peer `i` from a snapshot of its client: its connections drop and it
    /// reconnects to the signaling server.
    fn restart(&mut self, i: usize, snapshot: Vec<u8>) {
        use spaces_protocol::Canonical;
        use spaces_protocol::client::ClientSnapshot;
        let ends: Vec<(usize, ConnId)> = self.links.iter().filter(|((p, _), _)| *p == i).map(|(_, o)| *o).collect();
        self.links.retain(|(p, _), (q, _)| *p != i && *q != i);
        for (j, c) in ends {
            self.push(Msg::Closed { peer: j, conn: c });
        }
        let client = Client::restore(ClientSnapshot::from_bytes(&snapshot).unwrap()).unwrap();
        self.peers[i] = Peer::restore(client, Vec::new(), vec![i as u8], self.now, &mut self.rng);
        self.server.handle_input(ServerInput::Disconnected { client: ClientId(i as u64) }, self.now);
        self.server.handle_input(ServerInput::Connected { client: ClientId(i as u64) }, self.now);
        self.drain_server();
        self.input(i, Input::Signal(ClientInput::Connected));
    }

    fn key(&self, i: usize) -> PublicKey {
        self.peers[i].client().identity_key()
    }

    /// Creates a PIN invitation on `host` and has `guest` accept it; returns when both ended.
    fn invite(&mut self, host: usize, guest: usize, space: PublicKey) {
        self.command(
            host,
            Command::CreateInvitation {
                space: Some(space),
                auth: AuthMethod::Pin,
                role: Role::Editor,
                guest: None,
                lifetime_ms: 3_600_000,
                use_limit: 1,
            },
        );
        let (code, pin): (InvitationCode, Pin) = self.events[host]
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::InvitationCreated { code, pin, .. } => Some((*code, pin.clone().unwrap())),
                _ => None,
            })
            .unwrap();
        self.command(guest, Command::AcceptInvitation { code });
        let ready = |n: &Net| {
            n.events[guest]
                .iter()
                .any(|e| matches!(e, Event::Joining { event: GuestEvent::State(State::ReadyForAuthentication), id } if *id == code.id))
        };
        assert!(self.run(60_000, ready), "guest reached READY_FOR_AUTHENTICATION");
        self.command(guest, Command::Authenticate { id: code.id, pin });
        let joined = |n: &Net| n.events[guest].contains(&Event::Joined { space });
        assert!(self.run(60_000, joined), "guest joined");
    }

    fn write(&mut self, i: usize, space: PublicKey, text: &str) -> ItemId {
        let item = ItemId([i as u8 + 1; 16]);
        let ops = vec![
            Op::Create { item, type_name: "note".into() },
            Op::Set { item, field: "text".into(), value: Value::Text(text.into()) },
        ];
        self.command(i, Command::Write { space, ops });
        item
    }

    fn converged(&self, space: &PublicKey, who: &[usize]) -> bool {
        let views: Vec<_> = who
            .iter()
            .map(|i| {
                let s = self.peers[*i].client().space(space);
                s.map(|s| (s.members(), s.items()))
            })
            .collect();
        views.iter().all(|v| v.is_some() && *v == views[0])
    }
}

fn space_of(net: &Net, i: usize) -> PublicKey {
    net.events[i].iter().find_map(|e| if let Event::SpaceCreated { space } = e { Some(*space) } else { None }).unwrap()
}

#[test]
fn three_peers_invite_write_and_converge() {
    let mut net = Net::new(3, 1);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    net.invite(0, 1, space);
    net.invite(0, 2, space);
    for i in 0..3 {
        net.write(i, space, &format!("from {i}"));
    }
    assert!(
        net.run(120_000, |n| n.converged(&space, &[0, 1, 2]) && n.peers[0].client().items(&space).unwrap().len() == 3)
    );
    let members = net.peers[1].client().members(&space).unwrap();
    assert_eq!(members.len(), 3);
}

#[test]
fn a_removed_member_is_disconnected_and_its_writes_rejected() {
    let mut net = Net::new(3, 2);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    net.invite(0, 1, space);
    net.invite(0, 2, space);
    assert!(net.run(60_000, |n| n.converged(&space, &[0, 1, 2])));
    let removed = net.key(2);
    let before = net.write(2, space, "before removal");
    assert!(net.run(60_000, |n| n.converged(&space, &[0, 1, 2])));
    net.command(0, Command::SetRole { space, member: removed, role: Role::Removed });
    // The others learn the removal; their links to the removed device close.
    let p2_noise = net.peers[2].client().identity().noise_key();
    assert!(net.run(60_000, |n| {
        (0..2).all(|i| {
            n.peers[i].client().space(&space).unwrap().membership().role(&removed) == Some(Role::Removed)
                && n.peers[i].swarm_links().iter().all(|(r, _)| *r != p2_noise)
        })
    }));
    assert!(net.events[0].iter().any(|e| matches!(e, Event::Refused { remote: Some(r), .. } if *r == p2_noise)));
    // The removed device, cut off, still believes it may write; its next entry is rejected by
    // every replica that sees it, while its earlier write stands.
    net.write(2, space, "after removal");
    let c2 = net.peers[2].client();
    let data_feed = c2
        .space(&space)
        .unwrap()
        .feeds()
        .find(|f| {
            c2.space(&space)
                .unwrap()
                .membership()
                .feed(&f.key())
                .is_some_and(|a| a.identity == removed && a.designation == spaces_protocol::Designation::Data)
        })
        .map(|f| f.entries().to_vec())
        .unwrap();
    let late = data_feed.last().unwrap().clone();
    for i in 0..2 {
        let mut replica = net.peers[i].client().clone();
        let verdict = replica.ingest(&space, late.clone()).unwrap();
        assert_eq!(
            verdict,
            spaces_protocol::space::Ingested::Data(WriteVerdict::Rejected(
                spaces_protocol::space::WriteRejection::Revoked
            )),
        );
        assert!(replica.items(&space).unwrap().iter().any(|it| it.id == before), "the earlier write stands");
    }
}

#[test]
fn a_restarted_peer_resumes_replication_from_its_durable_state() {
    use spaces_protocol::Canonical;
    let mut net = Net::new(2, 3);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    net.invite(0, 1, space);
    net.write(0, space, "one");
    assert!(net.run(60_000, |n| n.converged(&space, &[0, 1])));
    // Peer 1 stores its state, then crashes; meanwhile peer 0 writes more.
    let durable = net.peers[1].client().snapshot().to_bytes();
    net.write(0, space, "two");
    net.restart(1, durable);
    assert_eq!(net.peers[1].client().items(&space).unwrap().len(), 1, "resumed exactly at the durable state");
    net.command(
        0,
        Command::Write {
            space,
            ops: vec![Op::Set { item: ItemId([1; 16]), field: "more".into(), value: Value::Int(3) }],
        },
    );
    assert!(net.run(60_000, |n| n.converged(&space, &[0, 1])));
    assert_eq!(net.peers[1].client().items(&space).unwrap(), net.peers[0].client().items(&space).unwrap());
}

#[test]
fn a_signaling_server_that_redirects_a_guest_admits_no_one() {
    let mut net = Net::new(3, 4);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    // The server sends every connection meant for peer 0 to peer 2, the attacker.
    net.redirect.insert(0, 2);
    net.command(
        0,
        Command::CreateInvitation {
            space: Some(space),
            auth: AuthMethod::Pin,
            role: Role::Editor,
            guest: None,
            lifetime_ms: 600_000,
            use_limit: 1,
        },
    );
    let code = net.events[0]
        .iter()
        .find_map(|e| if let Event::InvitationCreated { code, .. } = e { Some(*code) } else { None })
        .unwrap();
    net.command(1, Command::AcceptInvitation { code });
    net.run(400_000, |_| false);
    let guest = net.key(1);
    assert!(net.peers[1].client().space(&space).is_none(), "the guest was admitted nowhere");
    assert!(!net.peers[0].client().space(&space).unwrap().membership().is_member(&guest));
    assert!(net.peers[2].client().spaces().is_empty(), "the attacker gained nothing");
    let outcome = net.peers[1].joining().next().unwrap().state();
    assert!(outcome.is_terminal() && outcome != State::Success, "{outcome:?}");
}

#[test]
fn a_fresh_device_links_to_an_identity_through_a_device_invitation() {
    let mut net = Net::new(2, 5);
    let identity = net.key(0);
    net.command(
        0,
        Command::CreateInvitation {
            space: None,
            auth: AuthMethod::Pin,
            role: Role::Editor,
            guest: None,
            lifetime_ms: 600_000,
            use_limit: 1,
        },
    );
    let (code, pin) = net.events[0]
        .iter()
        .find_map(|e| {
            if let Event::InvitationCreated { code, pin, .. } = e { Some((*code, pin.clone().unwrap())) } else { None }
        })
        .unwrap();
    net.command(1, Command::AcceptInvitation { code });
    let ready = |n: &Net| {
        n.events[1]
            .iter()
            .any(|e| matches!(e, Event::Joining { event: GuestEvent::State(State::ReadyForAuthentication), .. }))
    };
    assert!(net.run(60_000, ready));
    net.command(1, Command::Authenticate { id: code.id, pin });
    assert!(net.run(60_000, |n| n.events[1].contains(&Event::Linked { identity })));
    assert_eq!(net.key(1), identity);
    let device = net.peers[1].client().identity().device_key();
    assert!(net.peers[0].client().halo().contains(&device));
}

#[test]
fn replication_recovers_from_connection_resets_and_duplicated_frames() {
    let mut net = Net::new(3, 6);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    net.invite(0, 1, space);
    net.invite(0, 2, space);
    // Faults: 5% of frames reset their connection, 5% arrive twice.
    net.chaos = Some((50, 50));
    for round in 0..5u8 {
        for i in 0..3 {
            let item = ItemId([round * 3 + i as u8 + 1; 16]);
            net.command(i, Command::Write { space, ops: vec![Op::Create { item, type_name: "n".into() }] });
        }
        net.run(2_000, |_| false);
    }
    // The network heals; everyone converges on all fifteen items.
    net.chaos = None;
    assert!(
        net.run(120_000, |n| n.converged(&space, &[0, 1, 2]) && n.peers[0].client().items(&space).unwrap().len() == 15)
    );
}

#[test]
fn a_single_write_reaches_an_in_sync_member_without_waiting_for_anti_entropy() {
    let mut net = Net::new(2, 7);
    net.command(0, Command::CreateSpace);
    let space = space_of(&net, 0);
    net.invite(0, 1, space);
    assert!(net.run(60_000, |n| n.converged(&space, &[0, 1])));
    // Writes at different phases of the 10 s anti-entropy period each arrive within a few
    // round trips of 10 ms: delivered by push and pull, not by the periodic round.
    for k in 0..6u8 {
        net.run(2_100, |_| false);
        net.command(
            0,
            Command::Write { space, ops: vec![Op::Create { item: ItemId([k + 50; 16]), type_name: "n".into() }] },
        );
        assert!(net.run(200, |n| n.converged(&space, &[0, 1])), "write {k} arrived promptly");
    }
}
