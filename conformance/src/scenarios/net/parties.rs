//! The parties of a scenario: hosts and guests in the driver under test, the harness's own
//! (or, in cross mode, the peer driver's), scripted ones, and what a scenario asks of them.

// A part of `Net`'s impl: it reads the world's private types.
use super::*;

impl Net<'_> {
    pub(super) fn add_slot(&mut self, name: &str, party: Party, is_host: bool) -> usize {
        let slot = Slot {
            name: name.to_owned(),
            party,
            is_host,
            up: true,
            status: Poll::default(),
            events: Vec::new(),
            timed_out_at: None,
            sessions: 0,
        };
        self.slots.push(slot);
        self.slots.len() - 1
    }

    pub(super) fn route_code(&mut self, code: &str, host: usize) -> Step<InvitationCode> {
        let decoded = InvitationCode::decode(code)
            .map_err(|e| Abort::Driver(format!("host.create answered a code that does not decode: {e}")))?;
        self.route.insert(hex::encode(decoded.topic().0), host);
        Ok(decoded)
    }

    pub fn host_args(&mut self, auth: &str, expires_in_ms: u64, use_limit: u32) -> HostCreate {
        HostCreate {
            seed: self.seed(),
            kind: "space".into(),
            auth: auth.into(),
            role: "editor".into(),
            expires_at_ms: self.now + expires_in_ms,
            use_limit,
            guest: None,
        }
    }

    /// A host flow in the driver; its topic is routed to it.
    pub fn driver_host(&mut self, args: &HostCreate) -> Step<(usize, HostCreated)> {
        let v = self.call("host.create", serde_json::to_value(args).expect("serializes"))?;
        let created: HostCreated = Self::parse("host.create", v)?;
        let slot = self.add_slot("driver host", Party::Remote(Side::Tested, created.handle), true);
        self.route_code(&created.code, slot)?;
        self.note(format!("driver host created: code {}", created.code));
        self.refresh(slot)?;
        Ok((slot, created))
    }

    /// A host flow of our own; its topic is routed to it.
    pub fn local_host(&mut self, args: &HostCreate) -> Step<(usize, HostCreated)> {
        if self.is_cross() {
            let v = self.call_on(Side::Peer, "host.create", serde_json::to_value(args).expect("serializes"))?;
            let created: HostCreated = Self::parse("host.create", v)?;
            let slot = self.add_slot("peer host", Party::Remote(Side::Peer, created.handle), true);
            self.route_code(&created.code, slot)?;
            self.note(format!("peer host created: code {}", created.code));
            self.refresh(slot)?;
            return Ok((slot, created));
        }
        let (flow, created) = LocalFlow::create_host(args, Timestamp::from_millis(self.now))
            .map_err(|e| Abort::Driver(format!("harness host: {}", e.message)))?;
        let slot = self.add_slot("harness host", Party::Local(Box::new(flow)), true);
        self.route_code(&created.code, slot)?;
        self.refresh(slot)?;
        Ok((slot, created))
    }

    /// A guest flow in the driver, accepting `code`.
    pub fn driver_guest(&mut self, code: &str) -> Step<(usize, GuestCreated)> {
        let args = GuestCreate { seed: self.seed(), code: code.to_owned() };
        let v = self.call("guest.create", serde_json::to_value(args).expect("serializes"))?;
        let created: GuestCreated = Self::parse("guest.create", v)?;
        let slot = self.add_slot("driver guest", Party::Remote(Side::Tested, created.handle), false);
        self.refresh(slot)?;
        Ok((slot, created))
    }

    /// A guest flow of our own, accepting `code`.
    pub fn local_guest(&mut self, code: &str) -> Step<(usize, GuestCreated)> {
        let seed = self.seed();
        self.local_guest_seeded(code, &seed)
    }

    /// A guest flow of our own from `seed`: the same seed is the same identity, device and
    /// Noise key (a guest coming back as itself).
    pub fn local_guest_seeded(&mut self, code: &str, seed: &str) -> Step<(usize, GuestCreated)> {
        let args = GuestCreate { seed: seed.to_owned(), code: code.to_owned() };
        let n = self.slots.iter().filter(|s| !s.is_host).count() + 1;
        if self.is_cross() {
            let v = self.call_on(Side::Peer, "guest.create", serde_json::to_value(args).expect("serializes"))?;
            let created: GuestCreated = Self::parse("guest.create", v)?;
            let slot = self.add_slot(&format!("peer guest {n}"), Party::Remote(Side::Peer, created.handle), false);
            self.refresh(slot)?;
            return Ok((slot, created));
        }
        let (flow, created) = LocalFlow::create_guest(&args, Timestamp::from_millis(self.now))
            .map_err(|e| Abort::Driver(format!("harness guest: {}", e.message)))?;
        let slot = self.add_slot(&format!("harness guest {n}"), Party::Local(Box::new(flow)), false);
        self.refresh(slot)?;
        Ok((slot, created))
    }

    /// The harness's own flow in `slot`, to script it (make a host lie, for instance).
    pub fn local_flow_mut(&mut self, slot: usize) -> Step<&mut LocalFlow> {
        match &mut self.slots[slot].party {
            Party::Local(flow) => Ok(flow),
            Party::Remote(Side::Peer, _) => Err(Abort::Unsupported(HARNESS_ONLY.into())),
            _ => Err(Abort::Driver("only a harness flow can be scripted".into())),
        }
    }

    /// A relay in the middle: answers on `real`'s code with its own Noise key.
    pub fn impostor_of(&mut self, real: usize) -> Step<usize> {
        let (secret, seed, now) = (self.seed_bytes(), self.seed_bytes(), Timestamp::from_millis(self.now));
        let Party::Local(flow) = &self.slots[real].party else {
            if self.is_cross() {
                return Err(Abort::Unsupported(HARNESS_ONLY.into()));
            }
            return Err(Abort::Driver("only a harness host can be impersonated".into()));
        };
        let impostor = flow.impostor(secret, seed, now).expect("a harness host has a record");
        Ok(self.add_slot("relay", Party::Local(Box::new(impostor)), true))
    }

    /// A guest that connects to `topic` and sends `frames`, one per frame it receives.
    pub fn replayer(&mut self, topic: &str, frames: Vec<Vec<u8>>) -> Step<usize> {
        if self.is_cross() {
            return Err(Abort::Unsupported(HARNESS_ONLY.into()));
        }
        let slot = self.add_slot("replayer", Party::Replayer(frames.into()), false);
        let topic = topic.to_owned();
        self.on_output(slot, FlowOutput::Connect { topic });
        Ok(slot)
    }
}
