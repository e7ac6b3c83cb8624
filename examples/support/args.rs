//! Bench tools' command line: `--name value` pairs, each with a default.

/// The value after `--name` on the command line, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    let flag = format!("--{name}");
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == &flag)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}
