//! The reference driver: answers the driver protocol with our protocol crate. The binary
//! `spaces-driver` is a loop over stdin lines around `ReferenceDriver::handle_line`.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use spaces_protocol::Timestamp;

use crate::flow::LocalFlow;
use crate::vector_ops::{self, UNSUPPORTED, VectorOps};
use crate::wire::{DRIVER_PROTOCOL, FlowInput, GuestCreate, Hello, HostCreate, OpError, Reply, Request};

/// Flows one driver process holds at most; a harness that leaks handles is told so.
pub const FLOWS_MAX: usize = 4096;

/// Stateful ops, always supported.
const FLOW_OPS: &[&str] = &[
    "hello",
    "time.set",
    "host.create",
    "guest.create",
    "flow.input",
    "flow.poll",
    "flow.restart",
    "flow.free",
    "space.remove_member",
    "space.members",
];

pub struct ReferenceDriver {
    now: Timestamp,
    flows: BTreeMap<u64, LocalFlow>,
    next_handle: u64,
    vector_ops: VectorOps,
    vector_op_names: Vec<String>,
}

impl Default for ReferenceDriver {
    fn default() -> Self {
        ReferenceDriver::new(vector_ops::VECTOR_OPS, vector_ops::OPS.iter().map(|s| s.to_string()).collect())
    }
}

fn args<T: DeserializeOwned>(args: &Value) -> Result<T, OpError> {
    serde_json::from_value(args.clone()).map_err(|e| OpError::bad_args(e.to_string()))
}

fn handle_arg(args: &Value) -> Result<u64, OpError> {
    args.get("handle").and_then(Value::as_u64).ok_or_else(|| OpError::bad_args("args.handle must be a number"))
}

impl ReferenceDriver {
    pub fn new(vector_ops: VectorOps, vector_op_names: Vec<String>) -> Self {
        ReferenceDriver { now: Timestamp::ZERO, flows: BTreeMap::new(), next_handle: 1, vector_ops, vector_op_names }
    }

    /// One request line in, one reply line out (without newlines).
    pub fn handle_line(&mut self, line: &str) -> String {
        match serde_json::from_str::<Request>(line) {
            Ok(request) => self.handle(&request.op, &request.args).to_line(request.id),
            Err(e) => {
                // No id to answer to: reply to id 0, which no harness request uses.
                Reply::Error(OpError::new("bad_request", e.to_string())).to_line(0)
            }
        }
    }

    pub fn handle(&mut self, op: &str, args: &Value) -> Reply {
        let result = match op {
            "hello" => Ok(self.hello()),
            "time.set" => self.time_set(args),
            "host.create" => self.host_create(args),
            "guest.create" => self.guest_create(args),
            "flow.input" => self.flow_input(args),
            "flow.poll" => self.flow(args).map(|f| serde_json::to_value(f.poll()).expect("polls serialize")),
            "flow.restart" => self.flow(args).and_then(|f| f.restart()).map(|_| json!({})),
            "flow.free" => handle_arg(args).map(|h| json!({ "freed": self.flows.remove(&h).is_some() })),
            "space.remove_member" => self.remove_member(args),
            "space.members" => self.flow(args).and_then(|f| f.members()).map(|m| json!({ "members": m })),
            _ => (self.vector_ops)(op, args),
        };
        match result {
            Ok(value) => Reply::Ok(value),
            Err(e) if e.kind == UNSUPPORTED => Reply::Unsupported,
            Err(e) => Reply::Error(e),
        }
    }

    fn hello(&self) -> Value {
        let mut ops: Vec<String> = FLOW_OPS.iter().map(|s| s.to_string()).collect();
        ops.extend(self.vector_op_names.iter().cloned());
        let hello = Hello {
            name: "spaces-driver".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            protocol: DRIVER_PROTOCOL.into(),
            ops,
        };
        serde_json::to_value(hello).expect("hello serializes")
    }

    fn time_set(&mut self, args: &Value) -> Result<Value, OpError> {
        let now = args.get("now_ms").and_then(Value::as_u64).ok_or_else(|| OpError::bad_args("args.now_ms"))?;
        if now < self.now.as_millis() {
            return Err(OpError::new("time_backwards", format!("{now} is before {}", self.now.as_millis())));
        }
        self.now = Timestamp::from_millis(now);
        Ok(json!({}))
    }

    fn add(&mut self, flow: LocalFlow) -> Result<u64, OpError> {
        if self.flows.len() >= FLOWS_MAX {
            return Err(OpError::new("too_many_flows", format!("at most {FLOWS_MAX}; free some")));
        }
        let handle = self.next_handle;
        self.next_handle += 1;
        self.flows.insert(handle, flow);
        Ok(handle)
    }

    fn host_create(&mut self, a: &Value) -> Result<Value, OpError> {
        let (flow, mut created) = LocalFlow::create_host(&args::<HostCreate>(a)?, self.now)?;
        created.handle = self.add(flow)?;
        Ok(serde_json::to_value(created).expect("serializes"))
    }

    fn guest_create(&mut self, a: &Value) -> Result<Value, OpError> {
        let (flow, mut created) = LocalFlow::create_guest(&args::<GuestCreate>(a)?, self.now)?;
        created.handle = self.add(flow)?;
        Ok(serde_json::to_value(created).expect("serializes"))
    }

    fn flow(&mut self, a: &Value) -> Result<&mut LocalFlow, OpError> {
        let handle = handle_arg(a)?;
        self.flows.get_mut(&handle).ok_or_else(|| OpError::new("unknown_handle", format!("no flow {handle}")))
    }

    fn remove_member(&mut self, a: &Value) -> Result<Value, OpError> {
        let member = a.get("member").and_then(Value::as_str).ok_or_else(|| OpError::bad_args("args.member"))?;
        let now = self.now;
        self.flow(a)?.remove_member(member, now)?;
        Ok(json!({}))
    }

    fn flow_input(&mut self, a: &Value) -> Result<Value, OpError> {
        let input: FlowInput = a
            .get("input")
            .cloned()
            .ok_or_else(|| OpError::bad_args("args.input"))
            .and_then(|v| serde_json::from_value(v).map_err(|e| OpError::bad_args(e.to_string())))?;
        let now = self.now;
        self.flow(a)?.input(&input, now)?;
        Ok(json!({}))
    }
}
