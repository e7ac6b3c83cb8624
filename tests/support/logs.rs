//! Test harness: when the suite runs with `LOG_FORMAT=json` and `TEST_LOG_DIR` set (see
//! `scripts/json-logs.sh`), in-process gateways log through the gateway's own JSON formatter
//! into a file per test binary, and gateway processes leave their output there too, so the
//! whole run's logs can be checked afterwards.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use noetl_gateway::app::config::LogFormat;
use noetl_gateway::app::telemetry::Telemetry;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// The directory to collect logs in, when this run collects JSON logs.
pub fn json_log_dir() -> Option<PathBuf> {
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let dir = std::env::var_os("TEST_LOG_DIR")?;
    json.then(|| PathBuf::from(dir))
}

fn binary_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "tests".to_owned())
}

/// Installs the JSON log subscriber once per test binary, when asked to.
pub fn install_if_asked() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let Some(dir) = json_log_dir() else { return };
        let path = dir.join(format!("{}-{}.jsonl", binary_name(), std::process::id()));
        let file = std::fs::File::create(&path).expect("log file in TEST_LOG_DIR");
        let writer = BoxMakeWriter::new(Mutex::new(file));
        // The subscriber lives as long as the test binary.
        std::mem::forget(Telemetry::init_with_writer(LogFormat::Json, writer).expect("subscriber"));
    });
}

/// Keeps a gateway process's output with the run's logs, when JSON logs are collected.
pub fn keep_process_output(output: &str) {
    let Some(dir) = json_log_dir() else { return };
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(
        "{}-{}-process-{n}.jsonl",
        binary_name(),
        std::process::id()
    ));
    if let Ok(mut file) = std::fs::File::create(path) {
        let _ = file.write_all(output.as_bytes());
    }
}
