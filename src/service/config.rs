//! Service configuration: `config/shuangsui.toml`, overridden by environment
//! variables. The operator token is read from the environment or a file and
//! is never logged or echoed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::edge::EdgeLimits;
use crate::clock::Zone;
use crate::desk::announce::SeedTimes;
use crate::lease::LeaseTimes;

/// The default live pools folder, inside the data folder.
pub const DEFAULT_POOLS: &str = "pools";
/// The default checkpoint signing key, inside the data folder.
pub const DEFAULT_CHECKPOINT_KEY: &str = "checkpoint.key";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: String,
    data_dir: PathBuf,
    #[serde(default)]
    pools_dir: Option<PathBuf>,
    #[serde(default = "default_sample_pools")]
    sample_pools: PathBuf,
    plans_dir: PathBuf,
    #[serde(default = "default_holidays")]
    holidays_dir: PathBuf,
    #[serde(default)]
    schedule: Option<PathBuf>,
    #[serde(default)]
    database_url: Option<String>,
    #[serde(default)]
    migration_database_url: Option<String>,
    #[serde(default = "default_time_zone")]
    time_zone: String,
    #[serde(default)]
    operator_token_file: Option<PathBuf>,
    #[serde(default)]
    ledger_origin: Option<String>,
    #[serde(default)]
    checkpoint_key_file: Option<PathBuf>,
    #[serde(default)]
    scheduler_poll_seconds: Option<u64>,
    #[serde(default)]
    scheduler_stall_seconds: Option<u64>,
    #[serde(default)]
    job_wait_ms: Option<u64>,
    #[serde(default)]
    edge: EdgeFile,
    #[serde(default)]
    ceremony_lead_hours: Option<u64>,
}

/// `[edge]`: how connections from clients are treated
/// ([`super::edge::EdgeLimits`]); each left out keeps its default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EdgeFile {
    max_connections: Option<usize>,
    header_read_timeout_seconds: Option<u64>,
    max_requests_per_connection: Option<u32>,
    max_connection_age_seconds: Option<u64>,
}

fn default_sample_pools() -> PathBuf {
    PathBuf::from("data")
}

fn default_holidays() -> PathBuf {
    PathBuf::from("config/holidays")
}

fn default_time_zone() -> String {
    "Asia/Shanghai".into()
}

/// The operator's bearer token. Its `Debug` hides it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(text: String) -> Option<Token> {
        let text = text.trim().to_owned();
        (text.len() >= 16).then_some(Token(text))
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The ledger database, snapshots, publications and secrets live here.
    pub data_dir: PathBuf,
    /// The live 一单两库 folder (or workbook) the service draws from and
    /// appends newly declared conflicts to. By default `DATA_DIR/pools`.
    pub pools_dir: PathBuf,
    /// Where the default live folder is first copied from (the bundled
    /// sample, `data/`) when it does not exist yet. `None` when `pools_dir`
    /// was configured: an office's own folder is never seeded over.
    pub sample_pools: Option<PathBuf>,
    pub plans_dir: PathBuf,
    /// The official working-day calendar, one `YEAR.toml` per year.
    pub holidays_dir: PathBuf,
    pub schedule: Option<PathBuf>,
    pub database_url: String,
    /// The role that owns the ledger's tables and migrates them at start;
    /// `None`: the service's own role (`database_url`) does. On PostgreSQL
    /// the two-role setup (README, "PostgreSQL") gives the service only
    /// INSERT and SELECT, so even the service's own credentials cannot
    /// change history. Never used but to migrate and grant.
    pub migration_database_url: Option<String>,
    /// The office's time zone (`time_zone`, an IANA name): ledger times,
    /// today's date for results and their deadlines, and the zone of
    /// scheduled jobs that name none.
    pub time_zone: Zone,
    /// `None`: operator endpoints refuse every request.
    pub token: Option<Token>,
    /// The name of the ledger in its signed checkpoints (`ledger_origin`);
    /// `None`: the name in the checkpoint key, or for a new key
    /// [`Config::default_origin`].
    pub ledger_origin: Option<String>,
    /// The checkpoint signing key (`checkpoint_key_file`,
    /// `SHUANGSUI_CHECKPOINT_KEY_FILE`); `None`: `DATA_DIR/checkpoint.key`.
    pub checkpoint_key_file: Option<PathBuf>,
    /// The scheduler lease (`scheduler_poll_seconds`, default 10;
    /// `scheduler_stall_seconds`, default 600): how often a standby
    /// instance asks for it, and how long a step may run before its holder
    /// gives it up. See [`crate::lease`].
    pub scheduler_lease: LeaseTimes,
    /// How long an operator request waits for its job (`job_wait_ms`,
    /// default 2000) before answering 202 with the job's address; 0 always
    /// answers 202. See [`super::jobs`].
    pub job_wait: std::time::Duration,
    /// Connection limits and timeouts (`[edge]`), before the cap is lowered
    /// below the process's descriptor limit at start.
    pub edge: EdgeLimits,
    /// How far ahead a ceremony must be announced (`ceremony_lead_hours`,
    /// default 24) and a seed's time may be at most.
    pub seed_times: SeedTimes,
}

/// The SQLite ledger a data folder holds unless a database is named.
fn default_database_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("ledger.db").display())
}

impl Config {
    /// The URL the schema is migrated with: the owner's, or the service's
    /// own when no owner is configured.
    pub fn migration_url(&self) -> &str {
        self.migration_database_url.as_deref().unwrap_or(&self.database_url)
    }

    /// A configuration rooted in these folders, with every other setting at
    /// its default: a port the system picks on 127.0.0.1, the SQLite ledger
    /// in `data_dir`, Asia/Shanghai, no schedule, no sample to seed the pools
    /// from, and no operator token.
    pub fn at(data_dir: PathBuf, pools_dir: PathBuf, plans_dir: PathBuf, holidays_dir: PathBuf) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: default_database_url(&data_dir),
            migration_database_url: None,
            data_dir,
            pools_dir,
            sample_pools: None,
            plans_dir,
            holidays_dir,
            schedule: None,
            time_zone: Zone::default(),
            token: None,
            ledger_origin: None,
            checkpoint_key_file: None,
            scheduler_lease: LeaseTimes::default(),
            job_wait: super::jobs::DEFAULT_WAIT,
            edge: EdgeLimits::default(),
            seed_times: SeedTimes::default(),
        }
    }

    /// Reads the file, then applies `SHUANGSUI_LISTEN`, `SHUANGSUI_DATA_DIR`,
    /// `SHUANGSUI_POOLS_DIR`, `SHUANGSUI_DATABASE_URL`,
    /// `SHUANGSUI_MIGRATION_DATABASE_URL`, `SHUANGSUI_OPERATOR_TOKEN` or
    /// `SHUANGSUI_OPERATOR_TOKEN_FILE`, `SHUANGSUI_CHECKPOINT_KEY_FILE`.
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let file: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.clone(),
            message,
        };
        let listen_text = env("SHUANGSUI_LISTEN").unwrap_or(file.listen);
        let listen = listen_text
            .parse()
            .map_err(|_| invalid(format!("listen: {listen_text:?} is not HOST:PORT")))?;
        let data_dir = env("SHUANGSUI_DATA_DIR").map(PathBuf::from).unwrap_or(file.data_dir);
        // The live folder is written to (declared conflicts), so by default
        // it is a copy under the data folder, never the tracked sample.
        let (pools_dir, sample_pools) = match env("SHUANGSUI_POOLS_DIR").map(PathBuf::from).or(file.pools_dir) {
            Some(dir) => (dir, None),
            None => (data_dir.join(DEFAULT_POOLS), Some(file.sample_pools)),
        };
        let database_url = env("SHUANGSUI_DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| default_database_url(&data_dir));
        let migration_database_url = env("SHUANGSUI_MIGRATION_DATABASE_URL").or(file.migration_database_url);
        let token_file = env("SHUANGSUI_OPERATOR_TOKEN_FILE")
            .map(PathBuf::from)
            .or(file.operator_token_file);
        let token_text = match (env("SHUANGSUI_OPERATOR_TOKEN"), token_file) {
            (Some(token), _) => Some(token),
            (None, Some(file)) => Some(std::fs::read_to_string(&file).map_err(|source| ConfigError::Read {
                path: file.display().to_string(),
                source,
            })?),
            (None, None) => None,
        };
        let time_zone = Zone::parse(&file.time_zone).map_err(|e| invalid(format!("time_zone: {e}")))?;
        let token = match token_text {
            None => None,
            Some(text) => Some(
                Token::new(text).ok_or_else(|| invalid("the operator token must be at least 16 characters".into()))?,
            ),
        };
        if let Some(origin) = &file.ledger_origin {
            if !crate::tlog::note::valid_name(origin) {
                return Err(invalid(format!(
                    "ledger_origin: {origin:?} must be non-empty, without spaces or '+'"
                )));
            }
        }
        let checkpoint_key_file = env("SHUANGSUI_CHECKPOINT_KEY_FILE")
            .map(PathBuf::from)
            .or(file.checkpoint_key_file);
        let defaults = LeaseTimes::default();
        let seconds = |name: &str, value: Option<u64>, default: std::time::Duration| match value {
            None => Ok(default),
            Some(0) => Err(invalid(format!("{name}: must be at least 1"))),
            Some(n) => Ok(std::time::Duration::from_secs(n)),
        };
        let scheduler_lease = LeaseTimes {
            poll: seconds("scheduler_poll_seconds", file.scheduler_poll_seconds, defaults.poll)?,
            stall: seconds("scheduler_stall_seconds", file.scheduler_stall_seconds, defaults.stall)?,
        };
        let job_wait = file
            .job_wait_ms
            .map_or(super::jobs::DEFAULT_WAIT, std::time::Duration::from_millis);
        let edge = {
            let limits = EdgeLimits::default();
            let at_least_one = |name: &str, value: Option<u64>| match value {
                Some(0) => Err(invalid(format!("edge.{name}: must be at least 1"))),
                other => Ok(other),
            };
            let header = at_least_one("header_read_timeout_seconds", file.edge.header_read_timeout_seconds)?;
            let age = at_least_one("max_connection_age_seconds", file.edge.max_connection_age_seconds)?;
            let requests = at_least_one(
                "max_requests_per_connection",
                file.edge.max_requests_per_connection.map(u64::from),
            )?;
            let connections = at_least_one("max_connections", file.edge.max_connections.map(|n| n as u64))?;
            EdgeLimits {
                max_connections: connections.map_or(limits.max_connections, |n| n as usize),
                header_read_timeout: header.map_or(limits.header_read_timeout, std::time::Duration::from_secs),
                max_requests_per_connection: requests.map_or(limits.max_requests_per_connection, |n| n as u32),
                max_connection_age: age.map_or(limits.max_connection_age, std::time::Duration::from_secs),
                ..limits
            }
        };
        Ok(Config {
            listen,
            data_dir,
            pools_dir,
            sample_pools,
            plans_dir: file.plans_dir,
            holidays_dir: file.holidays_dir,
            schedule: file.schedule,
            database_url,
            migration_database_url,
            time_zone,
            token,
            ledger_origin: file.ledger_origin,
            checkpoint_key_file,
            scheduler_lease,
            job_wait,
            edge,
            seed_times: SeedTimes {
                ceremony_lead: file
                    .ceremony_lead_hours
                    .map_or(SeedTimes::default().ceremony_lead, |hours| {
                        std::time::Duration::from_secs(hours.saturating_mul(3600))
                    }),
                ..SeedTimes::default()
            },
        })
    }

    /// The checkpoint signing key's file.
    pub fn checkpoint_key_path(&self) -> PathBuf {
        self.checkpoint_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(DEFAULT_CHECKPOINT_KEY))
    }

    /// The origin a new checkpoint key is made for when none is configured:
    /// `shuangsui/` and the data folder's name (characters a key name may
    /// not hold become `-`). Hosts sharing one database must configure
    /// `ledger_origin` (and one key file) instead.
    pub fn default_origin(&self) -> String {
        let folder = self
            .data_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let folder: String = folder
            .chars()
            .map(|c| if c.is_whitespace() || c == '+' { '-' } else { c })
            .collect();
        format!("shuangsui/{}", if folder.is_empty() { "ledger" } else { &folder })
    }

    /// With the data folder given on the command line (`--data-dir`), the
    /// database follows it unless a URL was set explicitly, and so does the
    /// default live pools folder.
    pub fn with_data_dir(mut self, dir: PathBuf, explicit_database: bool) -> Config {
        if !explicit_database {
            self.database_url = default_database_url(&dir);
            // An owner's URL belongs to the database it was set beside.
            self.migration_database_url = None;
        }
        if self.sample_pools.is_some() {
            self.pools_dir = dir.join(DEFAULT_POOLS);
        }
        self.data_dir = dir;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with_zone(zone: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shuangsui.toml");
        let text = format!(
            "listen = \"127.0.0.1:8080\"\ndata_dir = \"var\"\nplans_dir = \"config/plans\"\ntime_zone = \"{zone}\"\n"
        );
        std::fs::write(&path, text).unwrap();
        Config::load(&path, |_| None)
    }

    #[test]
    fn the_time_zone_is_parsed_once_at_load() {
        assert_eq!(load_with_zone("Asia/Shanghai").unwrap().time_zone, Zone::SHANGHAI);
        let london = load_with_zone("Europe/London").unwrap().time_zone;
        assert_eq!(london.name(), "Europe/London");
        let err = load_with_zone("Mars/Olympus").unwrap_err().to_string();
        assert!(
            err.ends_with("time_zone: unknown IANA time zone \"Mars/Olympus\" (names are case-sensitive, such as \"Asia/Shanghai\")"),
            "{err}"
        );
    }

    #[test]
    fn the_owner_url_comes_from_the_environment_and_stays_with_its_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shuangsui.toml");
        let text = "listen = \"127.0.0.1:8080\"\ndata_dir = \"var\"\nplans_dir = \"p\"\n\
                    database_url = \"postgres://svc@db/s\"\nmigration_database_url = \"postgres://own@db/s\"\n";
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path, |_| None).unwrap();
        assert_eq!(config.migration_url(), "postgres://own@db/s");
        let config = Config::load(&path, |name| {
            (name == "SHUANGSUI_MIGRATION_DATABASE_URL").then(|| "postgres://other@db/s".into())
        })
        .unwrap();
        assert_eq!(config.migration_url(), "postgres://other@db/s");
        // The data folder's own SQLite, chosen by --data-dir, has no owner.
        let moved = config.with_data_dir("d".into(), false);
        assert_eq!(moved.migration_url(), "sqlite://d/ledger.db?mode=rwc");
        let unset = Config::at("d".into(), "p".into(), "plans".into(), "h".into());
        assert_eq!(unset.migration_url(), unset.database_url);
    }

    #[test]
    fn the_checkpoint_key_and_origin_come_from_the_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shuangsui.toml");
        let base = "listen = \"127.0.0.1:8080\"\ndata_dir = \"/srv/my office\"\nplans_dir = \"p\"\n";
        std::fs::write(&path, base).unwrap();
        let config = Config::load(&path, |_| None).unwrap();
        assert_eq!(
            config.checkpoint_key_path(),
            PathBuf::from("/srv/my office/checkpoint.key")
        );
        assert_eq!(config.default_origin(), "shuangsui/my-office");
        assert_eq!(config.ledger_origin, None);
        let moved = config.with_data_dir("/elsewhere".into(), false);
        assert_eq!(moved.checkpoint_key_path(), PathBuf::from("/elsewhere/checkpoint.key"));

        std::fs::write(
            &path,
            format!("{base}ledger_origin = \"shuangsui/pz\"\ncheckpoint_key_file = \"/etc/k\"\n"),
        )
        .unwrap();
        let config = Config::load(&path, |_| None).unwrap();
        assert_eq!(config.ledger_origin.as_deref(), Some("shuangsui/pz"));
        assert_eq!(config.checkpoint_key_path(), PathBuf::from("/etc/k"));
        let env = |name: &str| (name == "SHUANGSUI_CHECKPOINT_KEY_FILE").then(|| "/run/k".to_owned());
        assert_eq!(
            Config::load(&path, env).unwrap().checkpoint_key_path(),
            PathBuf::from("/run/k")
        );

        std::fs::write(&path, format!("{base}ledger_origin = \"two words\"\n")).unwrap();
        let err = Config::load(&path, |_| None).unwrap_err().to_string();
        assert!(err.contains("ledger_origin"), "{err}");
    }

    #[test]
    fn a_config_at_folders_has_the_defaults() {
        let config = Config::at("d".into(), "p".into(), "plans".into(), "h".into());
        assert_eq!(config.database_url, "sqlite://d/ledger.db?mode=rwc");
        assert_eq!(config.time_zone, Zone::SHANGHAI);
        assert!(config.token.is_none() && config.schedule.is_none() && config.sample_pools.is_none());
        assert_eq!(config.listen.port(), 0);
        // A dead scheduler is replaced well within a minute.
        assert!(config.scheduler_lease.poll <= std::time::Duration::from_secs(15));
    }

    #[test]
    fn the_scheduler_lease_times_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shuangsui.toml");
        let base = "listen = \"127.0.0.1:8080\"\ndata_dir = \"var\"\nplans_dir = \"p\"\n";
        std::fs::write(
            &path,
            format!("{base}scheduler_poll_seconds = 2\nscheduler_stall_seconds = 30\n"),
        )
        .unwrap();
        let times = Config::load(&path, |_| None).unwrap().scheduler_lease;
        assert_eq!(times.poll, std::time::Duration::from_secs(2));
        assert_eq!(times.stall, std::time::Duration::from_secs(30));
        std::fs::write(&path, format!("{base}scheduler_poll_seconds = 0\n")).unwrap();
        let err = Config::load(&path, |_| None).unwrap_err().to_string();
        assert!(err.contains("scheduler_poll_seconds"), "{err}");
    }

    #[test]
    fn the_job_wait_comes_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shuangsui.toml");
        let base = "listen = \"127.0.0.1:8080\"\ndata_dir = \"var\"\nplans_dir = \"p\"\n";
        std::fs::write(&path, base).unwrap();
        assert_eq!(
            Config::load(&path, |_| None).unwrap().job_wait,
            super::super::jobs::DEFAULT_WAIT
        );
        std::fs::write(&path, format!("{base}job_wait_ms = 250\n")).unwrap();
        assert_eq!(
            Config::load(&path, |_| None).unwrap().job_wait,
            std::time::Duration::from_millis(250)
        );
        std::fs::write(&path, format!("{base}scheduler_poll_seconds = 0\n")).unwrap();
        let err = Config::load(&path, |_| None).unwrap_err().to_string();
        assert!(err.contains("scheduler_poll_seconds"), "{err}");
    }
}
