//! The Prometheus recorder behind `GET /metrics`: every part reports through the `metrics`
//! facade ([`spillway_core::metrics`] names what), and the HTTP APIs render it as
//! Prometheus' text format.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use tracing::warn;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the recorder (once; later calls do nothing).
pub fn install() {
    if HANDLE.get().is_some() {
        return;
    }
    let builder = match PrometheusBuilder::new().set_buckets_for_metric(
        Matcher::Full(spillway_core::metrics::LAG.to_string()),
        spillway_core::metrics::LAG_BUCKETS,
    ) {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "metrics are not recorded");
            return;
        }
    };
    match builder.install_recorder() {
        Ok(handle) => {
            let _ = HANDLE.set(handle);
        }
        Err(e) => warn!(error = %e, "metrics are not recorded"),
    }
}

/// The metrics in Prometheus' text exposition format.
pub fn render() -> String {
    match HANDLE.get() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => String::new(),
    }
}

/// `GET /metrics`.
pub async fn serve() -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(),
    )
}
