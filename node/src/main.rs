//! `spaces`: the command line of a device. Every command restores the Peer from the store in
//! `--home`, drives it (offline, or online through [`driver::Node`]) and prints the result.
//! Errors print as one line and a hint, with a non-zero exit code and never a backtrace.

mod cli;
mod driver;
mod error;
mod local;
mod net;
mod online;
mod output;
mod signal;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use crate::cli::{Cli, Command, SpaceCommand};
use crate::error::NodeError;
use crate::output::Out;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let out = Out { json: cli.json };
    match run(cli, out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if out.json {
                println!("{}", json!({"event": "error", "error": e.to_string(), "hint": e.hint()}));
            }
            eprintln!("error: {e}");
            eprintln!("hint: {}", e.hint());
            ExitCode::FAILURE
        }
    }
}

/// `--home`, or `$HOME/.spaces`.
fn home(cli: &Cli) -> Result<PathBuf, NodeError> {
    if let Some(h) = &cli.home {
        return Ok(h.clone());
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".spaces"))
        .ok_or_else(|| NodeError::bad("home", "no --home given and $HOME is not set"))
}

fn run(cli: Cli, out: Out) -> Result<(), NodeError> {
    // The signaling server needs no home.
    if let Command::Signal { listen } = &cli.command {
        return runtime()?.block_on(signal::serve(*listen, |addr| {
            out.emit(
                format!("signaling server listening on {addr}"),
                json!({"event": "listening", "addr": addr.to_string()}),
            );
        }));
    }
    let home = home(&cli)?;
    match &cli.command {
        Command::Init { name } => local::init(&home, name, out),
        Command::Spaces => local::spaces(&home, out),
        Command::Space { command: SpaceCommand::Create { name } } => local::create_space(&home, name.as_deref(), out),
        Command::Members { space } => local::members(&home, space, out),
        Command::Put { space, item, fields } => local::put(&home, space, item, fields, out),
        Command::Get { space, item } => local::get(&home, space, item.as_deref(), out),
        Command::Role { space, member, role } => local::set_role(&home, space, member, role.role(), out),
        Command::Remove { space, member } => local::set_role(&home, space, member, spaces_protocol::Role::Removed, out),
        Command::Signal { .. } => Ok(()),
        online_command => {
            let signal = signal_addr(cli.signal.clone().or_else(|| configured_signal(&home)))?;
            let ctx = online::Ctx { home, signal, listen: cli.listen, out };
            runtime()?.block_on(online::run(&ctx, online_command))
        }
    }
}

/// The config file in the home: `signal = HOST:PORT` lines (the last wins), so a device used
/// with one server needs neither the flag nor the variable.
const CONFIG_FILE: &str = "config";

fn configured_signal(home: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(home.join(CONFIG_FILE)).ok()?;
    text.lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == "signal")
        .map(|(_, v)| v.trim().to_owned())
        .next_back()
}

/// `--signal`, `SPACES_SIGNAL` or the config file, resolved.
fn signal_addr(given: Option<String>) -> Result<std::net::SocketAddr, NodeError> {
    let text = given.ok_or(NodeError::NoSignal)?;
    let text = text.as_str();
    use std::net::ToSocketAddrs;
    text.to_socket_addrs()
        .map_err(|e| NodeError::bad("--signal", format!("{text:?}: {e} (expected HOST:PORT)")))?
        .next()
        .ok_or_else(|| NodeError::bad("--signal", format!("{text:?} resolves to no address")))
}

/// One thread: the node is one loop, and the machine may be shared.
fn runtime() -> Result<tokio::runtime::Runtime, NodeError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NodeError::Io { what: "starting the runtime".into(), detail: e.to_string() })
}
