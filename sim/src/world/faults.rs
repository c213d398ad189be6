//! The world applies the faults `crate::faults` draws: partitions to the network, crashes
//! and clock jumps to nodes, outages to the signaling server.

// A part of `World`'s impl: it reads the world's private types.
use super::*;
use crate::faults::Fault;

impl World {
    /// Schedules the safety phase's faults.
    pub(super) fn schedule_faults(&mut self) {
        for (t, fault) in crate::faults::schedule(&mut self.net, &self.cfg, self.now, self.heal_at, self.nodes.len()) {
            self.at(t, Ev::Fault(fault));
        }
    }

    pub(super) fn fault(&mut self, f: Fault) {
        if self.phase != Phase::Safety {
            return; // healing has begun: late faults are void
        }
        match f {
            Fault::Partition { .. } => self.partition(),
            Fault::PartitionHeal { id } => {
                self.net.heal(id);
                self.trace.line(self.now, usize::MAX, "partition-heal", format!("id={id}"));
            }
            Fault::Crash { node } => {
                // Half the crashes wait for the node's next group commit and strike before its
                // flush (BUGGIFY-style): the window where a driver that released early loses data.
                if self.nodes[node].fsync_at.is_none() && !self.nodes[node].crash_armed && self.net.roll(2) == 0 {
                    self.nodes[node].crash_armed = true;
                    return;
                }
                if self.nodes[node].is_honest() || self.nodes[node].kind == Kind::Adversary {
                    self.stats.fault("crash");
                    self.crash(node);
                    let down = 100 + self.net.roll(self.cfg.faults.crash_down_ms_max);
                    self.after(down, Ev::Fault(Fault::Restart { node }));
                }
            }
            Fault::Restart { node } => self.restart(node),
            Fault::ClockJump { node } => {
                self.stats.fault("clock-jump");
                let delta = crate::faults::clock_jump_ms(&mut self.net);
                self.nodes[node].clock.jump(delta);
                self.trace.line(self.now, node, "clock-jump", format!("{delta}ms"));
            }
            Fault::SignalOutage => {
                self.stats.fault("signal-outage");
                self.trace.line(self.now, usize::MAX, "signal-down", String::new());
                self.server_down();
                let back = 100 + self.net.roll(self.cfg.faults.signal_outage_ms_max);
                self.after(back, Ev::Fault(Fault::SignalBack));
            }
            Fault::SignalBack => {
                self.trace.line(self.now, usize::MAX, "signal-up", String::new());
                self.server_restart();
            }
        }
    }

    fn partition(&mut self) {
        let pairs = crate::faults::partition(&mut self.net, self.nodes.len());
        if pairs.is_empty() {
            return;
        }
        self.stats.fault("partition");
        let count = pairs.len();
        let (id, cut) = self.net.partition(pairs);
        self.trace.line(self.now, usize::MAX, "partition", format!("id={id} pairs={count}"));
        self.arrive_after(cut);
        let dur = 500 + self.net.roll(self.cfg.faults.partition_ms_max);
        self.after(dur, Ev::Fault(Fault::PartitionHeal { id }));
    }
}
