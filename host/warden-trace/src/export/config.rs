//! Where and how spans are exported, from the standard OpenTelemetry environment variables.
//!
//! Honoured: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (`/v1/traces` appended); `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` (ms);
//! `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (only `http/protobuf`); `OTEL_SDK_DISABLED`;
//! `OTEL_TRACES_EXPORTER` (`none` turns export off); `OTEL_BSP_MAX_QUEUE_SIZE`,
//! `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY` (ms). Headers
//! (`OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`), `OTEL_SERVICE_NAME` and
//! `OTEL_RESOURCE_ATTRIBUTES` are read by the OpenTelemetry crates themselves.
//!
//! Invariant: resolution is a pure function of a variable lookup, so it is tested without
//! touching the process environment; a value that does not parse is an error naming the
//! variable, never a silent fallback to another collector.

use std::time::Duration;

use super::ExportError;

/// The settings of an OTLP span export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportConfig {
    /// The full URL spans are POSTed to (`…/v1/traces`).
    pub endpoint: String,
    /// Longest one export request may take.
    pub timeout: Duration,
    /// Most spans waiting to be exported; more are dropped (and counted).
    pub max_queue: usize,
    /// Most spans in one export request.
    pub max_batch: usize,
    /// Longest a finished span waits before its batch is sent.
    pub delay: Duration,
}

impl ExportConfig {
    /// A config for `endpoint` (the full traces URL) with the default limits: a 10 s
    /// timeout, a queue of 2048 spans, batches of 512, sent at least every second.
    pub fn new(endpoint: impl Into<String>) -> Self {
        ExportConfig {
            endpoint: endpoint.into(),
            timeout: Duration::from_secs(10),
            max_queue: 2048,
            max_batch: 512,
            delay: Duration::from_secs(1),
        }
    }

    /// The config the environment asks for; `None` when no endpoint is set or export is
    /// turned off.
    pub fn from_env() -> Result<Option<Self>, ExportError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ExportConfig::from_env`] with `var` as the environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ExportError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        if let Some(exporters) = get("OTEL_TRACES_EXPORTER")
            && !exporters
                .split(',')
                .any(|e| e.trim().eq_ignore_ascii_case("otlp"))
        {
            return Ok(None);
        }
        let endpoint = match (
            get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        ) {
            (Some(traces), _) => check_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces)?,
            (None, Some(base)) => {
                let base = check_url("OTEL_EXPORTER_OTLP_ENDPOINT", base)?;
                format!("{}/v1/traces", base.trim_end_matches('/'))
            }
            (None, None) => return Ok(None),
        };
        for name in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(protocol) = get(name) {
                if protocol != "http/protobuf" {
                    return Err(ExportError::Protocol {
                        var: name,
                        value: protocol,
                    });
                }
                break;
            }
        }
        let mut config = ExportConfig::new(endpoint);
        if let Some(ms) = first_number(
            &get,
            &[
                "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "OTEL_EXPORTER_OTLP_TIMEOUT",
            ],
        )? {
            config.timeout = Duration::from_millis(ms);
        }
        if let Some(n) = first_number(&get, &["OTEL_BSP_MAX_QUEUE_SIZE"])? {
            config.max_queue = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        }
        if let Some(n) = first_number(&get, &["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"])? {
            config.max_batch = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        }
        if let Some(ms) = first_number(&get, &["OTEL_BSP_SCHEDULE_DELAY"])? {
            config.delay = Duration::from_millis(ms);
        }
        config.max_batch = config.max_batch.min(config.max_queue);
        Ok(Some(config))
    }
}

/// The value of the first of `names` that is set, as a number.
fn first_number(
    get: &impl Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Result<Option<u64>, ExportError> {
    for &name in names {
        if let Some(value) = get(name) {
            return value
                .parse()
                .map(Some)
                .map_err(|_| ExportError::Number { var: name, value });
        }
    }
    Ok(None)
}

/// `url` when it is an `http` or `https` URL with a host.
fn check_url(var: &'static str, url: String) -> Result<String, ExportError> {
    let parsed: Result<http::Uri, _> = url.parse();
    match parsed {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {
            Ok(url)
        }
        _ => Err(ExportError::Endpoint { var, value: url }),
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn no_endpoint_means_no_export() {
        assert_eq!(ExportConfig::from_lookup(env(&[])).unwrap(), None);
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path_and_the_signal_endpoint_is_used_as_is() {
        let config = ExportConfig::from_lookup(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4318/",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(config.endpoint, "http://127.0.0.1:4318/v1/traces");
        let config = ExportConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://127.0.0.1:2/custom",
            ),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.endpoint, "http://127.0.0.1:2/custom");
    }

    #[test]
    fn limits_come_from_the_bsp_and_timeout_variables() {
        let config = ExportConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(config.timeout, Duration::from_millis(2500));
        assert_eq!(config.max_queue, 10);
        assert_eq!(
            config.max_batch, 10,
            "a batch is never larger than the queue"
        );
        assert_eq!(config.delay, Duration::from_millis(50));
    }

    #[test]
    fn export_can_be_turned_off() {
        let on = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        assert_eq!(
            ExportConfig::from_lookup(env(&[on, ("OTEL_SDK_DISABLED", "true")])).unwrap(),
            None
        );
        assert_eq!(
            ExportConfig::from_lookup(env(&[on, ("OTEL_TRACES_EXPORTER", "none")])).unwrap(),
            None
        );
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        let error = ExportConfig::from_lookup(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")]))
            .unwrap_err();
        assert!(
            error.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
            "{error}"
        );
        let error = ExportConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("http/protobuf"), "{error}");
        let error = ExportConfig::from_lookup(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("OTEL_EXPORTER_OTLP_TIMEOUT"),
            "{error}"
        );
    }
}
