//! The service's data folder: which ledger database it belongs to, and the
//! live pools it starts with.
//!
//! # Which database
//!
//! The data folder holds the published bundles, the frozen snapshots and the
//! commit secrets; the ledger that records them is in a database, SQLite in
//! the folder by default or PostgreSQL named by a URL. Opened with the wrong
//! database — PostgreSQL's data folder with the URL forgotten, so the default
//! SQLite path is used — the service would start a second, empty ledger
//! beside the real one, and `ledger verify` would check that empty ledger and
//! call it clean. So the first start writes [`MARKER`] (`database.toml`)
//! naming the kind of database, for PostgreSQL its address (the URL without
//! password or options), and the database's id: a random value the
//! migrations store in the database itself (`ledger_database`). Every later
//! start and every `ledger verify` refuses a database that is not the one
//! named there: a folder of PostgreSQL's opened on SQLite is refused before
//! any SQLite file is made, and a database reached at the configured URL
//! whose id differs (another database, or an empty one made in its place)
//! is refused before anything is written to it. The address is not part of
//! the identity: hosts may reach one database by different names.
//!
//! A marker written before ids were recorded has none; such a folder is
//! checked by kind and address, and its marker gains the id on the next
//! start.
//!
//! # Live pools
//!
//! The service appends newly declared conflicts to the live `conflicts.csv`,
//! so its default live folder is `DATA_DIR/pools`, created on first start as
//! a copy of the bundled sample ([`seed_pools`]); the tracked `data/` is never
//! written. A configured `pools_dir` is the office's own and used as it is.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::Config;
use crate::pools::FILES;

/// The file in the data folder that names its database.
pub const MARKER: &str = "database.toml";

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "{dir} does not exist, so it holds no ledger to verify; give the service's data folder \
         (--data-dir or SHUANGSUI_DATA_DIR)"
    )]
    Missing { dir: String },
    #[error(
        "{marker} says this data folder's ledger is the PostgreSQL database {database}, but no \
         PostgreSQL URL was given (the default is SQLite in the data folder); set \
         SHUANGSUI_DATABASE_URL=postgres://… (or database_url in the configuration) to that database"
    )]
    PostgresWithoutUrl { marker: String, database: String },
    #[error(
        "{marker} says this data folder's ledger is {recorded}, but the configured database is \
         {configured}; use the database named there, or another data folder"
    )]
    OtherDatabase {
        marker: String,
        recorded: String,
        configured: String,
    },
    #[error("{marker}: {message}")]
    BadMarker { marker: String, message: String },
    #[error(
        "the ledger ({database}) is empty, but {publications} holds {count} published draw(s): \
         this is not the ledger they were recorded in"
    )]
    EmptyLedger {
        database: String,
        publications: String,
        count: usize,
    },
    #[error("cannot seed the live pools {to} from {from}: {source}")]
    Seed {
        from: String,
        to: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// What [`MARKER`] records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// `sqlite` or `postgres`.
    pub kind: String,
    /// For PostgreSQL, `postgres://user@host:port/name`: enough to tell one
    /// database from another, with no password. SQLite's is the file in the
    /// data folder, which moves with it, so it is not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The id the migrations stored in the database (`ledger_database`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Database {
    /// The identity of a database URL.
    pub fn of_url(url: &str) -> Database {
        if url.starts_with("sqlite:") {
            return Database {
                kind: "sqlite".into(),
                database: None,
                id: None,
            };
        }
        let database = match url::Url::parse(url) {
            Ok(parsed) => {
                let user = match parsed.username() {
                    "" => String::new(),
                    user => format!("{user}@"),
                };
                let host = parsed.host_str().unwrap_or("");
                let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!("postgres://{user}{host}{port}{}", parsed.path())
            }
            // Not a URL sqlx would take either; never echo it, it may hold a password.
            Err(_) => "an unreadable PostgreSQL URL".into(),
        };
        Database {
            kind: "postgres".into(),
            database: Some(database),
            id: None,
        }
    }

    /// The same database with its id.
    pub fn with_id(self, id: Option<String>) -> Database {
        Database { id, ..self }
    }
}

impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.database {
            Some(database) => write!(f, "the {} database {database}", self.kind)?,
            None => write!(f, "{} in the data folder", self.kind)?,
        }
        match &self.id {
            Some(id) => write!(f, " (id {id})"),
            None => Ok(()),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The database the data folder's marker names, if it has one (folders made
/// before the marker have none).
pub fn recorded(data_dir: &Path) -> Result<Option<Database>, DataDirError> {
    let path = data_dir.join(MARKER);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    toml::from_str(&text).map(Some).map_err(|e| DataDirError::BadMarker {
        marker: path.display().to_string(),
        message: e.to_string(),
    })
}

/// Refuses a configured database whose kind is not the one the marker
/// names, or, for a marker without an id, whose address is not. Reads only
/// the marker, so it runs before anything is opened. Returns the marker.
pub fn check_database(config: &Config) -> Result<Option<Database>, DataDirError> {
    let Some(recorded) = recorded(&config.data_dir)? else {
        return Ok(None);
    };
    let configured = Database::of_url(&config.database_url);
    let marker = config.data_dir.join(MARKER).display().to_string();
    if recorded.kind == "postgres" && configured.kind == "sqlite" {
        return Err(DataDirError::PostgresWithoutUrl {
            marker,
            database: recorded.database.unwrap_or_default(),
        });
    }
    let same = match recorded.id {
        Some(_) => recorded.kind == configured.kind,
        None => recorded == configured,
    };
    if !same {
        return Err(DataDirError::OtherDatabase {
            marker,
            recorded: recorded.to_string(),
            configured: configured.to_string(),
        });
    }
    Ok(Some(recorded))
}

/// Refuses a database whose id (`found`, `None` when it holds no ledger) is
/// not the one the marker records. A marker without an id accepts any.
pub fn check_id(config: &Config, recorded: &Database, found: Option<&str>) -> Result<(), DataDirError> {
    let Some(id) = &recorded.id else {
        return Ok(());
    };
    if found == Some(id.as_str()) {
        return Ok(());
    }
    let configured = Database::of_url(&config.database_url).with_id(found.map(str::to_owned));
    let configured = match found {
        Some(_) => configured.to_string(),
        None => format!("{configured}, which holds no ledger"),
    };
    Err(DataDirError::OtherDatabase {
        marker: config.data_dir.join(MARKER).display().to_string(),
        recorded: recorded.to_string(),
        configured,
    })
}

/// For the service's start, before the database is opened: creates the
/// data folder and refuses a database of another kind or address than its
/// marker names. Returns the marker; the caller then checks the database's
/// id ([`check_id`]) and, once it is open, [`record`]s it.
pub fn claim(config: &Config) -> Result<Option<Database>, DataDirError> {
    std::fs::create_dir_all(&config.data_dir).map_err(io(&config.data_dir))?;
    check_database(config)
}

/// Writes the marker for the open database when the folder has none yet, or
/// one without an id (written before ids were recorded).
pub fn record(config: &Config, recorded: Option<&Database>, id: Option<String>) -> Result<(), DataDirError> {
    if recorded.is_some_and(|r| r.id.is_some()) || id.is_none() {
        return Ok(());
    }
    let path = config.data_dir.join(MARKER);
    let marker = Database::of_url(&config.database_url).with_id(id);
    let text = format!(
        "# The ledger database of this data folder, written on first start. The service\n\
         # and `shuangsui ledger verify` refuse any other database for it.\n{}",
        toml::to_string(&marker).expect("the marker serialises")
    );
    let temp = config.data_dir.join(format!(".{MARKER}.tmp-{}", std::process::id()));
    std::fs::write(&temp, text).map_err(io(&temp))?;
    std::fs::rename(&temp, &path).map_err(io(&path))?;
    Ok(())
}

/// For `ledger verify`: the data folder must exist and belong to the
/// configured kind of database. Creates nothing. Returns the marker, for
/// [`check_id`] once the ledger is open.
pub fn check_existing(config: &Config) -> Result<Option<Database>, DataDirError> {
    if !config.data_dir.is_dir() {
        return Err(DataDirError::Missing {
            dir: config.data_dir.display().to_string(),
        });
    }
    check_database(config)
}

/// The published draws in a publications folder (its bundle folders; the
/// hidden staging folder is not one).
pub fn published_draws(publications: &Path) -> usize {
    std::fs::read_dir(publications)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir() && !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0)
}

/// Creates the default live pools folder from the sample when it does not
/// exist yet: copied into a temporary folder beside it, then renamed, so a
/// start interrupted half-way leaves no half-seeded folder that later starts
/// would take for the office's. Returns whether it seeded. Does nothing when
/// the folder exists, or when `pools_dir` was configured (`sample_pools` is
/// `None`).
pub fn seed_pools(config: &Config) -> Result<bool, DataDirError> {
    let Some(sample) = &config.sample_pools else {
        return Ok(false);
    };
    let live = &config.pools_dir;
    if live.exists() {
        return Ok(false);
    }
    let seed_err = |source| DataDirError::Seed {
        from: sample.display().to_string(),
        to: live.display().to_string(),
        source,
    };
    let name = live
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.seeding-");
    // What an interrupted start left behind is never the live folder.
    if let Some(parent) = live.parent().filter(|p| p.is_dir()) {
        for entry in std::fs::read_dir(parent).map_err(seed_err)?.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_dir_all(entry.path()).map_err(seed_err)?;
            }
        }
    }
    let temp: PathBuf = live.with_file_name(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir_all(&temp).map_err(seed_err)?;
    for (_, file) in FILES {
        if let Err(e) = std::fs::copy(sample.join(file), temp.join(file)) {
            let _ = std::fs::remove_dir_all(&temp);
            return Err(DataDirError::Seed {
                from: sample.join(file).display().to_string(),
                to: live.display().to_string(),
                source: e,
            });
        }
    }
    std::fs::rename(&temp, live).map_err(seed_err)?;
    Ok(true)
}
