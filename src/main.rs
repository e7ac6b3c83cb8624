//! The `noetl-gateway` binary: parses the command line, loads configuration, and hands over to
//! the composition root. Commands: `serve` (default), `openapi`, `config check`, `version`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use noetl_gateway::adapters::http::{internal_openapi_json, openapi_json};
use noetl_gateway::app::telemetry::Telemetry;
use noetl_gateway::app::{Application, Config};

/// mimalloc: its per-thread heaps keep allocation off glibc's shared arenas, which cost a
/// sixth of the request path under load (measured in `bench/`).
#[global_allocator]
static ALLOCATOR: noetl_gateway::allocator::Allocator = noetl_gateway::allocator::Allocator;

/// sysexits' EX_CONFIG-adjacent EX_USAGE: the configuration cannot be used.
const EXIT_CONFIG: u8 = 64;

#[derive(Parser)]
#[command(
    name = "noetl-gateway",
    version,
    about = "API gateway for the NoETL workflow engine"
)]
struct Cli {
    /// TOML configuration file (also GATEWAY_CONFIG); the environment overrides it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the public and internal listeners (the default).
    Serve,
    /// Print the OpenAPI document of the REST API (`--internal`: of the internal listener).
    Openapi {
        #[arg(long)]
        internal: bool,
    },
    /// Print the GraphQL schema (SDL).
    GraphqlSchema,
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Probe this host's `/livez` on ROUTER_PORT; exit 0 when it answers 200 (for
    /// container health checks in images without curl).
    Probe,
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Validate the configuration and print the effective settings, secrets redacted.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi { internal } => {
            println!(
                "{}",
                if internal {
                    internal_openapi_json()
                } else {
                    openapi_json()
                }
            );
            ExitCode::SUCCESS
        }
        Command::GraphqlSchema => {
            print!("{}", noetl_gateway::adapters::http::graphql::sdl());
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("noetl-gateway {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Config {
            action: ConfigAction::Check,
        } => match load(cli.config) {
            Ok(config) => {
                for (key, value) in config.describe() {
                    println!("{key} = {value}");
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Probe => match load(cli.config) {
            Ok(config) if probe(config.public_addr.port()) => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(code) => code,
        },
        Command::Serve => match load(cli.config) {
            Ok(config) => serve(config),
            Err(code) => code,
        },
    }
}

fn load(file: Option<PathBuf>) -> Result<Config, ExitCode> {
    Config::load(file.as_deref()).map_err(|err| {
        eprintln!("noetl-gateway: {err}");
        ExitCode::from(EXIT_CONFIG)
    })
}

fn serve(config: Config) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("noetl-gateway: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let telemetry = match Telemetry::init(config.log_format) {
            Ok(t) => t,
            Err(err) => {
                eprintln!("noetl-gateway: {err}");
                return ExitCode::FAILURE;
            }
        };
        lift_open_files_limit();
        let code = match Application::build(config).await {
            Ok(app) => {
                tracing::info!(
                    public = %app.public_addr(),
                    internal = %app.internal_addr(),
                    "noetl-gateway {} listening",
                    env!("CARGO_PKG_VERSION")
                );
                match app.run_until(shutdown_signal()).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(err) => {
                        tracing::error!(error = %err, "server failed");
                        ExitCode::FAILURE
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot start");
                eprintln!("noetl-gateway: {err}");
                ExitCode::FAILURE
            }
        };
        telemetry.shutdown();
        code
    })
}

/// Lifts the soft limit on open files to the hard one, so that connections and held event
/// streams are bounded by what the host allows rather than by a start-up default.
fn lift_open_files_limit() {
    match noetl_gateway::adapters::process::raise_open_files_limit() {
        Ok(limit) if limit.before != limit.after => tracing::info!(
            before = %shown(limit.before),
            after = %shown(limit.after),
            "raised the open-file limit to the hard limit"
        ),
        Ok(limit) => tracing::debug!(limit = %shown(limit.after), "open-file limit"),
        Err(err) => tracing::warn!(error = %err, "cannot raise the open-file limit"),
    }
}

/// A resource limit as a number, or `unlimited`.
fn shown(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
}

/// One `GET /livez` over loopback with a two-second bound.
fn probe(port: u16) -> bool {
    use std::io::{Read, Write};
    use std::time::Duration;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = b"GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut head = [0u8; 12];
    stream.write_all(request).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.1 200")
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
