//! A plain TCP relay in front of a broker that drops every connection through it on demand,
//! abruptly (RST), as a failing load balancer or a broker restart would: the client's requests
//! in flight get no answer and are retried on a new connection.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The relay; stops when dropped.
pub struct Cutter {
    /// The port clients dial.
    pub port: u16,
    cuts: watch::Sender<u64>,
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
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("listener");
                tokio::select! {
                    _ = stopped => {}
                    () = serve(listener, backend, generation) => {}
                }
            });
        });
        Self {
            port,
            cuts,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Resets every connection open now; new ones are relayed as before.
    pub fn cut(&self) {
        self.cuts.send_modify(|generation| *generation += 1);
    }
}

async fn serve(listener: TcpListener, backend: SocketAddr, generation: watch::Receiver<u64>) {
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        let mut cuts = generation.clone();
        cuts.mark_unchanged();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(backend).await else {
                return;
            };
            // Closing with a zero linger sends RST: the connection dies mid-request.
            let _ = client.set_linger(Some(Duration::ZERO));
            let _ = server.set_linger(Some(Duration::ZERO));
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cuts.changed() => {}
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
