//! Crashes and restarts of a node: what survives (the durable log) and what does not.

// A part of `World`'s impl: it reads the world's private types.
use super::*;

impl World {
    /// Node `i` dies: memory, pending commits and connections are lost; the disk stays.
    pub fn crash(&mut self, i: usize) {
        if !self.nodes[i].up || self.nodes[i].peer.is_none() {
            return;
        }
        self.trace.line(self.now, i, "crash", String::new());
        let node = &mut self.nodes[i];
        node.up = false;
        node.peer = None;
        node.pending = Pending { epoch: node.pending.epoch + 1, ..Pending::default() };
        node.fsync_at = None;
        node.timer_gen += 1;
        node.timer_at = None;
        if let Some(client) = node.signal.take() {
            self.signal_clients.remove(&client);
            if self.server_up {
                self.server.handle_input(ServerInput::Disconnected { client }, self.ts(self.now));
                self.drain_server();
            }
        }
        let dropped = self.net.drop_node(i);
        self.arrive_after(dropped);
        self.work.crashed(i);
        crate::oracle::honest_success::crashed(self, i);
    }

    /// Node `i` comes back from what its disk holds.
    pub fn restart(&mut self, i: usize) {
        if self.nodes[i].up {
            return;
        }
        let now = self.local(i, self.now);
        let log = self.nodes[i].durable.log.clone();
        let peer = match Peer::restore(log, addr_of(i), now, &mut self.rng_seed) {
            Ok(p) => p,
            Err(e) => return self.fail("S5", format!("node {i} cannot restore its durable state: {e}")),
        };
        crate::oracle::restored(self, i, peer.client());
        self.trace.line(self.now, i, "restart", String::new());
        let node = &mut self.nodes[i];
        node.peer = Some(peer);
        node.up = true;
        self.reschedule_timer(i);
        self.connect_signal(i);
    }
}
