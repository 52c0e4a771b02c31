//! Bringing `berth serve` up: connect, migrate, bootstrap, listen, shut down gracefully.
use crate::api;
use crate::config::{mask_password, ServeConfig};
use crate::manager::{Manager, ManagerConfig, ManagerHandle};
use crate::share::ShareHub;
use app::backend::state::{AppState, CookieSecurity, WebSettings};
use app::backend::users::FirstAdmin;
use leptos::prelude::LeptosOptions;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "cannot connect to PostgreSQL at {url}: {source}. Check DATABASE_URL (is the server running, \
         the database created, the password right?), or run ./scripts/run, which starts a local PostgreSQL"
    )]
    Database { url: String, source: sqlx::Error },
    #[error("cannot apply the database migrations on {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error(
        "cannot connect to Redis at {url}: {reason}. Check REDIS_URL (is redis-server running?), \
         or run ./scripts/run, which starts a local Redis"
    )]
    Redis { url: String, reason: String },
    #[error("cannot listen on {addr}: {source}. Is another process using it? Set BERTH_ADDR to a free address")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the first admin account: {0}")]
    Bootstrap(app::AppError),
    #[error("cannot register the default workspace images: {0}")]
    DefaultImages(store::StoreError),
    #[error("cannot issue the embedded agent's credential: {0}")]
    LocalAgentCredential(store::StoreError),
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

pub async fn connect_database(url: &str) -> Result<PgPool, StartupError> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|source| StartupError::Database {
            url: mask_password(url),
            source,
        })?;
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|source| StartupError::Migrate {
            url: mask_password(url),
            source,
        })?;
    Ok(pool)
}

pub async fn connect_redis(url: &str) -> Result<ConnectionManager, StartupError> {
    let failed = |reason: String| StartupError::Redis {
        url: mask_password(url),
        reason,
    };
    let client = redis::Client::open(url).map_err(|error| failed(error.to_string()))?;
    // Reconnection waits are backon's min delay (1 s) times factor^attempt, capped by
    // max_delay (ms): without the cap, redis-rs' default factor of 100 makes the second
    // attempt wait a minute, and every command hangs while Redis restarts.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(3))
        .set_response_timeout(Duration::from_secs(3))
        .set_number_of_retries(2)
        .set_factor(2)
        .set_max_delay(500);
    let mut manager = tokio::time::timeout(
        Duration::from_secs(5),
        ConnectionManager::new_with_config(client, config),
    )
    .await
    .map_err(|_| failed("no answer within 5 seconds".into()))?
    .map_err(|error| failed(error.to_string()))?;
    redis::cmd("PING")
        .query_async::<String>(&mut manager)
        .await
        .map_err(|error| failed(error.to_string()))?;
    Ok(manager)
}

pub fn leptos_options(site_root: &str, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("berth")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

pub fn web_settings(config: &ServeConfig) -> WebSettings {
    let public_https = config
        .public_url
        .as_ref()
        .is_some_and(|url| url.scheme() == "https");
    WebSettings {
        redis_prefix: config.redis_prefix.clone(),
        cookie_security: if public_https {
            CookieSecurity::Always
        } else {
            CookieSecurity::Auto
        },
        public_origin: config
            .public_url
            .as_ref()
            .map(|url| url.origin().ascii_serialization()),
        client_address_header: config.client_address_header.clone(),
    }
}

/// Containers one agent creates at once (more launches queue): on this 2-core class of
/// machine, four desktops starting together keep each start near its unloaded time.
pub const LAUNCHES_PER_AGENT: usize = 4;

/// The manager for a server, with its timings.
pub fn manager(db: PgPool, agent_interval: Duration) -> Arc<Manager> {
    Manager::new(
        db,
        ManagerConfig {
            launch_timeout: Duration::from_secs(120),
            sweep_interval: agent_interval.min(Duration::from_secs(5)),
            launches_per_agent: LAUNCHES_PER_AGENT,
        },
    )
}

/// The shared state around a database, Redis and manager.
pub fn app_state(
    config: &ServeConfig,
    db: PgPool,
    redis: ConnectionManager,
    manager: &Arc<Manager>,
) -> AppState {
    AppState {
        leptos_options: leptos_options(&config.site_root, config.addr),
        db,
        redis,
        web: Arc::new(web_settings(config)),
        sessions: Arc::new(ManagerHandle(manager.clone())),
    }
}

/// Connects to PostgreSQL (migrating it) and Redis, creates the first admin and the default
/// images if needed: what `berth serve` does before [`Berth::assemble`].
pub async fn connect_and_bootstrap(
    config: &ServeConfig,
) -> Result<(PgPool, ConnectionManager), StartupError> {
    crate::memory::tune_allocator();
    let db = connect_database(&config.database_url).await?;
    let redis = connect_redis(&config.redis_url).await?;
    bootstrap(config, &db).await?;
    Ok((db, redis))
}

/// The first administrator and the default workspace images, on a database that has neither.
async fn bootstrap(config: &ServeConfig, db: &PgPool) -> Result<(), StartupError> {
    match app::backend::users::ensure_first_admin(db, config.admin_password.clone())
        .await
        .map_err(StartupError::Bootstrap)?
    {
        FirstAdmin::Generated(generated) => {
            // Shown once, on the console of whoever started the first run.
            println!("Created the administrator account: username admin, password {generated}");
            println!("(set BERTH_ADMIN_PASSWORD before the first start to choose it)");
        }
        FirstAdmin::Created => tracing::info!("created the administrator account 'admin'"),
        FirstAdmin::Existing => {}
    }
    match crate::manager::images::register_defaults(db).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "registered the default workspace images"),
        Err(error) => return Err(StartupError::DefaultImages(error)),
    }
    Ok(())
}

/// One Berth, wired from connected services the same way for `berth serve` and for the
/// integration tests' `spawn_app` (which differ only in the manager's agent client and in
/// what they bootstrap): the state every handler sees, the manager, the share hub.
pub struct Berth {
    pub state: AppState,
    pub manager: Arc<Manager>,
    pub hub: Arc<ShareHub>,
}

impl Berth {
    pub fn assemble(
        config: &ServeConfig,
        db: PgPool,
        redis: ConnectionManager,
        manager: Arc<Manager>,
    ) -> Result<Berth, StartupError> {
        // Installed before anything is recorded.
        crate::metrics::recorder();
        let hub = ShareHub::new(
            db.clone(),
            &config.redis_url,
            redis.clone(),
            config.redis_prefix.clone(),
        )
        .map_err(|reason| StartupError::Redis {
            url: mask_password(&config.redis_url),
            reason,
        })?;
        manager.keep_presence(crate::manager::presence::AgentPresence::new(
            redis.clone(),
            config.redis_prefix.clone(),
        ));
        Ok(Berth {
            state: app_state(config, db, redis, &manager),
            manager,
            hub,
        })
    }

    /// Serves on `listener` until `shutdown` resolves: the manager's periodic work, the
    /// housekeeping, the embedded agent (when configured) and the router behind the
    /// listener's limits. Launches still under way at the end are handed to the next replica.
    pub async fn run(
        self,
        config: &ServeConfig,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let Berth {
            state,
            manager,
            hub,
        } = self;
        let addr = listener.local_addr().map_err(StartupError::Serve)?;
        check_assets(&config.site_root);
        spawn_housekeeping(state.db.clone());
        manager.spawn_background();
        if config.local_agent {
            let name = crate::host::host_name();
            // A fresh credential at every start, known to this process only.
            let credential = app::backend::agent_credentials::issue_for_embedded(&state.db, &name)
                .await
                .map_err(StartupError::LocalAgentCredential)?;
            let instance = spawn_local_agent(config, addr, name, credential);
            manager.set_local_agent(instance);
        }
        tracing::info!(%addr, "Berth is listening on http://{addr}");
        crate::connections::serve(
            listener,
            api::router(
                state,
                manager.clone(),
                hub,
                api::metrics::MetricsAccess {
                    token: config.metrics_token.clone(),
                },
            ),
            config.connection_limits,
            shutdown,
        )
        .await;
        manager.retire().await;
        Ok(())
    }
}

pub async fn serve(config: ServeConfig) -> Result<(), StartupError> {
    let (db, redis) = connect_and_bootstrap(&config).await?;
    let manager = manager(db.clone(), Duration::from_secs(config.agent_interval));
    let berth = Berth::assemble(&config, db, redis, manager)?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|source| StartupError::Bind {
            addr: config.addr,
            source,
        })?;
    berth.run(&config, listener, shutdown_signal()).await?;
    tracing::info!("Berth stopped");
    Ok(())
}

/// The agent for this server's own host, reporting to this server's manager under `name`
/// with `credential`; answers its instance id.
fn spawn_local_agent(
    config: &ServeConfig,
    addr: SocketAddr,
    name: String,
    credential: String,
) -> uuid::Uuid {
    let manager_host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let agent = crate::agent::AgentConfig {
        name,
        manager_url: format!("http://{manager_host}:{}", addr.port()),
        credential,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise_url: None,
        interval: Duration::from_secs(config.agent_interval),
        start_timeout: Duration::from_secs(90),
        instance_id: uuid::Uuid::new_v4(),
        // The embedded agent reads the same variables as `berth agent`.
        storage: crate::agent::storage::StorageConfig::from_env().unwrap_or_else(|error| {
            tracing::error!(%error, "the local agent's storage settings are refused; it uses the defaults (no volume roots)");
            crate::agent::storage::StorageConfig::default()
        }),
    };
    let instance = agent.instance_id;
    tokio::spawn(async move {
        if let Err(error) = crate::agent::run(agent).await {
            tracing::error!(%error, "the local agent stopped");
        }
    });
    instance
}

/// The UI still renders without the WASM bundle, but nothing is interactive: say so.
fn check_assets(site_root: &str) {
    let bundle = std::path::Path::new(site_root).join("pkg").join("berth.js");
    if !bundle.exists() {
        tracing::warn!(
            path = %bundle.display(),
            "the web bundle is missing, so pages will not be interactive; build it with ./scripts/run or set LEPTOS_SITE_ROOT"
        );
    }
}

fn spawn_housekeeping(db: PgPool) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            match app::backend::auth::purge_expired_sign_ins(&db).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "removed expired sign-ins"),
                Err(error) => tracing::warn!(%error, "could not remove expired sign-ins"),
            }
        }
    });
}

/// Resolves on SIGINT or SIGTERM; in-flight requests are then allowed to finish.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing open requests");
}
