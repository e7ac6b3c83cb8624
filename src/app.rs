//! Application layer: use cases, configuration (figment) and the one composition root
//! (`Application::build`). Depends on domain and ports; only the composition root names
//! concrete adapters.

pub mod application;
pub mod auth;
pub mod callbacks;
pub mod capacity;
pub mod config;
pub mod executions;
pub mod gateway;
pub mod metrics;
pub mod patience;
pub mod presence;
pub mod readiness;
pub mod stream_quota;
pub mod telemetry;
pub mod watcher;
pub mod wiring;

pub use application::{Application, RunningApplication};
pub use config::{Config, ConfigError};
pub use gateway::Gateway;
