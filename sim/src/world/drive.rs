//! A node's IO: one input driven through its Peer, outputs held behind their records, the
//! group commit (`Persist` → fsync → `Durable`), released outputs routed, and its timer.

// A part of `World`'s impl: it reads the world's private types.
use super::*;

/// What the driver hands a node's Peer: an input, or a user's command.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step<'a> {
    Input(Input<'a>),
    Command(&'a Command),
}

impl World {
    /// Feeds one input to node `i`: the driver loop. Records go to the disk's write buffer
    /// (flushed by the group commit), everything else the Peer released goes out at once.
    pub fn input(&mut self, i: usize, input: Input<'_>, mark: Mark) {
        if let (Input::Frame { .. }, Mark::Attacked) = (input, mark) {
            crate::oracle::honest_success::attacked(self, i);
        }
        let Some(released) = self.drive(i, Step::Input(input)) else { return };
        if let Input::Frame { conn, .. } = input {
            let held = self.nodes[i].peer.as_ref().is_some_and(|p| p.held_outputs() > 0);
            let closed = released.iter().any(|o| matches!(o, Output::Close { conn: c } if *c == conn));
            if held && !closed && mark != Mark::Clean {
                // The answer is behind a record not yet durable: judged when it is released.
                self.nodes[i].pending.checks.push((conn, mark));
            } else {
                crate::oracle::frame_handled(self, i, conn, mark, &released);
            }
        }
        self.crash_if_armed(i);
    }

    /// A crash armed by the fault schedule strikes once the node has records in flight.
    fn crash_if_armed(&mut self, i: usize) {
        if self.nodes[i].fsync_at.is_some() && std::mem::take(&mut self.nodes[i].crash_armed) {
            self.at(self.now, Ev::Fault(crate::faults::Fault::Crash { node: i }));
        }
    }

    /// A user's command to node `i`: the Peer answers at once, a refusal is traced, and the
    /// outputs are drained and acted on as after any input.
    pub fn command(&mut self, i: usize, command: &Command) {
        self.drive(i, Step::Command(command));
        self.crash_if_armed(i);
    }

    /// Routes what node `i`'s Peer emitted outside an input (the adversary acting on its own
    /// device's Peer directly), as after any input.
    pub fn flush_outputs(&mut self, i: usize) {
        let Some(peer) = self.nodes[i].peer.as_mut() else { return };
        let mut outs = Vec::new();
        while let Some(o) = peer.poll_output() {
            outs.push(o);
        }
        self.outputs(i, outs);
    }

    /// `handle_input` (or `command`), then every output drained and acted on; what left the
    /// node, or `None` if the node is down (or panicked, which fails the run).
    pub(super) fn drive(&mut self, i: usize, step: Step<'_>) -> Option<Vec<Output>> {
        if !self.nodes[i].up {
            return None;
        }
        let now = self.local(i, self.now);
        let Some(peer) = self.nodes[i].peer.as_mut() else {
            if let Step::Input(input) = step {
                crate::adversary::flooder_input(self, i, input);
            }
            return None;
        };
        let result = crate::runner::caught(|| {
            let refused = match step {
                Step::Input(input) => {
                    peer.handle_input(input, now);
                    None
                }
                Step::Command(c) => peer.command(c, now).err(),
            };
            let mut outs = Vec::new();
            while let Some(o) = peer.poll_output() {
                outs.push(o);
            }
            (refused, outs)
        });
        let outs = match result {
            Ok((refused, outs)) => {
                if let (Some(error), Step::Command(c)) = (refused, step) {
                    let line = format!("{}: {error}", crate::trace::command_summary(c));
                    self.trace.line(self.now, i, "command-failed", line);
                }
                outs
            }
            Err(p) => {
                let what =
                    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
                self.fail("panic", format!("node {i} panicked on {step:?}: {}", what.unwrap_or_default()));
                return None;
            }
        };
        self.reschedule_timer(i);
        Some(self.outputs(i, outs))
    }

    /// Acts on node `i`'s outputs in order; returns those that left the node (not `Persist`).
    pub(super) fn outputs(&mut self, i: usize, outs: Vec<Output>) -> Vec<Output> {
        let mut released = Vec::new();
        let mut ack = None;
        for o in outs {
            match o {
                Output::Persist { seq, records } => ack = self.persist(i, seq, records).or(ack),
                Output::Timeout(_) => {}
                Output::Event(e) => {
                    self.trace.line(self.now, i, "event", crate::trace::event_summary(&e));
                    crate::oracle::event(self, i, &e);
                    crate::workload::event(self, i, &e);
                    crate::adversary::late_guess::event(self, i, &e);
                    crate::oracle::released(self, i, &e);
                    released.push(Output::Event(e));
                }
                other => {
                    self.release(i, other.clone());
                    released.push(other);
                }
            }
        }
        if let Some(seq) = ack {
            // The planted driver bug: it reports the records durable before the flush.
            released.extend(self.drive(i, Step::Input(Input::Durable { seq })).unwrap_or_default());
        }
        released
    }

    /// Puts records in the disk's write buffer and starts a group commit unless one is on
    /// its way. Returns the `seq` to report durable at once: only under the planted bug.
    pub(super) fn persist(&mut self, i: usize, seq: u64, records: Vec<Record>) -> Option<u64> {
        let acked = self.nodes[i].peer.as_ref().map(|p| crate::oracle::owed(p.client())).unwrap_or_default();
        let early = crate::mutant::release_before_durable();
        let local = self.local(i, self.now);
        let node = &mut self.nodes[i];
        node.pending.since.get_or_insert(local);
        node.pending.records.extend(records);
        node.pending.seq = Some(seq);
        if early {
            node.acked = acked.clone();
        }
        node.pending.acked = acked;
        if node.fsync_at.is_none() {
            node.pending.epoch += 1;
            let (epoch, at) = (node.pending.epoch, self.now + self.fsync_ms);
            node.fsync_at = Some(at);
            self.at(at, Ev::Fsync { node: i, epoch });
        }
        early.then_some(seq)
    }

    /// The group commit reached disk: the records are durable, the driver says so, and the
    /// Peer releases what followed them.
    pub(super) fn fsync(&mut self, i: usize, epoch: u64) {
        let node = &mut self.nodes[i];
        if !node.up || node.pending.epoch != epoch || node.fsync_at.is_none() {
            return;
        }
        node.fsync_at = None;
        node.durable.log.append(&mut node.pending.records);
        // What the released outputs acknowledge: the state these records hold (a space left
        // is no longer owed; a change no output reported is not owed).
        node.acked = std::mem::take(&mut node.pending.acked);
        let checks = std::mem::take(&mut node.pending.checks);
        node.deciding = node.pending.since.take();
        let Some(seq) = node.pending.seq.take() else { return };
        if node.durable.log.len() > LOG_RECORDS_MAX
            && let Some(p) = node.peer.as_ref()
        {
            // Compaction: every record emitted so far is in the log now, so one snapshot of
            // the Peer replaces them all.
            node.durable.log = vec![Record::Snapshot(Box::new(p.snapshot()))];
        }
        if crate::mutant::release_before_durable() {
            return; // Reported durable long ago.
        }
        let released = self.drive(i, Step::Input(Input::Durable { seq })).unwrap_or_default();
        crate::oracle::delivery::released(self, i);
        self.nodes[i].deciding = None;
        for (conn, mark) in checks {
            crate::oracle::frame_handled(self, i, conn, mark, &released);
        }
    }

    pub(super) fn release(&mut self, i: usize, o: Output) {
        match o {
            Output::SignalTransmit { bytes } => {
                if let Some(client) = self.nodes[i].signal {
                    crate::adversary::observe(self, &bytes);
                    let lat = self.net.latency(&self.cfg.faults);
                    self.after(lat, Ev::ToServer { client, bytes });
                }
            }
            Output::Connect { conn, addr } => {
                crate::oracle::removal::dialled(self, i, conn);
                self.connect(i, conn, &addr)
            }
            Output::Transmit { conn, bytes } => self.transmit(i, conn, bytes),
            Output::Close { conn } => self.close(i, conn),
            Output::Event(_) | Output::Persist { .. } | Output::Timeout(_) => {}
        }
    }

    pub(super) fn reschedule_timer(&mut self, i: usize) {
        let Some(local) = self.nodes[i].peer.as_ref().map(Peer::poll_timeout) else { return };
        let t = self.nodes[i].clock.global(local.as_millis(), self.now);
        // A timer due now, right after a timeout input, means the peer asks to be woken
        // for something it does not do: a busy loop that would stall the world.
        if t <= self.now && self.nodes[i].timer_at.is_none() {
            self.nodes[i].spins += 1;
            if self.nodes[i].spins > SPINS_MAX {
                let now = self.local(i, self.now).as_millis();
                let p = self.nodes[i].peer.as_ref().expect("a peer has a timer");
                let at =
                    |t: Option<spaces_protocol::Timestamp>| t.map_or("never".into(), |t| t.as_millis().to_string());
                let hosts: Vec<String> =
                    p.hosting().map(|h| format!("{} until {}", h.state().name(), at(h.poll_timeout()))).collect();
                let guests: Vec<String> =
                    p.joining().map(|g| format!("{} until {}", g.state().name(), at(g.poll_timeout()))).collect();
                let local =
                    format!("{} (hosts: {}; guests: {})", local.as_millis(), hosts.join(", "), guests.join(", "));
                return self.fail(
                    "L1",
                    format!(
                        "node {i} busy-loops: timeout {local} is due at local {now} yet handling it changes nothing"
                    ),
                );
            }
        } else {
            self.nodes[i].spins = 0;
        }
        if self.nodes[i].timer_at == Some(t) {
            return;
        }
        self.nodes[i].timer_gen += 1;
        self.nodes[i].timer_at = Some(t);
        let epoch = self.nodes[i].timer_gen;
        self.at(t, Ev::Timer { node: i, epoch });
    }
}
