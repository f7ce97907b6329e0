//! A plain TCP relay in front of a broker that drops every connection through it on demand, as
//! a failing load balancer or a broker restart would: the client's requests in flight get no
//! answer and are retried on a new connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The relay; stops when dropped.
pub struct Cutter {
    /// The port clients dial.
    pub port: u16,
    cuts: watch::Sender<u64>,
    dropped: Arc<AtomicU64>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Cutter {
    /// Relays `port` of 127.0.0.1 to `backend`.
    pub fn start(port: u16, backend: &str) -> Self {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("relay port");
        listener.set_nonblocking(true).expect("nonblocking");
        let backend: SocketAddr = backend.parse().expect("backend address");
        let (cuts, generation) = watch::channel(0u64);
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&dropped);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                tokio::select! {
                    _ = stopped => {}
                    () = serve(listener, backend, generation, counted) => {}
                }
            });
        });
        Self {
            port,
            cuts,
            dropped,
            stop: Some(stop),
            thread: Some(thread),
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

impl Drop for Cutter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
