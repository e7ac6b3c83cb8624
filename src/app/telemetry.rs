//! App: telemetry in one place. Logs through `tracing` (`RUST_LOG`, text or JSON lines);
//! OTLP trace export over gRPC when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (service name
//! `noetl-gateway`, or `OTEL_SERVICE_NAME`). The rest of the code uses `tracing` only.

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use super::config::LogFormat;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter could not be built")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[source] tracing_subscriber::util::TryInitError),
}

/// Keeps the trace pipeline alive; `shutdown` flushes what is buffered.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Installs the global subscriber.
    ///
    /// # Errors
    /// `Exporter` when OTLP is requested but cannot be set up; `AlreadyInstalled` when a
    /// subscriber exists.
    pub fn init(format: LogFormat) -> Result<Self, TelemetryError> {
        // Colour codes only for a person at a terminal: a log collector reading a pipe or a
        // file would store them as text, and writing them costs time on every line.
        let colour = std::io::stdout().is_terminal();
        Self::install(format, BoxMakeWriter::new(std::io::stdout), colour)
    }

    /// As [`Telemetry::init`], writing log lines to `writer` instead of stdout. JSON lines
    /// carry the list of open spans, so a line logged while a request is handled names the
    /// request's id wherever it was logged from.
    ///
    /// # Errors
    /// As for [`Telemetry::init`].
    pub fn init_with_writer(
        format: LogFormat,
        writer: BoxMakeWriter,
    ) -> Result<Self, TelemetryError> {
        Self::install(format, writer, false)
    }

    /// Installs the global subscriber, writing to `writer`, text lines coloured when
    /// `colour` is set.
    fn install(
        format: LogFormat,
        writer: BoxMakeWriter,
        colour: bool,
    ) -> Result<Self, TelemetryError> {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        let fmt = match format {
            LogFormat::Text => tracing_subscriber::fmt::layer()
                .with_target(true)
                .with_ansi(colour)
                .with_writer(writer)
                .boxed(),
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(true)
                .with_writer(writer)
                .boxed(),
        };
        let provider = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Ok(endpoint) if !endpoint.trim().is_empty() => Some(otlp_provider()?),
            _ => None,
        };
        let otel = provider.as_ref().map(|p| {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            opentelemetry::global::set_tracer_provider(p.clone());
            tracing_opentelemetry::layer().with_tracer(p.tracer("noetl-gateway"))
        });
        tracing_subscriber::registry()
            .with(filter)
            .with(fmt)
            .with(otel)
            .try_init()
            .map_err(TelemetryError::AlreadyInstalled)?;
        Ok(Self { provider })
    }

    /// Flushes and stops the trace exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            eprintln!("noetl-gateway: trace export did not flush: {err}");
        }
    }
}

fn otlp_provider() -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()
        .map_err(TelemetryError::Exporter)?;
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "noetl-gateway".to_owned());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build())
}
