//! The simulated signaling server and each node's connection to it, its outages and restarts.

// A part of `World`'s impl: it reads the world's private types.
use super::*;

impl World {
    pub fn connect_signal(&mut self, i: usize) {
        if !self.nodes[i].up || self.nodes[i].signal.is_some() || !self.server_up {
            return;
        }
        let client = self.open_signal_client(Some(i), i as u64);
        self.nodes[i].signal = Some(client);
        self.trace.line(self.now, i, "signal-up", String::new());
        self.input(i, Input::Signal(ClientInput::Connected), Mark::Clean);
    }

    /// A new connection to the server from `source`, owned by node `owner` (or by the adversary).
    pub fn open_signal_client(&mut self, owner: Option<usize>, source: u64) -> ClientId {
        let client = ClientId(self.next_client);
        self.next_client += 1;
        self.signal_clients.insert(client, SignalConn { owner, source });
        let source = Source(u128::from(source).to_be_bytes());
        self.server.handle_input(ServerInput::Connected { client, source }, self.ts(self.now));
        self.drain_server();
        client
    }

    pub(crate) fn server_frame(&mut self, client: ClientId, bytes: Vec<u8>) {
        if !self.server_up || !self.signal_clients.contains_key(&client) {
            return;
        }
        let result = crate::runner::caught(|| {
            self.server.handle_input(ServerInput::Frame { client, bytes: &bytes }, Timestamp::from_millis(self.now));
        });
        if result.is_err() {
            return self.fail("panic", format!("the signaling server panicked on a {}-byte frame", bytes.len()));
        }
        self.drain_server();
    }

    pub fn drain_server(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                ServerOutput::Transmit { client, bytes } => {
                    let Some(SignalConn { owner: Some(node), .. }) = self.signal_clients.get(&client).copied() else {
                        continue;
                    };
                    crate::oracle::fair_share::answered(self, client, &bytes);
                    crate::adversary::observe(self, &bytes);
                    for (delay, bytes) in crate::adversary::signal_lies(self, bytes) {
                        let lat = self.net.latency(&self.cfg.faults) + delay;
                        self.after(lat, Ev::FromServer { node, client, bytes });
                    }
                }
                ServerOutput::Disconnect { client } => {
                    if let Some(SignalConn { owner: Some(node), .. }) = self.signal_clients.remove(&client) {
                        self.signal_lost(node);
                    }
                }
                ServerOutput::Timeout(t) => {
                    let t = t.as_millis();
                    if self.server_timer.is_none_or(|s| s > t) {
                        self.server_timer = Some(t);
                        self.at(t, Ev::ServerTimer);
                    }
                }
            }
        }
    }

    /// Node `i` lost its server connection; its driver reconnects a second later.
    pub fn signal_lost(&mut self, i: usize) {
        if self.nodes[i].signal.take().is_some() && self.nodes[i].up {
            self.input(i, Input::Signal(ClientInput::Disconnected), Mark::Clean);
            self.after(1_000, Ev::SignalUp { node: i });
        }
    }

    pub fn server_down(&mut self) {
        if !self.server_up {
            return;
        }
        self.server_up = false;
        let clients: Vec<SignalConn> = std::mem::take(&mut self.signal_clients).into_values().collect();
        for SignalConn { owner, .. } in clients {
            if let Some(i) = owner
                && self.nodes[i].signal.take().is_some()
                && self.nodes[i].up
            {
                self.input(i, Input::Signal(ClientInput::Disconnected), Mark::Clean);
            }
        }
        // A restarted server remembers nothing.
        self.server = SignalServer::new(SignalLimits::default());
        self.server_timer = None;
    }

    pub fn server_restart(&mut self) {
        if self.server_up {
            return;
        }
        self.server_up = true;
        self.signal_reconnect_all();
    }
}
