//! Connection lifecycle: dials (swarm and guest), inbound dispatch by the first frame, idle
//! deadlines, and the rule that keeps one swarm link per pair of devices (SPEC.md §9.1).

use super::redial::DialState;
use super::*;
use crate::invitation::Refusal;
use crate::invitation::wire::{Frame as InvitationFrame, FrameBody};

impl Peer {
    pub(super) fn on_accepted(&mut self, conn: ConnId, now: Timestamp) {
        if self.conns.contains(conn) {
            return; // A driver naming two connections alike: keep the first.
        }
        if self.conns.len() >= CONNECTIONS_MAX {
            self.out.push_back(Output::Close { conn });
            return;
        }
        self.conns.insert(conn, Connection::inbound(now.saturating_add_millis(FIRST_FRAME_TIMEOUT_MS)));
    }

    pub(super) fn on_connected(&mut self, conn: ConnId, now: Timestamp) {
        let Some(c) = self.conns.get_mut(conn).filter(|c| c.dialling) else {
            return; // Not a dial of ours, or reported twice.
        };
        c.dialling = false;
        match &c.purpose {
            Purpose::Guest { id } => {
                let id = *id;
                c.deadline = now.saturating_add_millis(INVITATION_IDLE_MS);
                if let Some(g) = self.invitations.guest_mut(&id) {
                    g.handle_input(GuestInput::Connected { session: conn }, now);
                }
            }
            Purpose::Swarm(_) => {
                c.deadline = now.saturating_add_millis(HANDSHAKE_TIMEOUT_MS);
                let noise = self.client.identity().noise_keypair().clone();
                match SwarmSession::initiate(&noise, &mut self.rng) {
                    Ok((session, first)) => {
                        if let Some(l) = self.conns.link_mut(conn) {
                            l.initiate(session);
                        }
                        self.transmit(conn, PeerBody::Swarm(first));
                    }
                    Err(_) => self.close(conn, now),
                }
            }
            Purpose::Fresh | Purpose::Host { .. } => unreachable!("only dials are pending"),
        }
    }

    /// A connection ended (closed by either side, or a dial that failed or timed out). Its
    /// owner learns it: the guest retries, the host drops the session, and a swarm link we
    /// dialled is redialled after its backoff unless another link reaches the device.
    pub(super) fn on_closed(&mut self, conn: ConnId, now: Timestamp) {
        let Some(Connection { purpose, dialling, .. }) = self.conns.remove(conn) else { return };
        match purpose {
            Purpose::Guest { id } => {
                let input = if dialling { GuestInput::ConnectFailed } else { GuestInput::Closed { session: conn } };
                if let Some(g) = self.invitations.guest_mut(&id) {
                    g.handle_input(input, now);
                }
            }
            Purpose::Host { id } => {
                if let Some(h) = self.invitations.host_mut(&id) {
                    h.handle_input(HostInput::Closed { session: conn }, now, &mut self.client);
                }
            }
            Purpose::Swarm(link) => self.swarm_closed(conn, &link, now),
            Purpose::Fresh => {}
        }
        assert!(!self.conns.contains(conn));
    }

    fn swarm_closed(&mut self, conn: ConnId, link: &Link, now: Timestamp) {
        self.sibling_link_closed(conn);
        let remote = link.remote();
        if let Some(info) = link.dialled() {
            let noise = remote.or_else(|| self.redial.noise(&info.peer));
            let linked = noise.is_some_and(|n| self.conns.has_link(&n));
            self.redial.closed(&info.peer, conn, linked, now, &mut self.rng);
        }
        if let Some(r) = remote
            && !self.conns.has_link(&r)
        {
            self.redial.link_closed(&r, now, &mut self.rng);
        }
    }

    pub(super) fn on_frame(&mut self, conn: ConnId, bytes: &[u8], now: Timestamp) {
        if self.conns.get(conn).is_none_or(|c| c.dialling) {
            return; // Unknown, already closed, or not open yet: nothing to act on.
        }
        let Ok(frame) = PeerFrame::from_bytes(bytes) else { return self.close(conn, now) };
        self.refresh(conn, now);
        match (self.conns.get(conn).map(|c| &c.purpose), frame.body) {
            (Some(Purpose::Fresh), PeerBody::Invitation(inner)) => self.on_hello(conn, &inner, now),
            (Some(Purpose::Host { id }), PeerBody::Invitation(inner)) => {
                let id = *id;
                self.host_frame(id, conn, &inner, now);
            }
            (Some(Purpose::Guest { id }), PeerBody::Invitation(inner)) => {
                let id = *id;
                if let Some(g) = self.invitations.guest_mut(&id) {
                    g.handle_input(GuestInput::Frame { session: conn, bytes: &inner }, now);
                }
            }
            (Some(Purpose::Fresh), PeerBody::Swarm(inner)) => {
                let noise = self.client.identity().noise_keypair().clone();
                let Ok(session) = SwarmSession::respond(&noise, &mut self.rng) else { return self.close(conn, now) };
                if let Some(c) = self.conns.get_mut(conn) {
                    c.purpose = Purpose::Swarm(Link::answering(session));
                    c.deadline = now.saturating_add_millis(HANDSHAKE_TIMEOUT_MS);
                }
                self.swarm_frame(conn, &inner, now);
            }
            (Some(Purpose::Swarm(_)), PeerBody::Swarm(inner)) => self.swarm_frame(conn, &inner, now),
            _ => self.close(conn, now),
        }
    }

    /// The first frame of an inbound invitation connection: a `Hello` for a topic we host
    /// makes it a session of that invitation. For any other topic the guest is told
    /// `UnknownInvitation` (SPEC.md §7.3.4) before the close, so it knows to try elsewhere.
    fn on_hello(&mut self, conn: ConnId, inner: &[u8], now: Timestamp) {
        let topic = match InvitationFrame::from_bytes(inner) {
            Ok(InvitationFrame { body: FrameBody::Hello { topic, .. }, .. }) => topic,
            _ => return self.close(conn, now),
        };
        let Some(id) = self.invitations.hosts().find(|h| h.code().topic() == topic).map(|h| h.code().id) else {
            let reject = InvitationFrame::new(FrameBody::Reject { refusal: Refusal::UnknownInvitation });
            self.transmit(conn, PeerBody::Invitation(reject.to_bytes()));
            return self.close(conn, now);
        };
        if let Some(c) = self.conns.get_mut(conn) {
            c.purpose = Purpose::Host { id };
            c.deadline = now.saturating_add_millis(INVITATION_IDLE_MS);
        }
        self.host_frame(id, conn, inner, now);
    }

    fn host_frame(&mut self, id: [u8; 16], conn: ConnId, bytes: &[u8], now: Timestamp) {
        if let Some(h) = self.invitations.host_mut(&id) {
            h.handle_input(HostInput::Frame { session: conn, bytes }, now, &mut self.client);
        }
    }

    fn swarm_frame(&mut self, conn: ConnId, bytes: &[u8], now: Timestamp) {
        let Some(link) = self.conns.link_mut(conn) else { return };
        match link.on_frame(bytes) {
            Ok(SwarmEvent::Reply { frame, established }) => {
                self.transmit(conn, PeerBody::Swarm(frame));
                if established.is_some() {
                    self.established(conn, now);
                }
            }
            Ok(SwarmEvent::Established { .. }) => self.established(conn, now),
            Ok(SwarmEvent::Message(m)) => self.swarm_message(conn, m, now),
            Err(SwarmError::Malformed(_) | SwarmError::Crypto | SwarmError::Unexpected) => self.close(conn, now),
        }
    }

    /// The handshake is done: the link now lives as long as it hears from the other side,
    /// keeps to one per device pair, and is judged per space.
    fn established(&mut self, conn: ConnId, now: Timestamp) {
        let Some(c) = self.conns.get_mut(conn) else { return };
        c.deadline = now.saturating_add_millis(LINK_IDLE_MS);
        let Some(link) = c.link() else { return };
        let remote = link.remote().expect("established sessions know their remote");
        if let Some(info) = link.dialled() {
            self.redial.established(&info.peer, remote);
        }
        if remote == self.client.identity().noise_key() {
            // Signaling sent us to ourselves: both ends of this connection are ours.
            return self.refuse_link(conn, remote, now);
        }
        if self.keep_one_link(conn, remote, now) {
            self.authorise(conn, now);
        }
    }

    /// Keeps one link per pair of devices. Between a link each side dialled, both sides keep
    /// the one dialled by the smaller Noise key (authenticated, unlike the keys signaling
    /// announces), so they agree without talking; between two of one direction, the newer
    /// (the older is likely a half-open leftover of a restart). Returns whether `conn` stays.
    fn keep_one_link(&mut self, conn: ConnId, remote: NoiseKey, now: Timestamp) -> bool {
        let ours_preferred = self.client.identity().noise_key() < remote;
        let this_outbound = self.conns.link(conn).is_some_and(Link::is_outbound);
        let others: Vec<(ConnId, bool)> = self
            .conns
            .links()
            .filter(|(c, l)| *c != conn && l.is_to(&remote))
            .map(|(c, l)| (c, l.is_outbound()))
            .collect();
        for (other, other_outbound) in others {
            if other_outbound == this_outbound || this_outbound == ours_preferred {
                self.close(other, now);
            } else {
                self.close(conn, now);
                return false;
            }
        }
        true
    }

    /// Something arrived: push the connection's idle deadline out.
    fn refresh(&mut self, conn: ConnId, now: Timestamp) {
        let Some(c) = self.conns.get_mut(conn) else { return };
        let idle_ms = match &c.purpose {
            // A stranger's wait is not stretched by what it sends (rule 8).
            Purpose::Swarm(l) if l.is_open() && l.probe() != Probe::Waiting => LINK_IDLE_MS,
            Purpose::Guest { .. } | Purpose::Host { .. } => INVITATION_IDLE_MS,
            _ => return, // Fresh and handshaking connections keep their first deadline.
        };
        c.deadline = now.saturating_add_millis(idle_ms);
    }

    /// Closes every connection whose deadline passed. A dial never answered counts as failed.
    pub(super) fn expire_connections(&mut self, now: Timestamp) {
        for conn in self.conns.due(now) {
            // A stranger that showed us nothing we could learn from is refused, as it would
            // have been at once before rule 8: a device we dialled is parked.
            let stranger = self.conns.link(conn).filter(|l| l.probe() != Probe::None).and_then(Link::remote);
            match stranger {
                Some(remote) => self.refuse_link(conn, remote, now),
                None => self.close(conn, now),
            }
        }
        assert!(self.conns.next_deadline().is_none_or(|t| t > now));
    }

    /// Dials every wanted device whose time has come. Returns whether it did anything.
    pub(super) fn dial_due(&mut self, now: Timestamp) -> bool {
        let due = self.redial.due(now);
        let moved = !due.is_empty();
        for (info, noise) in due {
            if noise.is_some_and(|n| self.conns.has_link(&n)) {
                self.redial.set(&info.peer, DialState::Linked);
            } else if let Some(conn) = self.conns.dialled_to(&info.peer) {
                self.redial.set(&info.peer, DialState::Dialling(conn));
            } else if self.conns.len() >= CONNECTIONS_MAX {
                self.redial.postpone(&info.peer, now, &mut self.rng);
            } else {
                let info = self.rotate_address(info);
                let conn = self.dial(info.clone(), now);
                self.redial.set(&info.peer, DialState::Dialling(conn));
            }
        }
        moved
    }

    /// The address for the next dial to `info.peer`: successive dials take turns over every
    /// address signaling reports for it on any of its topics, so one topic's stale or
    /// redirected address cannot hide the device for good.
    fn rotate_address(&mut self, mut info: PeerInfo) -> PeerInfo {
        let mut addrs: Vec<Vec<u8>> = Vec::new();
        for topic in self.redial.topics(&info.peer) {
            addrs.extend(self.signal.peers(&topic).filter(|p| p.peer == info.peer).map(|p| p.addr.clone()));
        }
        addrs.sort();
        addrs.dedup();
        let attempt = self.redial.attempt(&info.peer);
        if !addrs.is_empty() {
            info.addr = addrs[(attempt % addrs.len() as u64) as usize].clone();
        }
        info
    }

    fn dial(&mut self, info: PeerInfo, now: Timestamp) -> ConnId {
        assert!(self.conns.len() < CONNECTIONS_MAX);
        let conn = self.fresh_conn();
        // A placeholder until the driver reports the connection up; then we initiate.
        let placeholder = SwarmSession::respond(self.client.identity().noise_keypair(), &mut self.rng)
            .expect("building a Noise responder cannot fail with valid keys");
        let addr = info.addr.clone();
        let link = Link::dialling(info, placeholder);
        self.conns
            .insert(conn, Connection::dialled(Purpose::Swarm(link), now.saturating_add_millis(CONNECT_TIMEOUT_MS)));
        self.out.push_back(Output::Connect { conn, addr });
        conn
    }

    /// The accepted invitation `id` asks for a host: dial the peer on its topic after the one
    /// dialled last (wrapping around), or wait for one to appear.
    pub(super) fn guest_connect(&mut self, id: [u8; 16], now: Timestamp) {
        let Some(topic) = self.invitations.guest(&id).map(|g| g.code().topic()) else { return };
        let last = self.guest_dialled.get(&id).copied();
        let next = {
            let mut peers = self.signal.peers(&topic);
            let after = last.and_then(|l| self.signal.peers(&topic).find(|i| i.peer > l).cloned());
            after.or_else(|| peers.next().cloned())
        };
        match next {
            Some(info) => self.open_guest_conn(id, info, now),
            None => {
                self.guest_waiting.insert(id);
            }
        }
    }

    pub(super) fn open_guest_conn(&mut self, id: [u8; 16], info: PeerInfo, now: Timestamp) {
        self.guest_waiting.remove(&id);
        self.guest_dialled.insert(id, info.peer);
        if self.conns.len() >= CONNECTIONS_MAX {
            // No room: the guest retries after its own backoff.
            if let Some(g) = self.invitations.guest_mut(&id) {
                g.handle_input(GuestInput::ConnectFailed, now);
            }
            return;
        }
        let conn = self.fresh_conn();
        self.conns
            .insert(conn, Connection::dialled(Purpose::Guest { id }, now.saturating_add_millis(CONNECT_TIMEOUT_MS)));
        self.out.push_back(Output::Connect { conn, addr: info.addr });
    }

    fn fresh_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        self.next_conn
    }
}
