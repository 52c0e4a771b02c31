//! Configuration: command-line flags, environment variables, and an optional berth.toml, in
//! that order of precedence.
use crate::connections::{
    ConnectionLimits, DEFAULT_HEADER_TIMEOUT_SECS, DEFAULT_IDLE_TIMEOUT_SECS,
    DEFAULT_MAX_CONNECTIONS,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Browser-delivered, container-isolated desktops and apps."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Berth server: web app, JSON APIs, manager and the local agent.
    Serve(ServeArgs),
    /// Run an agent on this Docker host, checking in with a Berth server's manager.
    Agent(AgentArgs),
    /// Build the session images.
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build session images (desktop, desktop-deluxe, firefox), skipping those up to date.
    Build {
        /// Images to build; none or --all builds every one.
        names: Vec<String>,
        #[arg(long)]
        all: bool,
        /// Folder holding the image definitions.
        #[arg(long, env = "BERTH_IMAGES_DIR", default_value = "images")]
        dir: PathBuf,
    },
}

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// URL of the Berth server whose manager this agent reports to.
    #[arg(long = "manager", env = "BERTH_MANAGER_URL")]
    pub manager_url: String,
    /// Refused: a credential on the command line is readable by every user of the host.
    /// Use --token-file or BERTH_AGENT_TOKEN.
    #[arg(long, hide = true)]
    pub token: Option<String>,
    /// File holding this agent's credential (issued in Admin → Servers); or give it in
    /// BERTH_AGENT_TOKEN.
    #[arg(long, env = "BERTH_AGENT_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Name of this agent, unique among agents [default: the host name].
    #[arg(long, env = "BERTH_AGENT_NAME")]
    pub name: Option<String>,
    /// Address of the agent API.
    #[arg(long, env = "BERTH_AGENT_LISTEN", default_value = "127.0.0.1:7001")]
    pub listen: SocketAddr,
    /// URL the manager uses to reach this agent [default: http://<listen>].
    #[arg(long, env = "BERTH_AGENT_URL")]
    pub advertise_url: Option<String>,
    /// Seconds between check-ins (1 to 3600).
    #[arg(long, env = "BERTH_AGENT_INTERVAL", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Log format: text or json.
    #[arg(long, env = "BERTH_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    /// Folder under which this host keeps persistent profiles [default: /var/lib/berth/profiles].
    #[arg(long, env = "BERTH_PROFILE_ROOT")]
    pub profile_root: Option<PathBuf>,
    /// Host folders volume mappings may use, comma-separated absolute paths [default: none,
    /// so no mapping is allowed].
    #[arg(long, env = "BERTH_VOLUME_ROOTS", default_value = "")]
    pub volume_roots: String,
    /// Folder under which each session without a profile gets the host folders behind its
    /// ~/Uploads and ~/Downloads, or `off` (transfers then go through docker exec, slower)
    /// [default: /var/lib/berth/transfers].
    #[arg(long, env = "BERTH_TRANSFER_ROOT")]
    pub transfer_root: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// `Default` is every setting unset (no file: its path is empty), as the tests start from.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Optional configuration file (TOML, keys named like the long flags with underscores).
    #[arg(long, env = "BERTH_CONFIG", default_value = "berth.toml")]
    pub config: PathBuf,
    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, env = "BERTH_ADDR")]
    pub addr: Option<SocketAddr>,
    /// PostgreSQL URL, e.g. postgres://user:pass@host:5432/berth.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Redis URL, e.g. redis://127.0.0.1:6379.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Password for the `admin` account created on first start (generated and printed when unset).
    #[arg(long, env = "BERTH_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "BERTH_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Folder holding the built web assets (pkg/ with the WASM bundle) [default: target/site].
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<String>,
    /// The public origin (e.g. https://berth.example.com) when behind a reverse proxy; the
    /// session cookie is marked Secure when it is https.
    #[arg(long, env = "BERTH_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Behind a reverse proxy: the header in which it names the client's address (e.g.
    /// X-Forwarded-For; its last value is taken), for per-address limits. Only set this when
    /// every request comes through that proxy [default: the connection's peer].
    #[arg(long, env = "BERTH_CLIENT_ADDRESS_HEADER")]
    pub client_address_header: Option<String>,
    /// Prefix for every Redis key [default: berth:].
    #[arg(long, env = "BERTH_REDIS_PREFIX")]
    pub redis_prefix: Option<String>,
    /// Seconds between agent check-ins (1 to 3600); an agent is offline after three missed
    /// [default: 5].
    #[arg(long, env = "BERTH_AGENT_INTERVAL", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub agent_interval: Option<u64>,
    /// Do not run an agent inside this server (only remote agents host sessions).
    #[arg(long, env = "BERTH_NO_LOCAL_AGENT", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub no_local_agent: bool,
    /// Seconds a client has to send a request's headers, counted from when the server starts
    /// waiting for them; slower clients are disconnected [default: 10].
    #[arg(long, env = "BERTH_HEADER_TIMEOUT")]
    pub header_timeout: Option<u64>,
    /// Seconds after which a connection on which nothing moves is closed; WebSocket streams
    /// (desktop, chat) are exempt [default: 60].
    #[arg(long, env = "BERTH_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// Connections served at once, WebSockets included; more wait until one closes
    /// [default: 1024].
    #[arg(long, env = "BERTH_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// File holding the token a metrics scraper sends (`Authorization: Bearer <token>`) to
    /// read GET /metrics; at least 16 characters. Without it only signed-in administrators may
    /// read the metrics.
    #[arg(long, env = "BERTH_METRICS_TOKEN_FILE")]
    pub metrics_token_file: Option<PathBuf>,
}

/// The optional file, with the same keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<SocketAddr>,
    database_url: Option<String>,
    redis_url: Option<String>,
    admin_password: Option<String>,
    log_format: Option<LogFormat>,
    site_root: Option<String>,
    public_url: Option<String>,
    client_address_header: Option<String>,
    redis_prefix: Option<String>,
    /// No longer used (agents have their own credentials): accepted so that an old file
    /// still starts, with a warning.
    agent_token: Option<String>,
    agent_interval: Option<u64>,
    no_local_agent: Option<bool>,
    header_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    metrics_token_file: Option<PathBuf>,
}

/// Everything `berth serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// The token that lets a scraper read GET /metrics (none: administrators only).
    pub metrics_token: Option<secrecy::SecretString>,
    pub database_url: String,
    pub redis_url: String,
    pub admin_password: Option<String>,
    pub log_format: LogFormat,
    pub site_root: String,
    pub public_url: Option<url::Url>,
    pub client_address_header: Option<String>,
    pub redis_prefix: String,
    pub agent_interval: u64,
    pub local_agent: bool,
    /// Settings that are no longer used, to warn about once logging is up.
    pub obsolete: Vec<String>,
    pub connection_limits: ConnectionLimits,
}

/// A setting missing or malformed at startup: each names it and says how to provide it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {error}", .path.display())]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not valid: {error}", .path.display())]
    Invalid {
        path: PathBuf,
        error: Box<toml::de::Error>,
    },
    #[error(
        "no database configured: set DATABASE_URL (or database_url in berth.toml) to a \
         PostgreSQL URL, e.g. postgres://berth:berth@127.0.0.1:5432/berth, or start Berth with \
         ./scripts/run, which runs a local PostgreSQL"
    )]
    NoDatabase,
    #[error(
        "no Redis configured: set REDIS_URL (or redis_url in berth.toml), e.g. \
         redis://127.0.0.1:6379, or start Berth with ./scripts/run, which runs a local Redis"
    )]
    NoRedis,
    #[error(
        "BERTH_PUBLIC_URL '{text}' is not a URL ({error}); give e.g. https://berth.example.com"
    )]
    PublicUrl {
        text: String,
        error: url::ParseError,
    },
    #[error("BERTH_ADMIN_PASSWORD must have at least 8 characters")]
    ShortAdminPassword,
    #[error(
        "cannot read the metrics token file {} (BERTH_METRICS_TOKEN_FILE): {error}",
        .path.display()
    )]
    MetricsTokenUnreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "the metrics token in {path} is shorter than 16 characters; write a long random one, \
         e.g. `openssl rand -hex 32 > {path}`",
        path = .0.display()
    )]
    ShortMetricsToken(PathBuf),
    #[error(transparent)]
    AgentCredential(#[from] crate::agent::credential::CredentialError),
    /// BERTH_PROFILE_ROOT or BERTH_VOLUME_ROOTS malformed.
    #[error("{0}")]
    Storage(String),
}

impl ServeArgs {
    /// The configuration file's settings; none when there is no file.
    fn read_file(&self) -> Result<FileConfig, ConfigError> {
        if !self.config.exists() {
            return Ok(FileConfig::default());
        }
        let path = || self.config.clone();
        let text =
            std::fs::read_to_string(&self.config).map_err(|error| ConfigError::Unreadable {
                path: path(),
                error,
            })?;
        toml::from_str::<FileConfig>(&text).map_err(|error| ConfigError::Invalid {
            path: path(),
            error: Box::new(error),
        })
    }

    /// Merges flags/environment over the file over defaults. Errs with a message that names
    /// the missing or malformed setting and how to provide it.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = self.read_file()?;
        let connection_limits = self.connection_limits(&file);
        let metrics_token = read_metrics_token(
            self.metrics_token_file
                .as_ref()
                .or(file.metrics_token_file.as_ref()),
        )?;
        let database_url =
            (self.database_url.or(file.database_url)).ok_or(ConfigError::NoDatabase)?;
        let redis_url = (self.redis_url.or(file.redis_url)).ok_or(ConfigError::NoRedis)?;
        let public_url = match self.public_url.or(file.public_url) {
            Some(text) => Some(
                url::Url::parse(&text).map_err(|error| ConfigError::PublicUrl { text, error })?,
            ),
            None => None,
        };
        let obsolete = file
            .agent_token
            .map(|_| {
                format!(
                    "agent_token in {} is no longer used: {OBSOLETE_AGENT_TOKEN}",
                    self.config.display()
                )
            })
            .into_iter()
            .collect();
        let admin_password = self.admin_password.or(file.admin_password);
        if let Some(password) = &admin_password {
            if password.chars().count() < 8 {
                return Err(ConfigError::ShortAdminPassword);
            }
        }
        Ok(ServeConfig {
            metrics_token,
            addr: self
                .addr
                .or(file.addr)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3000))),
            database_url,
            redis_url,
            admin_password,
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            site_root: self
                .site_root
                .or(file.site_root)
                .unwrap_or_else(|| "target/site".into()),
            public_url,
            client_address_header: self.client_address_header.or(file.client_address_header),
            redis_prefix: self
                .redis_prefix
                .or(file.redis_prefix)
                .unwrap_or_else(|| "berth:".into()),
            agent_interval: self
                .agent_interval
                .or(file.agent_interval)
                .unwrap_or(5)
                .max(1),
            local_agent: !(self.no_local_agent || file.no_local_agent.unwrap_or(false)),
            obsolete,
            connection_limits,
        })
    }

    /// The listener's limits: flags/environment over the file over the defaults.
    fn connection_limits(&self, file: &FileConfig) -> ConnectionLimits {
        ConnectionLimits {
            header_timeout: seconds(
                self.header_timeout.or(file.header_timeout),
                DEFAULT_HEADER_TIMEOUT_SECS,
            ),
            idle_timeout: seconds(
                self.idle_timeout.or(file.idle_timeout),
                DEFAULT_IDLE_TIMEOUT_SECS,
            ),
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS)
                .max(1),
        }
    }
}

/// The metrics token from its file: trimmed, at least 16 characters.
fn read_metrics_token(
    path: Option<&PathBuf>,
) -> Result<Option<secrecy::SecretString>, ConfigError> {
    let Some(path) = path else { return Ok(None) };
    let text =
        std::fs::read_to_string(path).map_err(|error| ConfigError::MetricsTokenUnreadable {
            path: path.clone(),
            error,
        })?;
    let token = text.trim();
    if token.chars().count() < 16 {
        return Err(ConfigError::ShortMetricsToken(path.clone()));
    }
    Ok(Some(secrecy::SecretString::from(token.to_owned())))
}

impl AgentArgs {
    /// The agent's configuration, with warnings worth logging; `environment_token` is
    /// BERTH_AGENT_TOKEN. Errs saying how to provide what is missing or refused.
    pub fn resolve(
        self,
        environment_token: Option<String>,
    ) -> Result<(crate::agent::AgentConfig, Vec<String>), ConfigError> {
        let (credential, warnings) =
            crate::agent::credential::resolve(crate::agent::credential::Sources {
                flag: self.token.as_deref(),
                file: self.token_file.as_deref(),
                environment: environment_token,
            })?;
        let mut warnings = warnings;
        warnings.extend(cleartext_warning("--manager", &self.manager_url));
        if let Some(advertised) = &self.advertise_url {
            warnings.extend(cleartext_warning("--advertise-url", advertised));
        }
        let config = crate::agent::AgentConfig {
            name: self.name.unwrap_or_else(crate::host::host_name),
            manager_url: self.manager_url,
            credential,
            listen: self.listen,
            advertise_url: self.advertise_url,
            interval: std::time::Duration::from_secs(self.interval.max(1)),
            start_timeout: std::time::Duration::from_secs(90),
            instance_id: uuid::Uuid::new_v4(),
            storage: crate::agent::storage::StorageConfig::parse(
                self.profile_root.as_deref(),
                &self.volume_roots,
                self.transfer_root.as_deref(),
            )
            .map_err(ConfigError::Storage)?,
        };
        Ok((config, warnings))
    }
}

/// A warning when `url` is plain http to another machine: the agent's credential, its API
/// secret and session secrets would cross the network readable (README: "TLS between the
/// server and agents").
fn cleartext_warning(setting: &str, url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let loopback = match parsed.host()? {
        url::Host::Domain(name) => name == "localhost",
        url::Host::Ipv4(address) => address.is_loopback(),
        url::Host::Ipv6(address) => address.is_loopback(),
    };
    (parsed.scheme() == "http" && !loopback).then(|| {
        format!(
            "{setting} {url} is plain http to another machine: credentials and session secrets \
             cross the network unencrypted; use https (a TLS reverse proxy in front, see the README)"
        )
    })
}

/// Why the shared agent token went, and what replaces it.
pub const OBSOLETE_AGENT_TOKEN: &str = "each agent now has its own credential (Admin → Servers: \
     Add server, or New credential on an agent's row; give it to `berth agent --token-file`), \
     and the shared token is refused; remove the setting";

/// A setting in seconds, at least one (zero would cut every client at once).
fn seconds(value: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(value.unwrap_or(default).max(1))
}

/// A URL with its password replaced by ****, for messages and logs.
pub fn mask_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments as if no flag, variable or file were given (tests must not read the
    /// environment, which may hold DATABASE_URL).
    fn args() -> ServeArgs {
        ServeArgs {
            config: PathBuf::from("/nonexistent/berth.toml"),
            ..ServeArgs::default()
        }
    }

    #[test]
    fn every_setting_has_an_environment_variable() {
        use clap::CommandFactory;
        let command = Cli::command();
        let serve = command.find_subcommand("serve").unwrap();
        for arg in serve
            .get_arguments()
            .filter(|arg| arg.get_id() != "help" && arg.get_id() != "version")
        {
            assert!(
                arg.get_env().is_some(),
                "--{} has no environment variable",
                arg.get_id()
            );
        }
    }

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            mask_password("postgres://berth:secret@db:5432/berth"),
            "postgres://berth:****@db:5432/berth"
        );
        assert_eq!(
            mask_password("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert!(!mask_password("not a url :secret@").contains("secret"));
    }

    #[test]
    fn missing_database_url_names_the_variable() {
        let error = ServeArgs {
            redis_url: Some("redis://x".into()),
            ..args()
        }
        .resolve()
        .unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL"), "{error}");
    }

    #[test]
    fn the_file_fills_in_what_flags_leave_out() {
        let dir = std::env::temp_dir().join(format!("berth-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("berth.toml");
        std::fs::write(&path, "database_url = \"postgres://f/db\"\nredis_url = \"redis://file\"\naddr = \"127.0.0.1:4000\"\n").unwrap();
        let config = ServeArgs {
            config: path,
            redis_url: Some("redis://flag".into()),
            ..args()
        }
        .resolve()
        .unwrap();
        assert_eq!(config.database_url, "postgres://f/db");
        assert_eq!(config.redis_url, "redis://flag");
        assert_eq!(config.addr.port(), 4000);
    }

    fn agent_args(extra: &[&str]) -> AgentArgs {
        let mut argv = vec!["berth", "agent", "--manager", "http://berth:3000"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Agent(args) => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_agent_credential_on_the_command_line_is_refused() {
        let error = agent_args(&["--token", "abc.def"])
            .resolve(Some("abc.def".into()))
            .unwrap_err();
        assert!(error.to_string().contains("--token-file"), "{error}");
        let error = agent_args(&[]).resolve(None).unwrap_err();
        assert!(error.to_string().contains("BERTH_AGENT_TOKEN"), "{error}");
        let (config, _) = agent_args(&["--name", "host-a"])
            .resolve(Some("abc.def".into()))
            .unwrap();
        assert_eq!(
            (config.name.as_str(), config.credential.as_str()),
            ("host-a", "abc.def")
        );
    }

    #[test]
    fn plain_http_to_another_machine_is_warned_about() {
        let (_, warnings) = agent_args(&["--advertise-url", "http://10.0.0.5:7001"])
            .resolve(Some("abc.def".into()))
            .unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings.iter().all(|w| w.contains("use https")),
            "{warnings:?}"
        );
        for quiet in [
            "https://berth.example",
            "http://127.0.0.1:3000",
            "http://localhost:3000",
        ] {
            assert_eq!(cleartext_warning("--manager", quiet), None, "{quiet}");
        }
    }

    #[test]
    fn a_shared_agent_token_left_in_the_file_is_reported_obsolete() {
        let dir =
            std::env::temp_dir().join(format!("berth-config-obsolete-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("berth.toml");
        std::fs::write(&path, "agent_token = \"shared\"\n").unwrap();
        let config = ServeArgs {
            config: path,
            database_url: Some("postgres://x/y".into()),
            redis_url: Some("redis://x".into()),
            ..args()
        }
        .resolve()
        .unwrap();
        assert_eq!(config.obsolete.len(), 1);
        assert!(
            config.obsolete[0].contains("own credential"),
            "{:?}",
            config.obsolete
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn connection_limits_default_and_can_be_set() {
        let urls = || ServeArgs {
            database_url: Some("postgres://x/y".into()),
            redis_url: Some("redis://x".into()),
            ..args()
        };
        let defaults = urls().resolve().unwrap().connection_limits;
        assert_eq!(defaults, ConnectionLimits::default());
        assert_eq!(defaults.header_timeout, Duration::from_secs(10));
        let set = ServeArgs {
            header_timeout: Some(3),
            idle_timeout: Some(0),
            max_connections: Some(50),
            ..urls()
        }
        .resolve()
        .unwrap()
        .connection_limits;
        assert_eq!(set.header_timeout, Duration::from_secs(3));
        assert_eq!(set.idle_timeout, Duration::from_secs(1));
        assert_eq!(set.max_connections, 50);
    }

    #[test]
    fn short_admin_passwords_are_refused() {
        let error = ServeArgs {
            database_url: Some("postgres://x/y".into()),
            redis_url: Some("redis://x".into()),
            admin_password: Some("short".into()),
            ..args()
        }
        .resolve()
        .unwrap_err();
        assert!(matches!(error, ConfigError::ShortAdminPassword), "{error}");
    }
}
