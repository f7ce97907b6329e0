//! The release tooling (helm, kubectl for kustomize, kubernetes-validate, check-jsonschema,
//! yamllint, hadolint), installed once per machine by tests/env/tools.sh, and a way to run it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository's root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The folder holding the pinned tools, installing them the first time.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let output = Command::new("bash")
            .arg(repo().join("tests/env/tools.sh"))
            .output()
            .expect("run tests/env/tools.sh");
        assert!(
            output.status.success(),
            "tests/env/tools.sh failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
}

/// Runs `tool` from the tools folder in the repository's root; returns whether it succeeded
/// and everything it printed.
pub fn run(tool: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(bin().join(tool))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Runs `tool` and panics with its output unless it succeeds; returns its output.
pub fn run_ok(tool: &str, args: &[&str]) -> String {
    let (ok, text) = run(tool, args);
    assert!(ok, "{tool} {}:\n{text}", args.join(" "));
    text
}

/// `helm template` of the chart with the release name `devsim` in `namespace`, plus `args`:
/// the manifests it prints.
pub fn render(namespace: &str, args: &[&str]) -> String {
    let mut all = vec![
        "template",
        "devsim",
        "charts/devsim",
        "--namespace",
        namespace,
    ];
    all.extend_from_slice(args);
    stdout_of("helm", &all)
}

/// What `tool` prints on standard output (its warnings, on standard error, are not part of
/// it); panics with both unless it succeeds.
pub fn stdout_of(tool: &str, args: &[&str]) -> String {
    let output = Command::new(bin().join(tool))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        output.status.success(),
        "{tool} {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap_or_else(|_| panic!("{tool} printed non-UTF-8"))
}

/// The documents of a multi-document YAML text, as JSON values (empty documents left out).
pub fn documents(yaml: &str) -> Vec<serde_json::Value> {
    yaml.split("\n---")
        .filter(|doc| {
            doc.lines()
                .any(|l| !l.trim().is_empty() && !l.starts_with('#'))
        })
        .filter_map(|doc| {
            let value: serde_json::Value =
                serde_saphyr::from_str(doc).unwrap_or_else(|e| panic!("{e}:\n{doc}"));
            (!value.is_null()).then_some(value)
        })
        .collect()
}
