//! A real PostgreSQL for the tests, and a way to run one test body on each
//! database the ledger supports.
//!
//! Include it with `#[path = "common/postgres.rs"] mod postgres;`. The server
//! is `SHUANGSUI_TEST_DATABASE_URL` when set (a role that may create
//! databases and roles; any database of the server), else a throwaway
//! cluster started once per test binary: `initdb` and `pg_ctl` from
//! `SHUANGSUI_TEST_POSTGRES_BIN`, else the newest `/usr/lib/postgresql/*/bin`,
//! else `PATH`, in a temporary folder, listening
//! only on a unix socket there, run as the `postgres` user when the tests
//! run as root (PostgreSQL refuses to run as root). Every test gets a fresh
//! database of its own ([`fresh`]), so tests run in parallel.
//!
//! The cluster is stopped when the test binary exits (an `atexit` handler:
//! statics are never dropped), and a watchdog process stops it if the
//! binary is killed instead, so no postmaster outlives `cargo test`.
//!
//! Without server binaries the PostgreSQL half of a test is skipped with the
//! reason printed; with `SHUANGSUI_REQUIRE_POSTGRES=1` (CI) a skip fails.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use sqlx::{Connection, Executor, PgConnection};

pub const URL_VAR: &str = "SHUANGSUI_TEST_DATABASE_URL";
pub const REQUIRE_VAR: &str = "SHUANGSUI_REQUIRE_POSTGRES";
/// The folder of `initdb` and `pg_ctl`, instead of looking for them.
pub const BIN_VAR: &str = "SHUANGSUI_TEST_POSTGRES_BIN";

/// Which database a test body runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test.
pub struct TestDb {
    pub backend: Backend,
    /// The URL the service uses. On PostgreSQL a superuser's (the test
    /// server's admin), which owns what it migrates.
    pub url: String,
    /// For PostgreSQL, the database's name.
    pub name: Option<String>,
    /// For SQLite, the folder holding the file.
    dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database on `backend`, or `None` when PostgreSQL is skipped
    /// (the reason is printed; under `SHUANGSUI_REQUIRE_POSTGRES=1` this
    /// panics instead).
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("ledger.db").display());
                Some(TestDb {
                    backend,
                    url,
                    name: None,
                    dir: Some(dir),
                })
            }
            Backend::Postgres => fresh().await,
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Another fresh database of the same kind (for SQLite, another file).
    pub async fn another(&self) -> TestDb {
        Box::pin(TestDb::new(self.backend))
            .await
            .expect("the server answered once")
    }

    /// Points a test service at this database: on PostgreSQL as the
    /// README's two roles, so the service path runs with only the grants
    /// the service is given; on SQLite the service's default, the ledger
    /// file in its data folder.
    pub async fn for_service(&self) -> impl FnOnce(&mut shuangsui::service::config::Config) {
        let roles = if self.is_postgres() {
            Some(self.two_roles().await)
        } else {
            None
        };
        move |config| {
            if let Some((owner, service)) = roles {
                config.database_url = service;
                config.migration_database_url = Some(owner);
            }
        }
    }

    /// PostgreSQL only: a new owner role that owns this database, and a new
    /// service role with no privileges at all yet; their URLs, as
    /// (owner, service). The roles are the README's two, made per test.
    pub async fn two_roles(&self) -> (String, String) {
        let name = self.name.as_deref().expect("two roles are a PostgreSQL setup");
        let owner = format!("{name}_owner");
        let service = format!("{name}_service");
        let mut admin = admin().await;
        for sql in [
            format!("CREATE ROLE {owner} LOGIN PASSWORD 'owner'"),
            format!("CREATE ROLE {service} LOGIN PASSWORD 'service'"),
            format!("ALTER DATABASE {name} OWNER TO {owner}"),
        ] {
            admin.execute(sql.as_str()).await.unwrap();
        }
        admin.close().await.unwrap();
        (
            url_as(&self.url, &owner, "owner"),
            url_as(&self.url, &service, "service"),
        )
    }
}

/// Runs each named `async fn NAME(db: TestDb)` of the test file on SQLite
/// and on PostgreSQL, as the tests `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = super::postgres::TestDb::new(super::postgres::Backend::Sqlite).await.unwrap();
                    super::$name(db).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(db) = super::postgres::TestDb::new(super::postgres::Backend::Postgres).await {
                        super::$name(db).await;
                    }
                }
            }
        )*
    };
}
pub(crate) use on_both_databases;

/// The server's admin URL, to its maintenance database `postgres`.
struct Server {
    admin: String,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh database on the test server, or `None` when it is skipped.
pub async fn fresh() -> Option<TestDb> {
    let server = match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(reason) => {
            if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
                panic!("{REQUIRE_VAR}=1, but there is no PostgreSQL to test on: {reason}");
            }
            // Once per binary, and past the test harness's capture (which
            // takes only the print macros), so a skip is seen in any run.
            static TOLD: std::sync::Once = std::sync::Once::new();
            TOLD.call_once(|| {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "PostgreSQL tests skipped: {reason}");
            });
            return None;
        }
    };
    let name = format!(
        "shuangsui_t{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = admin().await;
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    admin.close().await.unwrap();
    Some(TestDb {
        backend: Backend::Postgres,
        url: with_database(&server.admin, &name),
        name: Some(name),
        dir: None,
    })
}

/// A connection to the server's maintenance database, as its admin.
pub async fn admin() -> PgConnection {
    let server = SERVER
        .get()
        .and_then(|s| s.as_ref().ok())
        .expect("the server is started");
    PgConnection::connect(&server.admin)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test server: {e}"))
}

fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a PostgreSQL URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

fn url_as(url: &str, user: &str, password: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a PostgreSQL URL");
    parsed.set_username(user).unwrap();
    parsed.set_password(Some(password)).unwrap();
    parsed.to_string()
}

fn start() -> Result<Server, String> {
    if let Ok(url) = std::env::var(URL_VAR) {
        return Ok(Server { admin: url });
    }
    let bin = server_binaries().ok_or_else(|| {
        format!(
            "{URL_VAR} is not set and no PostgreSQL server binaries (initdb, pg_ctl) are in {BIN_VAR}, \
             /usr/lib/postgresql/*/bin or on PATH"
        )
    })?;
    let root = std::env::temp_dir().join(format!("shuangsui-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    // PostgreSQL will not run as root: as root, the cluster is the postgres
    // user's, in a folder it owns.
    let as_root = unsafe { libc::geteuid() } == 0;
    if as_root {
        let (uid, gid) =
            postgres_user().ok_or("running as root, and there is no postgres user to run the server as")?;
        std::os::unix::fs::chown(&root, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", root.display()))?;
    }
    // From here on, whatever happens to this process, the folder and any
    // server in it go when it ends.
    watchdog(&bin, &root, as_root);
    let data = root.join("data");
    let run = |program: &str, args: &[&str]| -> Result<(), String> {
        let path = bin.join(program);
        let mut command = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    };
    let data_arg = data.to_str().unwrap();
    run(
        "initdb",
        &[
            "-D",
            data_arg,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
    )?;
    let options = format!(
        "-c listen_addresses='' -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        root.display()
    );
    let log = root.join("server.log");
    let started = run(
        "pg_ctl",
        &[
            "-D",
            data_arg,
            "-l",
            log.to_str().unwrap(),
            "-o",
            &options,
            "-w",
            "start",
        ],
    );
    // Registered even if the start failed half-way: a postmaster that came
    // up after pg_ctl gave up is still stopped.
    let _ = CLUSTER.set(Cluster {
        bin: bin.clone(),
        root: root.clone(),
        as_root,
    });
    unsafe { libc::atexit(stop_cluster) };
    started.map_err(|e| format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()))?;
    Ok(Server {
        admin: format!("postgres://postgres@localhost/postgres?host={}", root.display()),
    })
}

struct Cluster {
    bin: PathBuf,
    root: PathBuf,
    as_root: bool,
}

impl Cluster {
    /// The shell command that stops the server and removes its folder.
    fn stop_script(&self) -> String {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = format!(
            "'{}' -D '{}' -m immediate -w stop >/dev/null 2>&1",
            pg_ctl.display(),
            self.root.join("data").display()
        );
        let stop = if self.as_root {
            format!("runuser -u postgres -- {stop}")
        } else {
            stop
        };
        format!("{stop}; rm -rf '{}'", self.root.display())
    }
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

extern "C" fn stop_cluster() {
    if let Some(cluster) = CLUSTER.get() {
        let _ = Command::new("sh")
            .args(["-c", &cluster.stop_script()])
            .stdin(Stdio::null())
            .status();
    }
}

/// A process that waits for this one to end and then stops the cluster:
/// for a test binary killed before its `atexit` handler could run. In a
/// process group of its own, so the Ctrl-C that stops `cargo test` does not
/// stop it first.
fn watchdog(bin: &Path, root: &Path, as_root: bool) {
    let cluster = Cluster {
        bin: bin.to_owned(),
        root: root.to_owned(),
        as_root,
    };
    let script = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; {}",
        std::process::id(),
        cluster.stop_script()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}

/// The folder of `initdb` and `pg_ctl`: `SHUANGSUI_TEST_POSTGRES_BIN`, else
/// the newest `/usr/lib/postgresql/N/bin`, else wherever `PATH` has them.
fn server_binaries() -> Option<PathBuf> {
    let usable = |bin: &Path| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file();
    if let Some(bin) = std::env::var_os(BIN_VAR) {
        let bin = PathBuf::from(bin);
        return usable(&bin).then_some(bin);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            usable(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| std::env::split_paths(&path).find(|dir| usable(dir)))
}

fn postgres_user() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let output = Command::new("id").args([flag, "postgres"]).output().ok()?;
        output.status.success().then_some(())?;
        String::from_utf8(output.stdout).ok()?.trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}
