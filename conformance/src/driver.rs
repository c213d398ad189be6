//! Talking to a driver: the `Driver` trait, and `DriverProcess`, a child process spoken to in
//! JSON lines over its stdin and stdout (DRIVER.md). The in-process `ReferenceDriver`
//! implements the trait too, for tests that need no process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use serde_json::Value;

use crate::reference::ReferenceDriver;
use crate::wire::{DRIVER_PROTOCOL, Hello, Reply, Request};

/// How long one reply may take. Every op is small; a driver this slow is hung.
pub const REPLY_TIMEOUT_MS: u64 = 20_000;
/// Longest reply line accepted (a grant of a small space is a few KiB; hex doubles it).
pub const REPLY_LINE_MAX: usize = 8 * 1024 * 1024;

/// Why a request got no usable reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// The process could not be started.
    Spawn(String),
    /// The process exited or closed its stdout.
    Died,
    /// No reply within `REPLY_TIMEOUT_MS`.
    Timeout,
    /// A reply that is not what DRIVER.md allows (the message says why).
    BadReply(String),
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::Spawn(e) => write!(f, "could not start the driver: {e}"),
            DriverError::Died => f.write_str("the driver exited or closed its stdout"),
            DriverError::Timeout => write!(f, "no reply within {REPLY_TIMEOUT_MS} ms"),
            DriverError::BadReply(e) => write!(f, "bad reply: {e}"),
        }
    }
}

/// An implementation under test, as the harness sees it.
pub trait Driver {
    fn call(&mut self, op: &str, args: Value) -> Result<Reply, DriverError>;

    /// Starts afresh after a crash or a hang: every handle is gone.
    fn restart(&mut self) -> Result<(), DriverError>;

    /// `hello`, parsed.
    fn hello(&mut self) -> Result<Hello, DriverError> {
        match self.call("hello", Value::Object(Default::default()))? {
            Reply::Ok(v) => {
                let hello: Hello = serde_json::from_value(v).map_err(|e| DriverError::BadReply(e.to_string()))?;
                if hello.protocol != DRIVER_PROTOCOL {
                    return Err(DriverError::BadReply(format!("protocol {} is not {DRIVER_PROTOCOL}", hello.protocol)));
                }
                Ok(hello)
            }
            Reply::Error(e) => {
                Err(DriverError::BadReply(format!("hello must succeed, got error {}: {}", e.kind, e.message)))
            }
            Reply::Unsupported => Err(DriverError::BadReply("hello must succeed, got unsupported".into())),
        }
    }
}

impl Driver for ReferenceDriver {
    fn call(&mut self, op: &str, args: Value) -> Result<Reply, DriverError> {
        Ok(self.handle(op, &args))
    }

    fn restart(&mut self) -> Result<(), DriverError> {
        *self = ReferenceDriver::default();
        Ok(())
    }
}

/// A driver process started with `sh -c COMMAND`.
pub struct DriverProcess {
    command: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
}

impl DriverProcess {
    pub fn spawn(command: &str) -> Result<Self, DriverError> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| DriverError::Spawn(e.to_string()))?;
        let stdin = child.stdin.take().expect("stdin was piped");
        let stdout = child.stdout.take().expect("stdout was piped");
        let (tx, lines) = mpsc::channel();
        // A reader thread, so that a hung driver costs a timeout, not the whole run.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(DriverProcess { command: command.to_owned(), child, stdin, lines, next_id: 1 })
    }

    fn read_reply(&mut self, id: u64) -> Result<Reply, DriverError> {
        let line = match self.lines.recv_timeout(Duration::from_millis(REPLY_TIMEOUT_MS)) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => return Err(DriverError::Timeout),
            Err(RecvTimeoutError::Disconnected) => return Err(DriverError::Died),
        };
        if line.len() > REPLY_LINE_MAX {
            return Err(DriverError::BadReply(format!("a reply line of {} bytes", line.len())));
        }
        let (got, reply) = Reply::from_line(&line).map_err(DriverError::BadReply)?;
        if got != id {
            return Err(DriverError::BadReply(format!("reply to id {got}, expected {id}")));
        }
        Ok(reply)
    }
}

impl Driver for DriverProcess {
    fn call(&mut self, op: &str, args: Value) -> Result<Reply, DriverError> {
        let id = self.next_id;
        self.next_id += 1;
        let request = Request { id, op: op.to_owned(), args };
        let mut line = serde_json::to_string(&request).expect("requests serialize");
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).and_then(|_| self.stdin.flush()).map_err(|_| DriverError::Died)?;
        self.read_reply(id)
    }

    fn restart(&mut self) -> Result<(), DriverError> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = DriverProcess::spawn(&self.command.clone())?;
        Ok(())
    }
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        // Closing stdin asks a well-behaved driver to exit; a hung one is killed.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
