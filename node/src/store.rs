//! The device's durable store under `--home`: one redb file holding the Peer's log (SPEC.md
//! §9.5) and a few local settings. Every record holds secrets (the first one, a snapshot,
//! holds the device's private keys), so the file is the device's key file: created 0600 in a
//! 0700 directory, and refused if anyone but its owner may read it.
//!
//! Layout: table `log` maps a local index (ascending, never reused) to one canonical `Record`;
//! table `meta` maps setting names (`name`, `alias/<NAME>`) to UTF-8 values. The Peer's `seq`
//! counts from 1 per Peer value, so it is not the key: the driver answers `Durable` with the
//! seq it was given once the transaction holding those records has committed.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableTable, TableDefinition};
use spaces_protocol::Canonical;
use spaces_protocol::peer::{PeerSnapshot, Record};

use crate::error::NodeError;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// Records the log holds before the driver compacts it into one snapshot: restore replays
/// every record, so the bound keeps a restart's work (and the file) proportional to the state
/// rather than to its history.
pub const LOG_RECORDS_MAX: u64 = 256;

/// The file inside `--home`.
pub const DB_FILE: &str = "spaces.redb";

pub struct Store {
    db: Database,
    path: PathBuf,
}

fn db_error(path: &Path, e: impl Into<redb::Error>) -> NodeError {
    match e.into() {
        redb::Error::DatabaseAlreadyOpen => NodeError::Busy { path: path.to_owned() },
        e => NodeError::Store { path: path.to_owned(), detail: e.to_string() },
    }
}

impl Store {
    /// Opens the store in `home`; with `create`, makes the directory and an empty store.
    pub fn open(home: &Path, create: bool) -> Result<Store, NodeError> {
        let path = home.join(DB_FILE);
        if !path.exists() {
            if !create {
                return Err(NodeError::NotInitialised { home: home.to_owned() });
            }
            private::create_dir(home)?;
            private::create_file(&path)?;
        } else if create {
            return Err(NodeError::AlreadyInitialised { home: home.to_owned() });
        }
        private::check(&path)?;
        let db = Database::create(&path).map_err(|e| db_error(&path, e))?;
        let store = Store { db, path };
        // Both tables exist from the start, so readers never meet a missing table.
        let txn = store.db.begin_write().map_err(|e| db_error(&store.path, e))?;
        txn.open_table(LOG).map_err(|e| db_error(&store.path, e))?;
        txn.open_table(META).map_err(|e| db_error(&store.path, e))?;
        txn.commit().map_err(|e| db_error(&store.path, e))?;
        Ok(store)
    }

    fn err(&self, e: impl Into<redb::Error>) -> NodeError {
        db_error(&self.path, e)
    }

    /// Appends `records` in one transaction; when this returns they are on disk (redb commits
    /// with an fsync), which is what `Input::Durable` promises the Peer.
    pub fn append(&self, records: &[Record]) -> Result<(), NodeError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut log = txn.open_table(LOG).map_err(|e| self.err(e))?;
            let first = log.last().map_err(|e| self.err(e))?.map_or(0, |(k, _)| k.value() + 1);
            for (index, r) in (first..).zip(records) {
                log.insert(index, r.to_bytes().as_slice()).map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))
    }

    /// The whole log in order, decoded strictly.
    pub fn log(&self) -> Result<Vec<Record>, NodeError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let log = txn.open_table(LOG).map_err(|e| self.err(e))?;
        let mut records = Vec::new();
        for row in log.iter().map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let record = Record::from_bytes(v.value()).map_err(|e| NodeError::Corrupt {
                path: self.path.clone(),
                index: k.value(),
                detail: format!("{e:?}"),
            })?;
            records.push(record);
        }
        Ok(records)
    }

    /// Replaces the whole log by one snapshot, atomically (one transaction): a crash leaves
    /// either the old log or the snapshot, and either restores the same device.
    pub fn compact(&self, snapshot: PeerSnapshot) -> Result<(), NodeError> {
        let record = Record::Snapshot(Box::new(snapshot));
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut log = txn.open_table(LOG).map_err(|e| self.err(e))?;
            let next = log.last().map_err(|e| self.err(e))?.map_or(0, |(k, _)| k.value() + 1);
            log.retain(|_, _| false).map_err(|e| self.err(e))?;
            log.insert(next, record.to_bytes().as_slice()).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, NodeError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        Ok(meta.get(key).map_err(|e| self.err(e))?.map(|v| v.value().to_owned()))
    }

    /// Settings whose name starts with `prefix`, with the prefix cut off.
    pub fn meta_prefixed(&self, prefix: &str) -> Result<Vec<(String, String)>, NodeError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let meta = txn.open_table(META).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in meta.range(prefix..).map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let Some(rest) = k.value().strip_prefix(prefix) else { break };
            out.push((rest.to_owned(), v.value().to_owned()));
        }
        Ok(out)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), NodeError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            meta.insert(key, value).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))
    }
}

/// Owner-only files: the store holds private keys (SPEC.md §9.5 asks the log the protection
/// the keys get).
#[cfg(unix)]
mod private {
    use std::fs::{DirBuilder, OpenOptions};
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    use crate::error::NodeError;

    pub fn create_dir(dir: &Path) -> Result<(), NodeError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| NodeError::Io { what: format!("creating {}", dir.display()), detail: e.to_string() })
    }

    pub fn create_file(path: &Path) -> Result<(), NodeError> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map(drop)
            .map_err(|e| NodeError::Io { what: format!("creating {}", path.display()), detail: e.to_string() })
    }

    /// Refuses a key file that group or others may read or write: whoever can read it can
    /// act as this device in every space.
    pub fn check(path: &Path) -> Result<(), NodeError> {
        let meta = std::fs::metadata(path)
            .map_err(|e| NodeError::Io { what: format!("reading {}", path.display()), detail: e.to_string() })?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(NodeError::Permissions { path: path.to_owned(), mode });
        }
        Ok(())
    }
}

#[cfg(not(unix))]
mod private {
    use std::path::Path;

    use crate::error::NodeError;

    pub fn create_dir(dir: &Path) -> Result<(), NodeError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| NodeError::Io { what: format!("creating {}", dir.display()), detail: e.to_string() })
    }

    pub fn create_file(path: &Path) -> Result<(), NodeError> {
        std::fs::File::create_new(path)
            .map(drop)
            .map_err(|e| NodeError::Io { what: format!("creating {}", path.display()), detail: e.to_string() })
    }

    /// No owner-only mode to check outside unix; the directory's ACL is the user's to set.
    pub fn check(_path: &Path) -> Result<(), NodeError> {
        Ok(())
    }
}
