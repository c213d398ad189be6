//! Every way a command can fail, one variant per cause a user can act on, each with a one-line
//! message and a hint (printed as two lines, never as a backtrace).

use std::path::PathBuf;

#[derive(Debug)]
pub enum NodeError {
    NotInitialised {
        home: PathBuf,
    },
    AlreadyInitialised {
        home: PathBuf,
    },
    /// The store is open in another process (redb holds a lock on it).
    Busy {
        path: PathBuf,
    },
    Permissions {
        path: PathBuf,
        mode: u32,
    },
    Store {
        path: PathBuf,
        detail: String,
    },
    Corrupt {
        path: PathBuf,
        index: u64,
        detail: String,
    },
    Io {
        what: String,
        detail: String,
    },
    Restore {
        detail: String,
    },
    NoSignal,
    SignalUnreachable {
        addr: String,
        detail: String,
    },
    Listen {
        addr: String,
        detail: String,
    },
    BadArgument {
        what: String,
        detail: String,
    },
    UnknownSpace {
        given: String,
    },
    AmbiguousSpace {
        given: String,
    },
    UnknownItem {
        given: String,
    },
    /// The Peer refused a command (our role, or the membership rules).
    Refused {
        what: String,
        detail: String,
    },
    /// An invitation ended without success, as host or guest.
    Invitation {
        reason: String,
        hint: String,
    },
    Sync {
        space: String,
        detail: String,
    },
    /// `device join` on a device that already holds spaces: linking replaces its identity.
    NotBlank {
        home: PathBuf,
    },
    Interrupted,
}

impl NodeError {
    pub fn bad(what: &str, detail: impl std::fmt::Display) -> NodeError {
        NodeError::BadArgument { what: what.to_owned(), detail: detail.to_string() }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            NodeError::NotInitialised { home } => {
                format!("create this device first: spaces --home {} init --name NAME", home.display())
            }
            NodeError::AlreadyInitialised { .. } => "use another --home for another device".into(),
            NodeError::Busy { .. } => {
                "another spaces process uses this home (is `spaces up` running?); stop it or use another --home".into()
            }
            NodeError::Permissions { path, .. } => format!("chmod 600 {}", path.display()),
            NodeError::Store { .. } | NodeError::Io { .. } => "check the disk and the --home directory".into(),
            NodeError::Corrupt { .. } | NodeError::Restore { .. } => {
                "the store is damaged; restore it from a backup, or init a new device and join again".into()
            }
            NodeError::NoSignal => {
                "pass --signal HOST:PORT, set SPACES_SIGNAL, or write signal = HOST:PORT in the home's config file"
                    .into()
            }
            NodeError::SignalUnreachable { .. } => {
                "is the signaling server running? start one with: spaces signal --listen HOST:PORT".into()
            }
            NodeError::Listen { .. } => "pass another --listen address (port 0 picks a free one)".into(),
            NodeError::BadArgument { .. } => "see spaces --help".into(),
            NodeError::UnknownSpace { .. } | NodeError::AmbiguousSpace { .. } => {
                "`spaces spaces` lists this device's spaces (a name, a key or a key prefix will do)".into()
            }
            NodeError::UnknownItem { .. } => "`spaces get SPACE` lists the items".into(),
            NodeError::Refused { .. } => "`spaces members SPACE` shows who may do what".into(),
            NodeError::Invitation { hint, .. } => hint.clone(),
            NodeError::Sync { .. } => {
                "another member device must be online (spaces up, or spaces sync) and reachable".into()
            }
            NodeError::NotBlank { .. } => {
                "run device join in a new home: spaces --home DIR init --name NAME, then spaces --home DIR device join CODE"
                    .into()
            }
            NodeError::Interrupted => "interrupted by the user".into(),
        }
    }
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeError::NotInitialised { home } => write!(f, "no device in {}", home.display()),
            NodeError::AlreadyInitialised { home } => write!(f, "{} already holds a device", home.display()),
            NodeError::Busy { path } => write!(f, "{} is in use by another process", path.display()),
            NodeError::Permissions { path, mode } => {
                write!(f, "{} holds private keys but has mode {mode:03o} (others may read it)", path.display())
            }
            NodeError::Store { path, detail } => write!(f, "store {}: {detail}", path.display()),
            NodeError::Corrupt { path, index, detail } => {
                write!(f, "store {}: record {index} does not decode: {detail}", path.display())
            }
            NodeError::Io { what, detail } => write!(f, "{what}: {detail}"),
            NodeError::Restore { detail } => write!(f, "the device does not restore from its log: {detail}"),
            NodeError::NoSignal => f.write_str("this command needs a signaling server"),
            NodeError::SignalUnreachable { addr, detail } => {
                write!(f, "cannot reach the signaling server at {addr}: {detail}")
            }
            NodeError::Listen { addr, detail } => write!(f, "cannot listen on {addr}: {detail}"),
            NodeError::BadArgument { what, detail } => write!(f, "bad {what}: {detail}"),
            NodeError::UnknownSpace { given } => write!(f, "no space {given:?} on this device"),
            NodeError::AmbiguousSpace { given } => write!(f, "{given:?} names more than one space"),
            NodeError::UnknownItem { given } => write!(f, "no item {given:?} in this space"),
            NodeError::Refused { what, detail } => write!(f, "{what} refused: {detail}"),
            NodeError::Invitation { reason, .. } => f.write_str(reason),
            NodeError::Sync { space, detail } => write!(f, "space {space} did not sync: {detail}"),
            NodeError::NotBlank { home } => {
                write!(
                    f,
                    "the device in {} already holds spaces: only a new device can join an identity",
                    home.display()
                )
            }
            NodeError::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for NodeError {}
