//! Log lines on stderr: human text (the default) or, with
//! `--log-format json`, one JSON object per line for log collectors:
//! `{"ts":"2026-11-30T08:00:00Z","level":"warn","event":"batch.unknown",
//! "message":"…","fields":{…}}`.
//!
//! Every warning, progress line and error of the binary goes through
//! [`emit`]; the `tracing` events of the libraries through [`JsonFormat`]
//! (installed by `main` with the JSON format).

use serde_json::{Map, Value};
use std::sync::OnceLock;

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human text (the default).
    #[default]
    Text,
    /// One JSON object per line: `ts` (RFC 3339), `level`, `event`,
    /// `message`, `fields`.
    Json,
}

/// How bad a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Errors: the command failed.
    Error,
    /// Warnings: something to look at.
    Warn,
    /// Information: progress, notes.
    Info,
}

impl Level {
    /// `error`, `warn` or `info`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
        }
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Sets the format of this process's log lines (once; later calls are
/// ignored).
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// The format of this process's log lines.
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Whether log lines are JSON.
pub fn is_json() -> bool {
    format() == LogFormat::Json
}

/// The current time, RFC 3339 (UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// One log line as JSON.
pub fn json_line(level: Level, event: &str, message: &str, fields: &[(&str, Value)]) -> String {
    let mut object = Map::new();
    object.insert("ts".into(), now_rfc3339().into());
    object.insert("level".into(), level.as_str().into());
    object.insert("event".into(), event.into());
    object.insert("message".into(), message.into());
    let fields: Map<String, Value> = fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect();
    object.insert("fields".into(), Value::Object(fields));
    Value::Object(object).to_string()
}

/// Writes a log line on stderr: `text` as it is in the text format, or a
/// JSON object (with `message` = `text`, and `fields`) in the JSON format.
///
/// A closed stderr (`2>&1 | head`) is ignored: the run goes on and ends
/// as it would have (`eprintln!` would panic in the middle of a batch).
pub fn emit(level: Level, event: &str, text: &str, fields: &[(&str, Value)]) {
    use std::io::Write;
    let line = if is_json() {
        json_line(level, event, text, fields)
    } else {
        text.to_owned()
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// [`emit`] at [`Level::Info`] without fields.
pub fn info(event: &str, text: &str) {
    emit(Level::Info, event, text, &[]);
}

/// [`emit`] at [`Level::Warn`] without fields.
pub fn warn(event: &str, text: &str) {
    emit(Level::Warn, event, text, &[]);
}

/// `tracing` events as JSON lines ([`json_line`]): `event` is the event's
/// target, `message` its message, `fields` its other fields (and the
/// names of the spans it is in, as `spans`).
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonFormat;

#[derive(Default)]
struct Fields {
    message: String,
    fields: Vec<(String, Value)>,
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put(field, value.into());
    }
}

impl Fields {
    fn put(&mut self, field: &tracing::field::Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
        } else {
            self.fields.push((field.name().to_owned(), value));
        }
    }
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for JsonFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut visited = Fields::default();
        event.record(&mut visited);
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warn",
            tracing::Level::INFO => "info",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        let mut fields: Map<String, Value> = visited.fields.into_iter().collect();
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<Value> = scope
                .from_root()
                .map(|span| Value::from(span.name()))
                .collect();
            fields.insert("spans".into(), Value::Array(spans));
        }
        let mut object = Map::new();
        object.insert("ts".into(), now_rfc3339().into());
        object.insert("level".into(), level.into());
        object.insert("event".into(), event.metadata().target().into());
        object.insert("message".into(), visited.message.into());
        object.insert("fields".into(), Value::Object(fields));
        writeln!(writer, "{}", Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_has_time_level_event_message_and_fields() {
        let line = json_line(
            Level::Warn,
            "batch.unknown",
            "3 payouts unknown",
            &[("unknown", 3.into())],
        );
        let value: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(value["level"], "warn");
        assert_eq!(value["event"], "batch.unknown");
        assert_eq!(value["message"], "3 payouts unknown");
        assert_eq!(value["fields"]["unknown"], 3);
        let ts = value["ts"].as_str().expect("ts");
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
        assert!(!line.contains('\n'));
    }
}
