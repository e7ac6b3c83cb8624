//! App (metrics): writes families as Prometheus text exposition format 0.0.4.

use std::fmt::Write as _;

use super::Label;
use super::family::{BUCKETS, Counter, Family, Histogram};

#[derive(Default)]
pub(super) struct Writer {
    out: String,
}

impl Writer {
    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub(super) fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.header(name, help, "counter");
        let _ = writeln!(self.out, "{name} {value}");
    }

    pub(super) fn gauge(&mut self, name: &str, help: &str, value: i64) {
        self.header(name, help, "gauge");
        let _ = writeln!(self.out, "{name} {value}");
    }

    pub(super) fn counters<const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        names: &[&str; N],
        family: &Family<N, Counter>,
    ) {
        self.header(name, help, "counter");
        for (labels, value) in family.entries() {
            let labels = label_text(names, &labels, None);
            let _ = writeln!(self.out, "{name}{{{labels}}} {}", value.value());
        }
    }

    pub(super) fn histograms<const N: usize>(
        &mut self,
        name: &str,
        help: &str,
        names: &[&str; N],
        family: &Family<N, Histogram>,
    ) {
        self.header(name, help, "histogram");
        for (labels, value) in family.entries() {
            let snap = value.snapshot();
            for (bound, count) in BUCKETS.iter().zip(snap.cumulative) {
                let le = label_text(names, &labels, Some(&bound.to_string()));
                let _ = writeln!(self.out, "{name}_bucket{{{le}}} {count}");
            }
            let inf = label_text(names, &labels, Some("+Inf"));
            let _ = writeln!(self.out, "{name}_bucket{{{inf}}} {}", snap.count);
            let plain = label_text(names, &labels, None);
            let _ = writeln!(self.out, "{name}_sum{{{plain}}} {}", snap.sum_seconds);
            let _ = writeln!(self.out, "{name}_count{{{plain}}} {}", snap.count);
        }
    }

    pub(super) fn finish(self) -> String {
        self.out
    }
}

/// `a="x",b="y"` with an optional `le` label last.
fn label_text<const N: usize>(names: &[&str; N], values: &[Label; N], le: Option<&str>) -> String {
    let mut text = String::new();
    for (name, value) in names.iter().zip(values) {
        if !text.is_empty() {
            text.push(',');
        }
        let _ = write!(text, "{name}=\"{}\"", escape(value));
    }
    if let Some(le) = le {
        if !text.is_empty() {
            text.push(',');
        }
        let _ = write!(text, "le=\"{le}\"");
    }
    text
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
