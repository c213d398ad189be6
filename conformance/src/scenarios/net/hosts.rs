//! What happens to a scenario's hosts: their users remove members and list them, and they
//! crash and come back from their records.

// A part of `Net`'s impl: it reads the world's private types.
use super::*;

impl Net<'_> {
    /// `space.remove_member`: the driver's host removes `member` from its space.
    pub fn remove_member(&mut self, slot: usize, member: &str) -> Step {
        let Party::Remote(side, handle) = self.slots[slot].party else {
            return Err(Abort::Driver("only a driver's host removes members here".into()));
        };
        self.note(format!("{} removes {member}", self.slots[slot].name));
        self.call_on(side, "space.remove_member", json!({ "handle": handle, "member": member })).map(|_| ())
    }

    /// `space.members`: the members of the driver's host's space, identity → role.
    pub fn members(&mut self, slot: usize) -> Step<BTreeMap<String, String>> {
        let Party::Remote(side, handle) = self.slots[slot].party else {
            return Err(Abort::Driver("only a driver's host lists members here".into()));
        };
        let v = self.call_on(side, "space.members", json!({ "handle": handle }))?;
        Self::parse("space.members", v.get("members").cloned().unwrap_or(Value::Null))
    }

    /// Crashes a host and restarts it from its persisted record; its connections drop.
    pub fn restart(&mut self, slot: usize) -> Step {
        match &mut self.slots[slot].party {
            Party::Local(flow) => flow.restart().map_err(|e| Abort::Driver(e.message))?,
            Party::Remote(side, handle) => {
                let (side, args) = (*side, json!({ "handle": *handle }));
                self.call_on(side, "flow.restart", args)?;
            }
            Party::Replayer(_) => return Err(Abort::Driver("a replayer does not restart".into())),
        }
        self.note(format!("{} restarted", self.slots[slot].name));
        self.drop_host_sessions(slot);
        self.refresh(slot)
    }

    /// A host goes down: its sessions drop (the guests are told after a latency), nothing
    /// reaches it and its timers stop until `revive`.
    pub fn crash(&mut self, slot: usize) {
        self.note(format!("{} crashes", self.slots[slot].name));
        self.slots[slot].up = false;
        self.drop_host_sessions(slot);
    }

    /// A crashed host comes back from its persisted record (`flow.restart`).
    pub fn revive(&mut self, slot: usize) -> Step {
        self.slots[slot].up = true;
        self.restart(slot)
    }

    /// Closes every open session of the host in `slot` at its end and tells the guests,
    /// after a latency, that their connections closed.
    fn drop_host_sessions(&mut self, slot: usize) {
        let open: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(s, (h, _))| *h == slot && !self.closed_at_host.contains(s))
            .map(|(s, _)| *s)
            .collect();
        for session in open {
            self.closed_at_host.insert(session);
            let (_, guest) = self.sessions[&session];
            self.push(Delivery::Closed { to: guest, session });
        }
    }
}
