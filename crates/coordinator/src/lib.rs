//! The coordinator (DESIGN 1, 2.2): one port serving the REST API, the WebSocket protocol and
//! the web app; it plans submitted jobs into tasks, assembles results as they land and pushes
//! every state change to subscribed clients. It keeps no state the backend does not have, so
//! it can restart at any time.

mod api;
mod auth;
pub mod error;
mod pump;
mod state;
mod web;
mod ws;

pub use state::{AppState, CoordinatorConfig, DEFAULT_PORT};

use std::net::SocketAddr;
use std::sync::Arc;
use tessera_backend::Backend;
use tessera_kinds::Registry;
use tokio_util::sync::CancellationToken;

/// Why the coordinator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Binding beyond loopback needs a token (DESIGN 6).
    #[error(
        "refusing to listen on {0} without a token: set --token (or TESSERA_TOKEN), or bind to 127.0.0.1"
    )]
    TokenRequired(std::net::IpAddr),
    /// The port could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// A coordinator whose socket is bound; [`Coordinator::serve`] runs it.
pub struct Coordinator {
    state: AppState,
    listener: tokio::net::TcpListener,
}

impl Coordinator {
    /// Checks the security defaults and binds the port (0 picks a free one).
    pub async fn bind(
        backend: Arc<dyn Backend>,
        registry: Registry,
        config: CoordinatorConfig,
    ) -> Result<Self, StartError> {
        // An empty token would let `Authorization: Bearer ` in; it counts as no token.
        if !config.bind.is_loopback() && config.token.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Err(StartError::TokenRequired(config.bind));
        }
        let addr = SocketAddr::new(config.bind, config.port);
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| StartError::Bind(addr, e))?;
        Ok(Coordinator { state: AppState::new(backend, registry, config), listener })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// The shared state, for embedding (tests, `tessera up`).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn serve(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let pump = tokio::spawn(pump::run(self.state.clone(), shutdown.clone()));
        let closing = self.state.inner.shutdown.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            stop.cancelled().await;
            closing.cancel();
        });
        let app = api::router(self.state.clone());
        let result = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .await;
        shutdown.cancel();
        let _ = pump.await;
        result
    }
}
