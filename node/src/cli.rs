//! The command line (clap derive): what a person types.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// spaces: shared spaces between devices, joined by invitation (code + PIN).
#[derive(Debug, Parser)]
#[command(name = "spaces", version, about)]
pub struct Cli {
    /// The device's directory (its keys and replicas) [default: $HOME/.spaces].
    #[arg(long, global = true, env = "SPACES_HOME")]
    pub home: Option<PathBuf>,
    /// The signaling server, HOST:PORT (`spaces signal` runs one).
    #[arg(long, global = true, env = "SPACES_SIGNAL")]
    pub signal: Option<String>,
    /// Where other devices reach this one while a command is online; announced to them as-is,
    /// so give an address they can dial (port 0 picks a free port).
    #[arg(long, global = true, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// One JSON object per line instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create this device: a new identity in --home.
    Init {
        #[arg(long)]
        name: String,
    },
    /// List this device's spaces.
    Spaces,
    /// Create a space.
    Space {
        #[command(subcommand)]
        command: SpaceCommand,
    },
    /// Invite someone to a space; stays up until the invitation ends.
    Invite {
        space: String,
        /// The role the guest gets. Reader by default: least privilege, the inviter raises it
        /// with `spaces role` once they know what the guest needs.
        #[arg(long, value_enum, default_value_t = RoleArg::Reader)]
        role: RoleArg,
        /// Admit several guests (all with the same code and PIN).
        #[arg(long)]
        multi_use: bool,
        /// With --multi-use: at most this many guests (0 = no limit until it expires).
        #[arg(long, requires = "multi_use")]
        max_uses: Option<u32>,
        /// How long the invitation is valid: 90s, 10m, 2h.
        #[arg(long, default_value = "10m")]
        expires: String,
        /// Let the space's other admin devices host it too, so the guest can join while this
        /// device is offline (SPEC §7.8): the command hands the invitation to an admin device
        /// that is online (`spaces up` there) and ends, leaving the invitation open.
        #[arg(long)]
        delegated: bool,
    },
    /// Join a space with an invite code.
    Join {
        code: String,
        /// The 6-digit PIN (prompted for, hidden, if not given).
        #[arg(long)]
        pin: Option<String>,
        /// A local name for the space joined.
        #[arg(long)]
        name: Option<String>,
        /// Give up after this long: 30s, 2m.
        #[arg(long, default_value = "2m")]
        timeout: String,
    },
    /// List a space's members and their roles.
    Members { space: String },
    /// Set fields of an item (created if ITEM names none): put SPACE ITEM FIELD=VALUE...
    Put {
        space: String,
        item: String,
        #[arg(required = true)]
        fields: Vec<String>,
    },
    /// Show a space's items, or one item.
    Get { space: String, item: Option<String> },
    /// Go online until this device and another member device hold the same of a space.
    Sync {
        space: String,
        #[arg(long, default_value = "30s")]
        timeout: String,
    },
    /// Stay online (hosting invitations, replicating) until Ctrl-C.
    Up,
    /// Change a member's role (locally; it reaches the others at the next sync or up).
    Role {
        space: String,
        /// The member's identity key, or a unique prefix of it (see `spaces members`).
        member: String,
        #[arg(value_enum)]
        role: RoleArg,
    },
    /// Remove a member from a space (locally; it reaches the others at the next sync or up).
    Remove { space: String, member: String },
    /// Link devices of one identity: a new device joins yours and gets your spaces.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
    /// Run a signaling server.
    Signal {
        #[arg(long, default_value = "127.0.0.1:7700")]
        listen: SocketAddr,
    },
}

#[derive(Debug, Subcommand)]
pub enum SpaceCommand {
    /// Create a space owned by this device's identity.
    Create {
        /// A local name for it.
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Invite a new device of yours (a fresh `spaces init` elsewhere) to this identity: prints
    /// a code and a PIN, and stays up until the device is linked and has your spaces.
    Invite {
        /// How long the invitation is valid: 90s, 10m, 2h.
        #[arg(long, default_value = "10m")]
        expires: String,
    },
    /// Make this new device (no spaces yet) a device of the identity that printed CODE; it
    /// then gets that identity's spaces from it.
    Join {
        code: String,
        /// The 6-digit PIN (prompted for, hidden, if not given).
        #[arg(long)]
        pin: Option<String>,
        /// Give up after this long: 30s, 2m.
        #[arg(long, default_value = "2m")]
        timeout: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Editor,
    Reader,
}

impl RoleArg {
    pub fn role(self) -> spaces_protocol::Role {
        match self {
            RoleArg::Admin => spaces_protocol::Role::Admin,
            RoleArg::Editor => spaces_protocol::Role::Editor,
            RoleArg::Reader => spaces_protocol::Role::Reader,
        }
    }
}

/// A duration as people write it: `90s`, `10m`, `2h`, `1d`, or bare seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, crate::error::NodeError> {
    let bad = || crate::error::NodeError::bad("duration", format!("{text:?} (expected e.g. 30s, 10m, 2h)"));
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(std::time::Duration::from_secs(secs))
}
