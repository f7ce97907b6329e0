//! `devsim verify`: consume a topic from the beginning and check every device's stream.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{EXIT_FAILED, EXIT_INVALID, EXIT_OK};
use crate::config;
use crate::crd::parse_duration;
use crate::engine::plan::Encoding;
use crate::kafka::{client_config, resolve_credentials};
use crate::verify::{Ranges, StopAt, StreamChecker, consume_topic};

/// Message encodings, as flags.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum EncodingArg {
    /// JSON.
    Json,
    /// Protobuf.
    Protobuf,
}

/// Flags of `devsim verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Brokers to read from.
    #[arg(long)]
    pub brokers: String,
    /// Simulation file: supplies topic, encoding and value ranges (flags override).
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Topic to read (default: the file's, else iot-sensor-data).
    #[arg(long)]
    pub topic: Option<String>,
    /// Encoding of the messages (default: the file's, else json).
    #[arg(long, value_enum)]
    pub encoding: Option<EncodingArg>,
    /// Instead of stopping at the end offsets seen at start, keep reading until no message has
    /// arrived for this long (for example 5s): verifies while a producer still runs.
    #[arg(long)]
    pub until_idle: Option<String>,
    /// Give up when no message arrives for this long before the end offsets are reached.
    #[arg(long, default_value = "60s")]
    pub timeout: String,
    /// Fail unless exactly this many devices were seen.
    #[arg(long)]
    pub expect_devices: Option<u64>,
    /// Fail when more sequence numbers than this are missing (default: gaps only reported).
    #[arg(long)]
    pub max_missing: Option<u64>,
    /// Folder of the secrets the file's spec.kafka.security references, as DIR/<secret>/<key>
    /// (each DEVSIM_KAFKA_* variable that is set wins): verify reads with the same protocol,
    /// SASL and TLS settings as the simulation produces with.
    #[arg(long, value_parser = super::secrets_directory)]
    pub secrets_dir: Option<PathBuf>,
}

pub(super) async fn run(args: VerifyArgs) -> u8 {
    let sim = match &args.file {
        Some(path) => match config::load_file(path).and_then(|sim| config::validate(&sim)) {
            Ok(sim) => Some(sim),
            Err(e) => {
                eprintln!("error: {}: invalid simulation:\n{e}", path.display());
                return EXIT_INVALID;
            }
        },
        None => None,
    };
    let durations = (
        args.until_idle.as_deref().map(parse_duration).transpose(),
        parse_duration(&args.timeout),
    );
    let (until_idle, timeout) = match durations {
        (Ok(idle), Ok(timeout)) => (idle, timeout),
        (Err(reason), _) => {
            eprintln!("error: --until-idle: {reason}");
            return EXIT_INVALID;
        }
        (_, Err(reason)) => {
            eprintln!("error: --timeout: {reason}");
            return EXIT_INVALID;
        }
    };
    let topic = args
        .topic
        .clone()
        .or_else(|| sim.as_ref().map(|s| s.kafka.topic.clone()))
        .unwrap_or_else(|| "iot-sensor-data".to_owned());
    let encoding = match (args.encoding, &sim) {
        (Some(EncodingArg::Json), _) => Encoding::Json,
        (Some(EncodingArg::Protobuf), _) => Encoding::Protobuf,
        (None, Some(sim)) => sim.plan.encoding,
        (None, None) => Encoding::Json,
    };
    let ranges = sim
        .as_ref()
        .map_or_else(Ranges::default, |s| Ranges::from_plan(&s.plan));
    let stop = until_idle.map_or(StopAt::EndOffsets, StopAt::Idle);
    let security = sim
        .as_ref()
        .map(|s| s.kafka.security.clone())
        .unwrap_or_default();
    let credentials = match resolve_credentials(&security, args.secrets_dir.as_deref()) {
        Ok(credentials) => credentials,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let client = client_config(&args.brokers, &security, &credentials);
    let result = tokio::task::spawn_blocking(move || {
        let mut checker = StreamChecker::new(encoding, ranges);
        consume_topic(
            client,
            &topic,
            stop,
            timeout.max(Duration::from_secs(1)),
            &mut checker,
        )
        .map(|()| checker.finish())
    })
    .await;
    let report = match result {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
        Err(e) => {
            eprintln!("error: verification task failed: {e}");
            return EXIT_FAILED;
        }
    };
    print!("{report}");
    let mut ok = report.is_clean();
    if let Some(expected) = args.expect_devices
        && report.devices != expected
    {
        println!("FAIL: expected {expected} devices, saw {}", report.devices);
        ok = false;
    }
    if let Some(max) = args.max_missing
        && report.missing > max
    {
        println!(
            "FAIL: {} sequence numbers missing, at most {max} allowed",
            report.missing
        );
        ok = false;
    }
    if report.messages == 0 {
        println!("FAIL: the topic holds no messages");
        ok = false;
    }
    if ok {
        println!("OK");
        EXIT_OK
    } else {
        println!("FAIL");
        EXIT_FAILED
    }
}
