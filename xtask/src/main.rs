//! Project automation for hongbao, run as `cargo xtask <command>` (the alias
//! is in `.cargo/config.toml`).
//!
//! * `cargo xtask ci`: the whole local CI, in order, stopping at the first
//!   failure: format check, `msrv-check`, clippy (warnings denied), each
//!   workspace member checked alone (no feature unification from the others),
//!   `hongbao` and `hongbao-transport` without default features (bring your
//!   own transport), tests (including the examples, which run as tests),
//!   docs (warnings denied), and compiling the benchmarks. Every cargo
//!   command but `fmt` runs with `--locked`.
//! * `cargo xtask msrv-check`: fails when a workspace member's
//!   `rust-version` is lower than the `rust-version` of a locked package it
//!   builds (normal and build dependencies, transitively), printing the
//!   chain that pulls the package in (see [`msrv`]).
//! * `cargo xtask bench [args]`: the criterion benchmarks
//!   (`cargo bench -p hongbao-benches [args]`).
//! * `cargo xtask fuzz [target] [--time SECS]`: a cargo-fuzz target of
//!   `crates/proto/fuzz`, if `cargo fuzz` is installed (with AddressSanitizer
//!   on a nightly toolchain, without a sanitizer on stable).
//! * `cargo xtask pg -- <command…>`: runs the command with a throwaway
//!   PostgreSQL cluster and `HONGBAO_TEST_PG_URL` pointing at it (see
//!   [`pg`]); `cargo xtask ci` runs its test step this way.
//! * `cargo xtask man [DIR]`: the man pages of `hongbao` (clap_mangen),
//!   `hongbao.1` and one per subcommand, into `DIR` (default `target/man`),
//!   by `cargo run -p hongbao-cli -- man DIR` (xtask itself stays small).
//! * `cargo xtask load [CLIENTS] [SECONDS]`: the sandbox load test
//!   (`cargo run --release -p hongbao-sandbox --example load -- CLIENTS SECONDS`,
//!   default 32 clients for 10 seconds), which prints sends/s and the p50 and
//!   p99 latencies.
//!
//! Only `std::process::Command`, plus `serde_json` to read `cargo metadata`
//! and `signal-hook` to clean up the PostgreSQL cluster on Ctrl-C: it
//! builds in seconds.
// Not a published API (a build tool, not published: nothing is public API): exhaustive structs are reviewed in #11's follow-up.
#![allow(clippy::exhaustive_structs)]

mod msrv;
mod pg;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                          fmt check, msrv-check, clippy -D warnings, each crate checked alone,
                              no-default-features checks, tests (and examples), docs -D warnings,
                              bench build
  msrv-check                  fail if a crate's rust-version is below what a locked dependency
                              it builds (normal + build, transitively) declares; prints the chain
  bench [args...]             cargo bench -p hongbao-benches [args...]
                              (e.g. `cargo xtask bench --bench sign`)
  fuzz [target] [--time SECS] run a cargo-fuzz target of crates/proto/fuzz
                              (default: the only target; needs `cargo install cargo-fuzz`;
                              AddressSanitizer on nightly, no sanitizer on stable)
  man [DIR]                   write the man pages of `hongbao` into DIR (default target/man)
                              (cargo run -p hongbao-cli -- man DIR)
  load [CLIENTS] [SECONDS]    load test: CLIENTS concurrent mutual-TLS clients send red packets
                              to an in-process sandbox for SECONDS (default 32 clients, 10 s);
                              prints sends/s, p50 and p99 latency
                              (cargo run --release -p hongbao-sandbox --example load -- CLIENTS SECONDS)
  pg -- <command...>          run the command with a throwaway PostgreSQL cluster (initdb in a temp
                              dir, a free port on 127.0.0.1) and HONGBAO_TEST_PG_URL set to its
                              database; stopped and removed afterwards
                              (e.g. `cargo xtask pg -- cargo test -p hongbao-ledger --features postgres`)
  help                        this text";

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let command = args.next().map(|c| c.to_string_lossy().into_owned());
    let rest: Vec<OsString> = args.collect();
    let result = match command.as_deref() {
        Some("ci") if rest.is_empty() => ci(),
        Some("msrv-check") if rest.is_empty() => msrv_check().map(|_| ()),
        Some("bench") => bench(&rest),
        Some("fuzz") => fuzz(&rest),
        Some("load") => load(&rest),
        Some("pg") => pg_command(&rest),
        Some("man") => man(&rest),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(command @ ("ci" | "msrv-check")) => {
            Err(Failure::Usage(format!("`{command}` takes no arguments")))
        }
        Some(other) => Err(Failure::Usage(format!("unknown command `{other}`"))),
        None => Err(Failure::Usage("no command given".into())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("xtask: {failure}");
            if matches!(failure, Failure::Usage(_)) {
                eprintln!("\n{USAGE}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Why a command did not succeed.
enum Failure {
    /// Wrong arguments.
    Usage(String),
    /// A step ran and failed.
    Step {
        name: String,
        command: String,
        status: String,
    },
    /// A step could not be started at all.
    Spawn {
        name: String,
        command: String,
        error: std::io::Error,
    },
    /// A check made by xtask itself failed (e.g. `msrv-check`).
    Check { name: String, message: String },
    /// A precondition is missing (e.g. `cargo fuzz` not installed).
    Missing(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) | Failure::Missing(message) => f.write_str(message),
            Failure::Step {
                name,
                command,
                status,
            } => write!(f, "step `{name}` FAILED ({status})\n  command: {command}"),
            Failure::Spawn {
                name,
                command,
                error,
            } => write!(
                f,
                "step `{name}` could not start: {error}\n  command: {command}"
            ),
            Failure::Check { name, message } => write!(f, "step `{name}` FAILED: {message}"),
        }
    }
}

/// One command of a pipeline.
struct Step {
    name: String,
    args: Vec<OsString>,
    envs: Vec<(String, String)>,
    dir: PathBuf,
}

impl Step {
    fn cargo(name: impl Into<String>, args: &[&str]) -> Self {
        Step {
            name: name.into(),
            args: args.iter().map(OsString::from).collect(),
            envs: Vec::new(),
            dir: workspace_root(),
        }
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    fn describe(&self) -> String {
        let mut text = String::new();
        for (key, value) in &self.envs {
            text.push_str(&format!("{key}={value} "));
        }
        text.push_str("cargo");
        for arg in &self.args {
            text.push(' ');
            text.push_str(&arg.to_string_lossy());
        }
        text
    }

    /// Runs the step, printing its name, command and duration.
    fn run(&self) -> Result<Duration, Failure> {
        let command = self.describe();
        println!("==> {}: {command}", self.name);
        let start = Instant::now();
        let mut process = Command::new(cargo());
        process
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir);
        let status = pg::run_interruptible(&mut process).map_err(|error| Failure::Spawn {
            name: self.name.clone(),
            command: command.clone(),
            error: std::io::Error::other(error),
        })?;
        let elapsed = start.elapsed();
        if status.success() {
            println!("==> {}: ok in {}", self.name, seconds(elapsed));
            Ok(elapsed)
        } else {
            println!("==> {}: FAILED after {}", self.name, seconds(elapsed));
            Err(Failure::Step {
                name: self.name.clone(),
                command,
                status: status.to_string(),
            })
        }
    }
}

/// One step of `cargo xtask ci`.
enum Job {
    /// A cargo command.
    Cargo(Step),
    /// `msrv-check`, done by xtask itself.
    MsrvCheck,
    /// A cargo command run with a throwaway PostgreSQL cluster
    /// (`HONGBAO_TEST_PG_URL` set, see [`pg`]).
    WithPostgres(Step),
}

impl Job {
    fn name(&self) -> &str {
        match self {
            Job::Cargo(step) | Job::WithPostgres(step) => &step.name,
            Job::MsrvCheck => "msrv-check",
        }
    }

    fn run(&self) -> Result<Duration, Failure> {
        match self {
            Job::Cargo(step) => step.run(),
            Job::MsrvCheck => msrv_check(),
            Job::WithPostgres(step) => {
                let cluster = pg::Cluster::start().map_err(|message| Failure::Check {
                    name: step.name.clone(),
                    message: format!("cannot start PostgreSQL for the tests: {message}"),
                })?;
                let step = Step {
                    name: step.name.clone(),
                    args: step.args.clone(),
                    envs: step.envs.clone(),
                    dir: step.dir.clone(),
                }
                .env(pg::URL_VAR, cluster.url());
                step.run()
            }
        }
    }
}

fn ci() -> Result<(), Failure> {
    let mut jobs = vec![
        Job::Cargo(Step::cargo("fmt", &["fmt", "--all", "--", "--check"])),
        Job::MsrvCheck,
        Job::Cargo(Step::cargo(
            "clippy",
            &[
                "clippy",
                "--locked",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
        )),
    ];
    // Each member alone, with its default features: a crate that compiles
    // only because another member turns on a feature of a shared
    // dependency fails here. Members come from `cargo metadata`, so a new
    // one is checked without editing this list.
    for member in workspace_members()? {
        jobs.push(Job::Cargo(Step::cargo(
            format!("check {member}"),
            &["check", "--locked", "-p", &member],
        )));
    }
    // Bring your own transport: no reqwest, no rustls; the ledger with no
    // backend (the Store trait alone, for a backend of your own).
    for package in ["hongbao-transport", "hongbao", "hongbao-ledger"] {
        jobs.push(Job::Cargo(Step::cargo(
            format!("check {package} --no-default-features"),
            &["check", "--locked", "-p", package, "--no-default-features"],
        )));
    }
    jobs.extend([
        // Snapshots are never accepted or written by CI. With
        // `--all-features`, the examples build too, and those marked
        // `test = true` (crates/client/examples) run. The PostgreSQL tests
        // get a throwaway cluster (and fail, under CI=true, without one).
        Job::WithPostgres(
            Step::cargo(
                "test",
                &["test", "--locked", "--workspace", "--all-features"],
            )
            .env("INSTA_UPDATE", "no")
            .env("CI", "true"),
        ),
        Job::Cargo(
            Step::cargo(
                "doc",
                &[
                    "doc",
                    "--locked",
                    "--workspace",
                    "--no-deps",
                    "--all-features",
                ],
            )
            .env("RUSTDOCFLAGS", "-D warnings"),
        ),
        Job::Cargo(Step::cargo(
            "bench-build",
            &["bench", "--locked", "--workspace", "--no-run"],
        )),
    ]);

    let start = Instant::now();
    let mut timings = Vec::new();
    for job in &jobs {
        match job.run() {
            Ok(elapsed) => timings.push((job.name().to_owned(), elapsed)),
            Err(failure) => {
                print_timings(&timings);
                return Err(failure);
            }
        }
    }
    print_timings(&timings);
    println!(
        "xtask ci: all {} steps passed in {}",
        jobs.len(),
        seconds(start.elapsed())
    );
    Ok(())
}

fn print_timings(timings: &[(String, Duration)]) {
    if timings.is_empty() {
        return;
    }
    let width = timings
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0);
    println!("\nstep timings:");
    for (name, elapsed) in timings {
        println!("  {name:<width$} {}", seconds(*elapsed));
    }
}

/// Runs `cargo metadata --format-version 1 --locked [args]` at the
/// workspace root and parses its output.
fn cargo_metadata(name: &str, args: &[&str]) -> Result<serde_json::Value, Failure> {
    let mut command_line = vec!["metadata", "--format-version", "1", "--locked"];
    command_line.extend_from_slice(args);
    let describe = format!("cargo {}", command_line.join(" "));
    let output = Command::new(cargo())
        .args(&command_line)
        .current_dir(workspace_root())
        .output()
        .map_err(|error| Failure::Spawn {
            name: name.to_owned(),
            command: describe.clone(),
            error,
        })?;
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        return Err(Failure::Step {
            name: name.to_owned(),
            command: describe,
            status: output.status.to_string(),
        });
    }
    serde_json::from_slice(&output.stdout).map_err(|error| Failure::Check {
        name: name.to_owned(),
        message: format!("`{describe}` printed unreadable JSON: {error}"),
    })
}

/// The package names of the workspace members, in the workspace's order.
fn workspace_members() -> Result<Vec<String>, Failure> {
    let metadata = cargo_metadata("members", &["--no-deps"])?;
    let unreadable = || Failure::Check {
        name: "members".to_owned(),
        message: "cargo metadata: no readable `packages`".to_owned(),
    };
    metadata
        .get("packages")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(unreadable)?
        .iter()
        .map(|package| {
            package
                .get("name")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(unreadable)
        })
        .collect()
}

/// `cargo xtask msrv-check` (see [`msrv`]).
fn msrv_check() -> Result<Duration, Failure> {
    const NAME: &str = "msrv-check";
    println!(
        "==> {NAME}: rust-version of each member vs. its locked normal + build dependencies \
         (cargo metadata --locked --all-features, all platforms)"
    );
    let start = Instant::now();
    let metadata = cargo_metadata(NAME, &["--all-features"])?;
    let graph = msrv::Graph::from_metadata(&metadata).map_err(|message| Failure::Check {
        name: NAME.to_owned(),
        message,
    })?;
    let failing = msrv::print(&graph.check());
    let elapsed = start.elapsed();
    if failing == 0 {
        println!("==> {NAME}: ok in {}", seconds(elapsed));
        Ok(elapsed)
    } else {
        println!("==> {NAME}: FAILED after {}", seconds(elapsed));
        Err(Failure::Check {
            name: NAME.to_owned(),
            message: format!(
                "{failing} crate(s) declare a rust-version below what their locked \
                 dependencies need (chains above); raise their `rust-version`"
            ),
        })
    }
}

/// `cargo xtask pg -- <command…>` (see [`pg`]).
fn pg_command(args: &[OsString]) -> Result<(), Failure> {
    let status = pg::run(args).map_err(Failure::Missing)?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::Step {
            name: "pg".to_owned(),
            command: args
                .iter()
                .skip_while(|a| *a == "--")
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            status: status.to_string(),
        })
    }
}

fn man(args: &[OsString]) -> Result<(), Failure> {
    if args.len() > 1 {
        return Err(Failure::Usage(
            "`man` takes at most one argument: DIR".into(),
        ));
    }
    // A DIR given is relative to where xtask was run; cargo runs in the root.
    let dir = match args.first() {
        Some(dir) => std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| PathBuf::from(dir)),
        None => workspace_root().join("target").join("man"),
    };
    let mut step = Step::cargo(
        "man",
        &[
            "run",
            "--quiet",
            "-p",
            "hongbao-cli",
            "--bin",
            "hongbao",
            "--",
            "man",
        ],
    );
    step.args.push(dir.into_os_string());
    step.run().map(|_| ())
}

fn bench(args: &[OsString]) -> Result<(), Failure> {
    let mut step = Step::cargo("bench", &["bench", "-p", "hongbao-benches"]);
    step.args.extend(args.iter().cloned());
    step.run().map(|_| ())
}

/// Default number of concurrent clients of `cargo xtask load`.
const LOAD_CLIENTS: u64 = 32;
/// Default duration of `cargo xtask load`, in seconds.
const LOAD_SECONDS: u64 = 10;

fn load(args: &[OsString]) -> Result<(), Failure> {
    if args.len() > 2 {
        return Err(Failure::Usage(
            "`load` takes at most two arguments: CLIENTS SECONDS".into(),
        ));
    }
    let number = |index: usize, what: &str, default: u64| -> Result<u64, Failure> {
        match args.get(index) {
            None => Ok(default),
            Some(arg) => {
                let text = arg.to_string_lossy();
                match text.parse::<u64>() {
                    Ok(value) if value > 0 => Ok(value),
                    _ => Err(Failure::Usage(format!(
                        "`load`: {what} must be a whole number above 0, got `{text}`"
                    ))),
                }
            }
        }
    };
    let clients = number(0, "CLIENTS", LOAD_CLIENTS)?;
    let seconds = number(1, "SECONDS", LOAD_SECONDS)?;
    let mut step = Step::cargo(
        "load",
        &[
            "run",
            "--release",
            "-p",
            "hongbao-sandbox",
            "--example",
            "load",
            "--",
        ],
    );
    step.args.push(clients.to_string().into());
    step.args.push(seconds.to_string().into());
    step.run().map(|_| ())
}

fn fuzz(args: &[OsString]) -> Result<(), Failure> {
    let mut target: Option<String> = None;
    let mut time: Option<u64> = None;
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--time" => {
                let value = args
                    .next()
                    .ok_or_else(|| Failure::Usage("`--time` needs a number of seconds".into()))?;
                time = Some(value.parse().map_err(|_| {
                    Failure::Usage(format!("`--time {value}`: not a whole number of seconds"))
                })?);
            }
            flag if flag.starts_with('-') => {
                return Err(Failure::Usage(format!("unknown fuzz option `{flag}`")));
            }
            name if target.is_none() => target = Some(name.to_owned()),
            extra => return Err(Failure::Usage(format!("unexpected argument `{extra}`"))),
        }
    }

    let fuzz_dir = workspace_root().join("crates/proto/fuzz");
    let targets = fuzz_targets(&fuzz_dir.join("fuzz_targets"));
    if targets.is_empty() {
        return Err(Failure::Missing(format!(
            "no fuzz targets found in {}",
            fuzz_dir.join("fuzz_targets").display()
        )));
    }
    let target = match target {
        Some(name) if targets.contains(&name) => name,
        Some(name) => {
            return Err(Failure::Usage(format!(
                "no fuzz target `{name}`; available: {}",
                targets.join(", ")
            )));
        }
        None if targets.len() == 1 => targets[0].clone(),
        None => {
            return Err(Failure::Usage(format!(
                "several fuzz targets; name one of: {}",
                targets.join(", ")
            )));
        }
    };

    let installed = Command::new(cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !installed {
        return Err(Failure::Missing(
            "`cargo fuzz` is not installed.\n  install it with: cargo install cargo-fuzz\n  \
             with a nightly toolchain (`cargo +nightly xtask fuzz ...`) it fuzzes under \
             AddressSanitizer;\n  on stable it runs without a sanitizer (--sanitizer none)"
                .into(),
        ));
    }

    let mut step = Step::cargo("fuzz", &["fuzz", "run"]);
    step.dir = workspace_root().join("crates/proto");
    if !rustc_is_nightly() {
        println!(
            "xtask: stable toolchain: fuzzing without a sanitizer (--sanitizer none); \
             use `cargo +nightly xtask fuzz` for AddressSanitizer"
        );
        step.args.push("--sanitizer".into());
        step.args.push("none".into());
    }
    step.args.push(target.into());
    if let Some(seconds) = time {
        step.args.push("--".into());
        step.args.push(format!("-max_total_time={seconds}").into());
    }
    step.run().map(|_| ())
}

/// Whether the active `rustc` is a nightly (cargo-fuzz's sanitizers need
/// `-Z` flags).
fn rustc_is_nightly() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .arg("--version")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("nightly"))
}

/// The file stems of `dir/*.rs`, sorted.
fn fuzz_targets(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
                .filter_map(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The cargo that runs us (so `cargo +toolchain xtask` stays on that toolchain).
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// The workspace root: the parent of this crate's directory.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}
