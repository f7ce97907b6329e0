//! The image users get, built and run for real: `image/build.sh` builds the Dockerfile's
//! `runtime` stage with buildah (FROM scratch: Debian's packages, the nonroot user, the release
//! binary), then the image runs `devsim --version` and a short `devsim run` against the
//! embedded Kafka as user 65532, once as buildah runs containers and once on a read-only root
//! filesystem. Ignored by plain `cargo test`: it needs root and builds the release binary.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// buildah with the image storage image/build.sh used.
fn buildah(out: &Path, args: &[&str]) -> Output {
    Command::new("buildah")
        .arg("--root")
        .arg(out.join("storage"))
        .arg("--runroot")
        .arg(out.join("run"))
        .args(["--storage-driver", "vfs"])
        .args(args)
        .output()
        .expect("run buildah")
}

/// Fails unless a `devsim run` succeeded and Kafka acknowledged every one of its thousands of
/// messages; returns how many.
fn all_delivered(what: &str, run: &Output) -> u64 {
    let summary = text(run);
    assert!(run.status.success(), "{what}:\n{summary}");
    let (sent, delivered) = sent_and_delivered(&summary);
    assert!(sent > 4_000 && delivered == sent, "{what}:\n{summary}");
    eprintln!("{what}: sent {sent}, delivered {delivered}");
    delivered
}

/// The summary of a `devsim run`: (sent, delivered).
fn sent_and_delivered(summary: &str) -> (u64, u64) {
    let figure = |name: &str| {
        summary
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in:\n{summary}"))
    };
    (figure("sent "), figure("delivered "))
}

#[test]
#[ignore = "builds the release binary and an image with buildah (root, a few minutes)"]
fn the_image_builds_from_scratch_and_runs_as_nonroot_on_a_read_only_root() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path();
    let build = Command::new("bash")
        .arg(common::tools::repo().join("image/build.sh"))
        .arg(out)
        .output()
        .expect("run image/build.sh");
    assert!(build.status.success(), "image/build.sh:\n{}", text(&build));
    let archive = String::from_utf8_lossy(&build.stdout).trim().to_owned();
    let archive_size = std::fs::metadata(&archive).expect("the OCI archive").len();
    let version = env!("CARGO_PKG_VERSION");
    let image = format!("localhost/devsim:{version}");
    let inspect = buildah(
        out,
        &[
            "inspect",
            "--format",
            "{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}}",
            &image,
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        "65532:65532 [/usr/local/bin/devsim]",
        "{}",
        text(&inspect)
    );
    let size = buildah(out, &["images", "--format", "{{.Size}}", &image]);
    eprintln!(
        "image {image}: {} unpacked, OCI archive {:.1} MB",
        String::from_utf8_lossy(&size.stdout).trim(),
        archive_size as f64 / 1e6
    );
    assert!(
        archive_size < 40_000_000,
        "the image grew to {archive_size} bytes"
    );

    let from = buildah(out, &["from", "--pull-never", &image]);
    assert!(from.status.success(), "{}", text(&from));
    let container = String::from_utf8_lossy(&from.stdout).trim().to_owned();
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--isolation", "chroot", "--user", "65532:65532"];
        all.extend_from_slice(args);
        buildah(out, &all)
    };
    let version_out = run(&[&container, "--", "/usr/local/bin/devsim", "--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version_out.stdout).trim(),
        format!("devsim {version}"),
        "{}",
        text(&version_out)
    );
    let shell = run(&[&container, "--", "/bin/sh", "-c", "true"]);
    assert!(!shell.status.success(), "the image has a shell");

    let examples = common::tools::repo().join("examples");
    let examples_mount = format!("{}:/examples:ro", examples.display());
    let short_run = run(&[
        "--volume",
        &examples_mount,
        &container,
        "--",
        "/usr/local/bin/devsim",
        "run",
        "-f",
        "/examples/simulation.yaml",
        "--duration",
        "4s",
    ]);
    all_delivered("inside the image as 65532", &short_run);

    // The same root, read-only (as the chart's readOnlyRootFilesystem makes it), entered as
    // 65532 in a mount namespace of its own. podman run --read-only would be the usual way, but
    // crun may not set resource limits in this sandbox.
    let mount = buildah(out, &["mount", &container]);
    assert!(mount.status.success(), "{}", text(&mount));
    let root = String::from_utf8_lossy(&mount.stdout).trim().to_owned();
    let read_only = out.join("read-only-root");
    std::fs::create_dir_all(&read_only).expect("mount point");
    let script = format!(
        "set -e; mount --bind '{root}' '{ro}'; mount -o remount,bind,ro '{ro}'; \
         if touch '{ro}/probe' 2>/dev/null; then echo 'root is writable'; exit 3; fi; \
         mount --bind '{examples}' '{ro}/tmp'; \
         chroot --userspec=65532:65532 '{ro}' /usr/local/bin/devsim run -f /tmp/simulation.yaml --duration 4s",
        ro = read_only.display(),
        examples = examples.display()
    );
    let ro_run = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c", &script])
        .output()
        .expect("run unshare");
    all_delivered("read-only root as 65532", &ro_run);
    let _ = buildah(out, &["rm", &container]);
}
