//! The admin endpoints `/metrics`, `/healthz` and `/readyz`, shared by every devsim process.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use prometheus::{Encoder as _, Registry, TextEncoder};

/// What the admin endpoints expose: implemented by the simulation metrics and the operator's.
pub trait AdminState: Send + Sync + 'static {
    /// The metrics in Prometheus text format.
    fn render(&self) -> String;
    /// Whether `/readyz` answers 200.
    fn ready(&self) -> bool;
}

/// `registry`'s metrics in Prometheus text format.
pub fn render_registry(registry: &Registry) -> String {
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut out)
        .expect("encoding into a Vec cannot fail");
    String::from_utf8(out).expect("the text format is UTF-8")
}

/// Serves `/metrics`, `/healthz` and `/readyz` on `addr` in the background; returns the bound
/// address.
pub async fn serve<A: AdminState>(addr: SocketAddr, state: Arc<A>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route(
            "/metrics",
            get(|State(s): State<Arc<A>>| async move {
                // The text exposition format's own content type, version included, as
                // Prometheus asks for it.
                ([(CONTENT_TYPE, prometheus::TEXT_FORMAT)], s.render())
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(s): State<Arc<A>>| async move {
                if s.ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .with_state(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "admin endpoint stopped");
        }
    });
    Ok(bound)
}
