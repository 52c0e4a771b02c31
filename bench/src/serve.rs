//! A real `berth serve` for the benchmarks: a child process (stopped with the bench) on a free
//! port of 127.0.0.1, with its own database and Redis prefix, its embedded agent on this
//! machine's Docker, and its log in a scratch directory.
use crate::guard::Guard;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use uuid::Uuid;

type Result<T, E = String> = std::result::Result<T, E>;

/// Where a bench's Berth server gets its database, Redis and binary (every bench's flags).
#[derive(clap::Args)]
pub struct ServerArgs {
    /// A PostgreSQL URL whose user may create databases (scratch ones are made and dropped).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Redis for the Berth server.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:56379")]
    pub redis_url: String,
    /// The Berth server binary (a release build).
    #[arg(long, default_value = "target/release/berth")]
    pub berth: PathBuf,
}

impl ServerArgs {
    /// A small pool on DATABASE_URL for the bench's own setup (scratch databases, seeding);
    /// a bench that cannot reach it says so and exits.
    pub async fn admin_pool(&self, bench: &str) -> sqlx::PgPool {
        let connected = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.database_url)
            .await;
        connected.unwrap_or_else(|error| {
            eprintln!("bench/{bench}: cannot connect to DATABASE_URL: {error}");
            std::process::exit(1);
        })
    }

    /// Creates the empty database `name` beside DATABASE_URL's and answers its URL; a bench
    /// that cannot says so and exits.
    pub async fn scratch_database(&self, admin: &sqlx::PgPool, bench: &str, name: &str) -> String {
        let created = sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(admin)
            .await;
        if let Err(error) = created {
            eprintln!("bench/{bench}: cannot create the scratch database: {error}");
            std::process::exit(1);
        }
        let mut url = url::Url::parse(&self.database_url).expect("DATABASE_URL is a URL");
        url.set_path(name);
        url.to_string()
    }
}

/// Drops a scratch database (and any connection still on it), saying so when it cannot.
pub async fn drop_scratch_database(admin: &sqlx::PgPool, bench: &str, name: &str) {
    let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(admin)
        .await;
    if let Err(error) = dropped {
        eprintln!("bench/{bench}: could not drop the scratch database {name}: {error}");
    }
}

/// A pool on `url` with Berth's schema (the server migrates it too; done first by benches
/// that add rows before it starts).
pub async fn migrated_pool(url: &str) -> Result<sqlx::PgPool> {
    let db = sqlx::postgres::PgPoolOptions::new()
        .connect(url)
        .await
        .map_err(|e| e.to_string())?;
    berth::startup::MIGRATOR
        .run(&db)
        .await
        .map_err(|e| e.to_string())?;
    Ok(db)
}

/// Starts `berth serve` and waits until it answers; returns it and its base URL. Its log is
/// `berth.log` in `work`.
pub async fn start(
    berth: &Path,
    database_url: &str,
    redis_url: &str,
    redis_prefix: &str,
    work: &Path,
) -> Result<(Guard, String)> {
    let port = free_port()?;
    let log_path = work.join("berth.log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let mut server = Guard::spawn(
        "berth",
        Command::new(berth)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("REDIS_URL", redis_url)
            .env("BERTH_ADDR", format!("127.0.0.1:{port}"))
            .env("BERTH_ADMIN_PASSWORD", Uuid::new_v4().simple().to_string())
            .env("BERTH_CONFIG", "/nonexistent")
            .env("BERTH_LOG_FORMAT", "json")
            .env("BERTH_REDIS_PREFIX", redis_prefix)
            .env_remove("BERTH_NO_LOCAL_AGENT")
            .env_remove("BERTH_AGENT_TOKEN")
            .env_remove("BERTH_PUBLIC_URL")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log),
        log_path,
    )?;
    let base = format!("http://127.0.0.1:{port}");
    server
        .wait_http(&format!("{base}/api/__healthcheck"))
        .await?;
    Ok((server, base))
}

pub struct TempDir {
    pub path: PathBuf,
    pub keep: bool,
}

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
        Ok(TempDir { path, keep: false })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}
