//! A plain TCP relay in front of a broker that drops every connection through it on demand, as
//! a failing load balancer or a broker restart would: the client's requests in flight get no
//! answer and are retried on a new connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::relay::Background;

/// The relay; stops when dropped.
pub struct Cutter {
    /// The port clients dial.
    pub port: u16,
    cuts: watch::Sender<u64>,
    dropped: Arc<AtomicU64>,
    _server: Background,
}

impl Cutter {
    /// Relays `port` of 127.0.0.1 to `backend`.
    pub fn start(port: u16, backend: &str) -> Self {
        let backend: SocketAddr = backend.parse().expect("backend address");
        let (cuts, generation) = watch::channel(0u64);
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&dropped);
        Self {
            port,
            cuts,
            dropped,
            _server: Background::serve(port, move |listener| {
                serve(listener, backend, generation, counted)
            }),
        }
    }

    /// Drops every connection open now; new ones are relayed as before.
    pub fn cut(&self) {
        self.cuts.send_modify(|generation| *generation += 1);
    }

    /// How many connections [`Self::cut`] has dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn serve(
    listener: TcpListener,
    backend: SocketAddr,
    generation: watch::Receiver<u64>,
    dropped: Arc<AtomicU64>,
) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let mut cuts = generation.clone();
        cuts.mark_unchanged();
        let dropped = Arc::clone(&dropped);
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(backend).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cuts.changed() => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}
