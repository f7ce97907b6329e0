//! A front for the embedded Kafka on an address other machines or pods can reach.
//!
//! librdkafka's mock brokers listen on 127.0.0.1 only and name themselves so in their metadata,
//! which a client in a pod or on another host cannot dial. The relay listens on the chosen
//! address, one port per mock broker, passes every byte through, and rewrites the broker
//! addresses in the two responses that carry them (Metadata, FindCoordinator), so that clients
//! come back to the relay for every broker, as with a real broker's `advertised.listeners`.

mod wire;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Frames larger than this are not Kafka traffic the relay should hold in memory.
const MAX_FRAME: usize = 256 << 20;

/// Where each mock broker is reachable through the relay.
pub struct Relay {
    /// `host:port` of the relay's listener for each mock broker, in the brokers' order.
    pub advertised: Vec<String>,
}

impl Relay {
    /// Binds one listener per `upstream` broker on `listen`'s IP (the first on `listen`'s port,
    /// the others on ports chosen by the system) and serves them until the runtime stops.
    /// Clients are told to reach the brokers at `advertise_host`.
    pub async fn start(
        listen: SocketAddr,
        advertise_host: &str,
        upstream: &[SocketAddr],
    ) -> io::Result<Self> {
        let mut listeners = Vec::with_capacity(upstream.len());
        for (i, _) in upstream.iter().enumerate() {
            let port = if i == 0 { listen.port() } else { 0 };
            listeners.push(TcpListener::bind(SocketAddr::new(listen.ip(), port)).await?);
        }
        let mut ports = HashMap::new();
        let mut advertised = Vec::new();
        for (listener, target) in listeners.iter().zip(upstream) {
            let front = i32::from(listener.local_addr()?.port());
            ports.insert(i32::from(target.port()), front);
            advertised.push(format!("{advertise_host}:{front}"));
        }
        let routes = Arc::new(Routes {
            host: advertise_host.to_owned(),
            ports,
        });
        for (listener, target) in listeners.into_iter().zip(upstream.iter().copied()) {
            tokio::spawn(accept(listener, target, Arc::clone(&routes)));
        }
        Ok(Self { advertised })
    }
}

/// Mock broker port → relay port, and the host clients dial.
struct Routes {
    host: String,
    ports: HashMap<i32, i32>,
}

impl Routes {
    fn map(&self, host: &str, port: i32) -> Option<(String, i32)> {
        let loopback = host == "127.0.0.1" || host == "localhost";
        let front = self.ports.get(&port).filter(|_| loopback)?;
        Some((self.host.clone(), *front))
    }
}

async fn accept(listener: TcpListener, target: SocketAddr, routes: Arc<Routes>) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                // Out of descriptors, say: waiting beats spinning.
                tracing::warn!(error = %e, "relay: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let routes = Arc::clone(&routes);
        tokio::spawn(async move {
            // A broker taken down refuses the connection: closing the client's says the same.
            if let Ok(broker) = TcpStream::connect(target).await {
                let _ = client.set_nodelay(true);
                let _ = broker.set_nodelay(true);
                relay_connection(client, broker, &routes).await;
            }
        });
    }
}

/// Passes frames both ways until either side closes; responses to the requests that name
/// brokers are rewritten on their way back.
async fn relay_connection(client: TcpStream, broker: TcpStream, routes: &Routes) {
    let (client_read, mut client_write) = client.into_split();
    let (broker_read, mut broker_write) = broker.into_split();
    // Correlation id → (API key, version) of the requests whose answers get rewritten.
    let pending = Mutex::new(HashMap::new());
    let requests = async {
        let mut from = BufReader::new(client_read);
        while let Some(frame) = read_frame(&mut from).await {
            if let Some((key, version, correlation)) = wire::request_header(&frame)
                && wire::names_brokers(key)
            {
                lock(&pending).insert(correlation, (key, version));
            }
            if write_frame(&mut broker_write, &frame).await.is_err() {
                return;
            }
        }
    };
    let responses = async {
        let mut from = BufReader::new(broker_read);
        while let Some(mut frame) = read_frame(&mut from).await {
            let request = wire::response_correlation(&frame)
                .and_then(|correlation| lock(&pending).remove(&correlation));
            if let Some((key, version)) = request {
                match wire::rewrite_response(key, version, &frame, &|h, p| routes.map(h, p)) {
                    Ok(rewritten) => frame = rewritten,
                    Err(e) => tracing::warn!(api_key = key, version, "relay: {e}"),
                }
            }
            if write_frame(&mut client_write, &frame).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = requests => {}
        () = responses => {}
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One size-prefixed frame, or None once the stream ends (or sends something that is not Kafka).
async fn read_frame(from: &mut (impl AsyncRead + Unpin)) -> Option<Vec<u8>> {
    let size = usize::try_from(from.read_i32().await.ok()?).ok()?;
    if size > MAX_FRAME {
        return None;
    }
    let mut frame = vec![0; size];
    from.read_exact(&mut frame).await.ok()?;
    Some(frame)
}

async fn write_frame(to: &mut (impl AsyncWrite + Unpin), frame: &[u8]) -> io::Result<()> {
    let size = i32::try_from(frame.len()).map_err(|_| io::ErrorKind::InvalidData)?;
    let mut bytes = Vec::with_capacity(frame.len() + 4);
    bytes.extend_from_slice(&size.to_be_bytes());
    bytes.extend_from_slice(frame);
    to.write_all(&bytes).await
}
