//! Wiring: builds the adapters (store, event bus, model client, settings),
//! hands them to the [`Runtime`], and starts the observers (metrics, audit
//! log). What every front end shares, one per process. No business rules
//! live here: those are in [`crate::runtime`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::config::Config;
use crate::events::EventBus;
use crate::llm::config::LlmSettings;
use crate::llm::{LlmClient, LlmError};
use crate::metrics::Metrics;
use crate::runtime::{Parts, Runtime};
use crate::settings::{ConfigError, Settings};
use crate::store::{PgStore, RedbStore, Store, StoreError};
use crate::tools::ToolLimits;

pub use crate::settings::{USER_CONFIG_FILE, WORKSPACE_CONFIG_FILE};
pub use crate::workspace::{path_to_uri, uri_to_path};

/// Why the core cannot start.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The store failed or refused (locked, too new, I/O).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A configuration file is invalid (the message names the file, the
    /// line and the key).
    #[error("invalid configuration: {0}")]
    Config(ConfigError),
    /// The HTTP client for the model providers cannot be built.
    #[error("cannot start the LLM client: {0}")]
    LlmClient(LlmError),
}

// Not `#[from]`: that would make the error its source too, and the binary's
// edge would print the message twice.
impl From<ConfigError> for CoreError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

/// How commands start: through the launcher mode of `config.launcher`,
/// probed once; directly (unsandboxed) without one. Says at start-up when
/// commands cannot be sandboxed.
fn launcher(config: &Config) -> crate::process::Launcher {
    use crate::process::Launcher;
    let Some(exe) = &config.launcher else {
        return Launcher::direct("this process has no command launcher");
    };
    let probe_dir = config.data_dir.join("tmp");
    if let Err(e) = std::fs::create_dir_all(&probe_dir) {
        tracing::warn!(dir = %probe_dir.display(), "cannot create the temp dir: {e}");
    }
    let launcher = Launcher::detect(exe.clone(), &probe_dir);
    match launcher.support().reason() {
        None => tracing::info!("commands run sandboxed (Landlock and namespaces)"),
        Some(why) => tracing::warn!(
            "commands cannot be sandboxed here ({why}); every command runs unsandboxed and asks first"
        ),
    }
    launcher
}

/// What every front end shares: the runtime, and what serves observers.
#[derive(Debug)]
pub struct Core {
    /// The runtime.
    pub runtime: Arc<Runtime>,
    /// Process settings.
    pub config: Config,
    /// When the process started.
    pub started: Instant,
    /// The metrics collector.
    pub metrics: Arc<Metrics>,
    /// Housekeeping settings.
    pub housekeeping: crate::housekeeping::Settings,
    conn_ids: AtomicU64,
}

impl Core {
    /// Opens the store in the configured data directory, reads the user's
    /// `codelab.toml` there, and builds the runtime.
    ///
    /// # Errors
    /// When the store cannot be opened (locked by another process, too new,
    /// I/O), or the user's config file is unreadable or invalid.
    pub fn open(config: Config) -> Result<Self, CoreError> {
        Self::open_with_env(config, LlmSettings::from_env())
    }

    /// Like [`Self::open`], with the environment's model settings given
    /// rather than read from the process (an in-process server in a test
    /// must not depend on the test process's environment).
    ///
    /// # Errors
    /// As [`Self::open`].
    pub fn open_with_env(config: Config, env: LlmSettings) -> Result<Self, CoreError> {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&config.data_dir)?);
        Self::with_store(config, env, store)
    }

    /// Opens the store `config.store_url` names (PostgreSQL), else the redb
    /// file in the data directory, and builds the runtime as [`Self::open`].
    ///
    /// # Errors
    /// As [`Self::open`]; for PostgreSQL also an unreachable database or a
    /// malformed URL.
    pub async fn connect(config: Config) -> Result<Self, CoreError> {
        let store: Arc<dyn Store> = match &config.store_url {
            Some(url) => Arc::new(match crate::config::env_var("CODELAB_INSTANCE_ID") {
                Some(id) => PgStore::connect_as(&url.0, &id).await?,
                None => PgStore::connect(&url.0).await?,
            }),
            None => Arc::new(RedbStore::open(&config.data_dir)?),
        };
        Self::with_store(config, LlmSettings::from_env(), store)
    }

    /// Builds the core over an open store.
    ///
    /// # Errors
    /// When the user's config file is unreadable or invalid.
    pub fn with_store(
        config: Config,
        env: LlmSettings,
        store: Arc<dyn Store>,
    ) -> Result<Self, CoreError> {
        let settings = Settings::load(&config.data_dir, env)?;
        let llm_base = settings.llm_base();
        // Every secret the configuration knows is redacted from events,
        // including those a later reload of the settings brings.
        let secrets = crate::events::Secrets::new(llm_base.secrets());
        let user = settings.user();
        let bus = Arc::new(EventBus::with_middleware(vec![
            Box::new(crate::events::Filter::new(user.events.exclude.clone())),
            Box::new(crate::events::Redact::new(secrets.clone())),
        ]));
        let metrics = Metrics::start(&bus);
        let audit_subscription = crate::audit::start(&bus, Arc::clone(&store));
        let llm = LlmClient::new(llm_base.resilience().connect, Arc::clone(&bus))
            .map_err(CoreError::LlmClient)?;
        let mut limits = ToolLimits::default();
        if let Some(t) = user.agent.command_timeout_secs {
            limits.command_timeout_secs = t;
        }
        if let Some(n) = user.agent.command_max_processes {
            limits.max_processes = n;
        }
        if let Some(t) = user.agent.diff_threshold {
            limits.diff_threshold = t;
        }
        let housekeeping = user.housekeeping.clone();
        let runtime = Arc::new(Runtime::new(Parts {
            store,
            bus,
            llm,
            settings,
            secrets,
            limits,
            max_turns: config.max_turns,
            audit_subscription: Some(audit_subscription),
            launcher: Arc::new(launcher(&config)),
            tmp_dir: config.data_dir.join("tmp"),
        }));
        Ok(Self {
            runtime,
            config,
            started: Instant::now(),
            metrics,
            housekeeping,
            conn_ids: AtomicU64::new(1),
        })
    }

    /// Starts the background work a serving process runs: housekeeping.
    pub fn start_background(&self) {
        crate::housekeeping::start(Arc::clone(&self.runtime), self.housekeeping.clone());
        if self.runtime.store().shared() {
            self.metrics
                .set_instance(self.runtime.store().instance_id());
            crate::runtime::cluster::start(&self.runtime);
        }
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> u64 {
        self.conn_ids.fetch_add(1, Ordering::Relaxed)
    }
}
