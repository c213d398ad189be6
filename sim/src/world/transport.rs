//! The world's transport: the network (`crate::net`) with the on-path adversary and the
//! oracle's wire watchers composed around it. The network decides latency, resets and
//! partitions; the adversary may observe, drop, tamper with or replay what passes; the
//! oracle learns what was sent when.

// A part of `World`'s impl: it reads the world's private types.
use super::*;
use crate::net::Arrival;

impl World {
    /// Schedules what the network delivers, at absolute times.
    pub(super) fn arrive(&mut self, arrivals: Vec<(u64, Arrival)>) {
        for (t, a) in arrivals {
            self.at(t, Ev::from(a));
        }
    }

    /// Schedules what the network delivers, at delays from now.
    pub(super) fn arrive_after(&mut self, arrivals: Vec<(u64, Arrival)>) {
        for (d, a) in arrivals {
            self.after(d, Ev::from(a));
        }
    }

    /// Node `a` dials `addr` as `conn`.
    pub(super) fn connect(&mut self, a: usize, conn: ConnId, addr: &[u8]) {
        let target = node_of(addr).filter(|b| *b < self.nodes.len());
        let nodes = &self.nodes;
        let dial = self.net.dial(self.now, a, conn, target, |b| nodes[b].up, &self.cfg.faults);
        self.stats.connections += u64::from(dial.opened);
        self.arrive(dial.arrivals);
    }

    /// Node `a` sends `bytes` on `conn`.
    pub(super) fn transmit(&mut self, a: usize, conn: ConnId, bytes: Vec<u8>) {
        let Some(link) = self.net.peer_of(a, conn) else { return };
        if link.node == usize::MAX {
            return; // cut, not yet noticed
        }
        crate::adversary::observe(self, &bytes);
        if self.phase == Phase::Safety && self.net.chance_ppm(self.cfg.faults.reset_ppm) {
            self.stats.fault("reset");
            let cut = self.net.cut(a, conn, 100);
            return self.arrive_after(cut);
        }
        if crate::adversary::confirm_drop::strikes(self, a, link.node, conn, &bytes) {
            let cut = self.net.cut(a, conn, 100);
            return self.arrive_after(cut);
        }
        let lat = self.net.latency(&self.cfg.faults);
        let Some(link) = self.net.schedule(a, conn, self.now + lat) else { return };
        let deliveries = crate::adversary::on_path(self, a, link.node, bytes);
        if !matches!(deliveries.as_slice(), [(_, _, Mark::Clean)]) {
            self.net.mark_attacked(a, conn);
        }
        for (extra, bytes, mark) in deliveries {
            let Some(link) = self.net.schedule(a, conn, self.now + lat + extra) else { return };
            crate::oracle::delivery::sent(self, a, link.node, link.last_at);
            crate::oracle::traffic::sent(self, a, link.node, bytes.len());
            self.at(link.last_at, Ev::Frame { node: link.node, conn: link.conn, bytes, mark });
        }
    }

    /// Node `a` closes `conn`: the other end hears of it after the frames already sent.
    pub(super) fn close(&mut self, a: usize, conn: ConnId) {
        if let Some(closed) = self.net.close(self.now, a, conn, &self.cfg.faults) {
            self.arrive(vec![closed]);
        }
    }
}

impl From<Arrival> for Ev {
    fn from(a: Arrival) -> Ev {
        match a {
            Arrival::Accepted { node, conn } => Ev::Accepted { node, conn },
            Arrival::Connected { node, conn } => Ev::Connected { node, conn },
            Arrival::ConnectFailed { node, conn } => Ev::ConnectFailed { node, conn },
            Arrival::Closed { node, conn } => Ev::Closed { node, conn },
        }
    }
}
