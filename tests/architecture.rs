//! Layers point inward: the domain and the ports name no adapter technology (poem,
//! async-graphql, async-nats, hyper, figment, opentelemetry) and no outer layer of this crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code may fail loudly

use std::path::{Path, PathBuf};

const FORBIDDEN_CRATES: &[&str] = &[
    "poem",
    "poem_openapi",
    "async_graphql",
    "async_graphql_poem",
    "async_nats",
    "hyper",
    "hyper_util",
    "figment",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "tracing_opentelemetry",
];

/// Outer layers of this crate that an inner layer must not reach.
const FORBIDDEN_LAYERS: &[&str] = &["crate::adapters", "crate::app"];

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every forbidden name used as a path root (`name::`, `use name`, `extern crate name`) in
/// `source`, with its line number. Comments are ignored.
fn violations(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for name in FORBIDDEN_CRATES {
            let mut rest = code;
            let mut offset = 0;
            while let Some(pos) = rest.find(name) {
                let start = offset + pos;
                let end = start + name.len();
                let prefix = &code[..start];
                let before_ok = match prefix.chars().last() {
                    None => true,
                    // `::name::` is a crate root; `module::name::` is not.
                    Some(':') => prefix
                        .trim_end_matches(':')
                        .chars()
                        .last()
                        .is_none_or(|c| !is_ident_char(c)),
                    Some(c) => !is_ident_char(c),
                };
                let after = &code[end..];
                let used = after.starts_with("::")
                    || ((code[..start].trim_end().ends_with("use")
                        || code[..start].trim_end().ends_with("crate"))
                        && after.chars().next().is_none_or(|c| !is_ident_char(c)));
                if before_ok && used {
                    found.push((number + 1, (*name).to_owned()));
                }
                offset = end;
                rest = &code[end..];
            }
        }
        for layer in FORBIDDEN_LAYERS {
            if code.contains(layer) {
                found.push((number + 1, (*layer).to_owned()));
            }
        }
    }
    found
}

fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
}

fn inner_layer_files() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("domain.rs"), src.join("ports.rs")];
    files.extend(rust_files(&src.join("domain")));
    files.extend(rust_files(&src.join("ports")));
    files
}

#[test]
fn the_domain_and_ports_name_no_adapter_crate_or_outer_layer() {
    let files = inner_layer_files();
    assert!(
        files.len() > 4,
        "the inner layers were found ({} files)",
        files.len()
    );
    let mut report = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("readable source");
        for (line, name) in violations(&source) {
            report.push(format!("{}:{line} names {name}", file.display()));
        }
    }
    assert!(
        report.is_empty(),
        "inner layers must point inward:\n{}",
        report.join("\n")
    );
}

#[test]
fn the_checker_catches_each_way_of_naming_a_crate() {
    assert_eq!(violations("use async_nats::Client;").len(), 1);
    assert_eq!(violations("fn f(x: poem::Request) {}").len(), 1);
    assert_eq!(violations("use hyper;").len(), 1);
    assert_eq!(violations("extern crate figment;").len(), 1);
    assert_eq!(
        violations("let t = ::opentelemetry::global::tracer(\"x\");").len(),
        1
    );
    assert_eq!(
        violations("use crate::adapters::memory::InMemoryBus;").len(),
        1
    );
}

#[test]
fn the_checker_ignores_lookalikes_and_comments() {
    assert!(violations("let poem_count = 1; // uses poem::Route elsewhere").is_empty());
    assert!(violations("fn hyperlink() {}").is_empty());
    assert!(violations("use crate::domain::User;").is_empty());
    assert!(violations("mod my_hyper { }").is_empty());
    assert!(violations("use self::inner::hyper::X;").is_empty());
}
