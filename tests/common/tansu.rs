//! tansu (built once by tests/env/tansu.sh), a Kafka broker independent of librdkafka, on
//! 127.0.0.1, on a port chosen at run time, killed when dropped (and after 15 minutes whatever
//! happens, so a killed test leaves nothing running for long).
//!
//! Known tansu 0.6.0 behaviour the helpers work around: it does not create topics on first use
//! (they are created with its CLI, through the Admin API), and it keeps SCRAM users only in its
//! SQLite storage, so a secured broker is started twice: open to create users, then with
//! `--authentication` on the same database.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The tansu binary, building it the first time.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let output = Command::new("bash")
            .arg(super::tools::repo().join("tests/env/tansu.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run tests/env/tansu.sh");
        assert!(output.status.success(), "tests/env/tansu.sh failed");
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
}

/// A free port on 127.0.0.1 (free when asked; nothing else on this machine races for it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Where a tansu broker keeps its data.
#[derive(Clone, Debug)]
pub enum Storage {
    /// In memory (`memory://tansu/`), as the reference setup runs it.
    Memory,
    /// A SQLite file in this folder: survives a restart, and keeps SCRAM users.
    Sqlite(PathBuf),
}

impl Storage {
    /// The storage URL, and the folder tansu must run in: it resolves a SQLite URL against its
    /// working directory whatever the URL says (`sqlite:///tmp/x.db` is `./tmp/x.db`).
    fn url(&self) -> (String, Option<&Path>) {
        match self {
            Self::Memory => ("memory://tansu/".to_owned(), None),
            Self::Sqlite(dir) => ("sqlite://tansu.db".to_owned(), Some(dir)),
        }
    }
}

/// A running tansu broker.
pub struct Tansu {
    child: Child,
    /// `127.0.0.1:port` it listens on.
    pub listener: String,
    log: PathBuf,
}

impl Tansu {
    /// Starts a broker on a free port of 127.0.0.1 that tells clients to dial port
    /// `advertised` (its own when `None`; a TLS front's when it sits behind one);
    /// `authentication` requires SASL.
    pub fn start(storage: &Storage, advertised: Option<u16>, authentication: bool) -> Self {
        Self::start_on("127.0.0.1", storage, advertised, authentication)
    }

    /// [`Self::start`] on the address `host` (a bridge the test made, for pods to reach).
    pub fn start_on(
        host: &str,
        storage: &Storage,
        advertised: Option<u16>,
        authentication: bool,
    ) -> Self {
        let port = free_port();
        let listener = format!("{host}:{port}");
        let advertised = format!("{host}:{}", advertised.unwrap_or(port));
        let log = std::env::temp_dir().join(format!("devsim-tansu-{port}.log"));
        let (url, dir) = storage.url();
        let mut command = Command::new("timeout");
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        command.args(["--signal=KILL", "900"]).arg(bin()).args([
            "broker",
            "--listener-url",
            &format!("tcp://{listener}"),
            "--advertised-listener-url",
            &format!("tcp://{advertised}"),
            "--storage-engine",
            &url,
        ]);
        if authentication {
            command.arg("--authentication");
        }
        let out = std::fs::File::create(&log).expect("tansu log");
        let child = command
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start tansu");
        let tansu = Self {
            child,
            listener,
            log,
        };
        tansu.wait_until_listening();
        tansu
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(&self.listener).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {} within 60 s:\n{}",
                self.listener,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the broker printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs tansu's CLI against this broker with `args` (its `--broker` added), panicking with
    /// its output on failure.
    fn cli(&self, args: &[&str]) {
        let output = Command::new(bin())
            .args(args)
            .args(["--broker", &format!("tcp://{}", self.listener)])
            .output()
            .expect("run tansu's CLI");
        assert!(
            output.status.success(),
            "tansu {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Creates `topic` with `partitions` partitions (tansu does not create topics itself).
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        self.cli(&[
            "topic",
            "create",
            topic,
            "--partitions",
            &partitions.to_string(),
        ]);
    }

    /// Creates a SCRAM user (`scram256` or `scram512`) on a broker without authentication.
    pub fn create_user(&self, name: &str, password: &str, mechanism: &str) {
        self.cli(&["user", "create", name, password, "--mechanism", mechanism]);
    }
}

impl Tansu {
    /// Stops the broker and waits until it has gone (its storage is then free for another).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        // SIGTERM to `timeout`, which passes it on to tansu (a SIGKILL would orphan it); then,
        // should tansu not go within 5 s, SIGKILL to `timeout`'s child and to `timeout`.
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("pkill").args(["-KILL", "-P", &pid]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.halt();
        let _ = std::fs::remove_file(&self.log);
    }
}
