//! The drain: each input moves the outputs of the inner machines (signaling client, hosted
//! and accepted invitations) into the Peer's, keeps topics and dials in step, then puts the
//! records of what changed (`Persist`) ahead of everything the input produced and holds that
//! until the driver reports them durable (SPEC.md §9.5).

use super::*;

impl Peer {
    /// Drains the signal client, hosted and accepted invitations into our outputs, keeps the
    /// topics and dials in step with them, puts them behind their records, then announces the
    /// next deadline.
    pub(super) fn pump(&mut self, now: Timestamp) {
        for _ in 0..64 {
            let mut moved = false;
            if std::mem::take(&mut self.topics_dirty) {
                self.sync_topics(now);
                // What changes topics (a space joined or left, a device linked) may change
                // our HALO too.
                self.tell_halo(false, now);
            }
            moved |= self.pump_signal(now);
            moved |= self.pump_hosts(now);
            moved |= self.pump_guests(now);
            moved |= self.dial_due(now);
            if !moved && !self.topics_dirty {
                break;
            }
        }
        for id in self.invitations.evict(now) {
            self.logged.forget_host(&id);
        }
        self.commit();
        self.timeout = Some(self.poll_timeout());
    }

    /// Emits the records of what this input changed, if anything did, then queues the
    /// input's outputs behind the last `Persist` and releases what is durable. Outputs keep
    /// their order: one held output holds every later one.
    pub(super) fn commit(&mut self) {
        let records = self.logged.records(&self.client, std::mem::take(&mut self.staged), &self.leaving);
        if !records.is_empty() {
            self.persist_seq += 1;
            self.ready.push_back(Output::Persist { seq: self.persist_seq, records });
        }
        let seq = self.persist_seq;
        self.held.extend(self.out.drain(..).map(|o| (seq, o)));
        while self.held.front().is_some_and(|(s, _)| *s <= self.durable_seq) {
            let (_, o) = self.held.pop_front().expect("checked above");
            self.ready.push_back(o);
        }
        debug_assert!(self.held.front().is_none_or(|(s, _)| *s > self.durable_seq), "what is durable is released");
        debug_assert!(self.durable_seq <= self.persist_seq, "nothing is durable before it is emitted");
    }

    fn pump_signal(&mut self, now: Timestamp) -> bool {
        let mut moved = false;
        while let Some(o) = self.signal.poll_output() {
            moved = true;
            match o {
                ClientOutput::Transmit { bytes } => self.out.push_back(Output::SignalTransmit { bytes }),
                ClientOutput::Event(e) => self.on_signal_event(e, now),
                ClientOutput::Timeout(_) => {}
            }
        }
        moved
    }

    fn pump_hosts(&mut self, now: Timestamp) -> bool {
        let mut moved = false;
        let ids: Vec<[u8; 16]> = self.invitations.host_ids();
        for id in ids {
            while let Some(o) = self.invitations.host_mut(&id).and_then(InvitationHost::poll_output) {
                moved = true;
                match o {
                    HostOutput::Transmit { session, bytes } => self.transmit(session, PeerBody::Invitation(bytes)),
                    HostOutput::Close { session } => self.close(session, now),
                    HostOutput::Persist(r) => self.staged.push(r),
                    HostOutput::Event(event) => {
                        if let HostEvent::Admitted { grant: AdmissionGrant::Space { space, .. }, .. } = &event {
                            self.space_changed(*space, now);
                        }
                        // A state change may end the invitation, and with it its topic.
                        self.topics_dirty = true;
                        self.event(Event::Hosting { id, event });
                    }
                    HostOutput::Timeout(_) => {}
                }
            }
        }
        moved
    }

    fn pump_guests(&mut self, now: Timestamp) -> bool {
        let mut moved = false;
        let ids: Vec<[u8; 16]> = self.invitations.guest_ids();
        for id in ids {
            while let Some(o) = self.invitations.guest_mut(&id).and_then(InvitationGuest::poll_output) {
                moved = true;
                match o {
                    GuestOutput::Connect { .. } => self.guest_connect(id, now),
                    GuestOutput::Transmit { session, bytes } => self.transmit(session, PeerBody::Invitation(bytes)),
                    GuestOutput::Close { session } => self.close(session, now),
                    GuestOutput::Event(event) => {
                        if let GuestEvent::Admitted(grant) = &event {
                            let verified = self.invitations.guest_mut(&id).and_then(InvitationGuest::take_verified);
                            self.on_admitted(grant, verified, now);
                        }
                        // A terminal state ends the guest, and with it its topic.
                        self.topics_dirty = true;
                        self.event(Event::Joining { id, event });
                    }
                    GuestOutput::Timeout(_) => {}
                }
            }
        }
        moved
    }

    fn on_admitted(&mut self, grant: &AdmissionGrant, verified: Option<crate::membership::Membership>, now: Timestamp) {
        match grant {
            AdmissionGrant::Space { .. } => {
                if let Ok(space) = self.client.accept_grant_verified(grant, verified) {
                    self.event(Event::Joined { space });
                    // Links we already have to other members may now carry this space.
                    self.space_changed(space, now);
                }
            }
            AdmissionGrant::Device { .. } => {
                let device = self.client.device_keypair().clone();
                let noise = self.client.identity().noise_keypair().clone();
                if let Ok(linked) = Client::from_device_grant(device, noise, grant) {
                    let identity = linked.identity_key();
                    self.client = linked;
                    self.event(Event::Linked { identity });
                }
            }
        }
        self.topics_dirty = true;
    }

    pub(super) fn transmit(&mut self, conn: ConnId, body: PeerBody) {
        if self.conns.contains(conn) {
            self.out.push_back(Output::Transmit { conn, bytes: wrap(body) });
        }
    }

    pub(super) fn close(&mut self, conn: ConnId, now: Timestamp) {
        if self.conns.contains(conn) {
            self.out.push_back(Output::Close { conn });
            self.on_closed(conn, now);
        }
    }

    pub(super) fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }
}
