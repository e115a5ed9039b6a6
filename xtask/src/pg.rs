//! `cargo xtask pg -- <command…>`: a throwaway PostgreSQL cluster for one
//! command.
//!
//! Finds Debian's server binaries (`/usr/lib/postgresql/<ver>/bin`, the
//! highest version, or `initdb` on `PATH`), runs `initdb` in a fresh temp
//! directory (as the `postgres` user through `runuser` when we are root,
//! since the server refuses to run as root; as the current user otherwise),
//! starts it with `pg_ctl` on a free port of 127.0.0.1 (socket in the same
//! directory, `fsync=off`: nothing in it outlives the command), creates the
//! database `hongbao_test`, runs the command with
//! `HONGBAO_TEST_PG_URL=postgres://postgres@127.0.0.1:<port>/hongbao_test`,
//! then stops the server and removes the directory: also when the command
//! fails, panics or is interrupted (SIGINT/SIGTERM are caught while the
//! command runs; the command itself gets the terminal's Ctrl-C and ends, a
//! SIGTERM to xtask kills it).

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The variable that carries the server's URL to the command (read by the
/// PostgreSQL tests of `hongbao-ledger`).
pub(crate) const URL_VAR: &str = "HONGBAO_TEST_PG_URL";

/// The database created in the cluster.
const DATABASE: &str = "hongbao_test";

/// A running throwaway cluster; stopped and removed on drop.
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    as_postgres: bool,
    url: String,
    running: bool,
}

impl Cluster {
    /// Creates and starts a cluster, and creates its database.
    pub(crate) fn start() -> Result<Cluster, String> {
        let bin = find_bin_dir()?;
        let as_postgres = is_root();
        if as_postgres && !user_exists("postgres") {
            return Err(
                "running as root, but there is no `postgres` user to run the \
                        server as (Debian's `postgresql` package creates it: \
                        apt-get install -y postgresql)"
                    .into(),
            );
        }
        let dir = std::env::temp_dir().join(format!(
            "hongbao-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut cluster = Cluster {
            bin,
            dir,
            as_postgres,
            url: String::new(),
            running: false,
        };
        if as_postgres {
            run_quiet(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&cluster.dir),
                "chown the cluster directory to postgres",
            )?;
        }
        let data = cluster.dir.join("data");
        let mut initdb = cluster.server_command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run_quiet(&mut initdb, "initdb")?;

        let port = free_port()?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            cluster.dir.display()
        );
        let mut start = cluster.server_command("pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(cluster.dir.join("server.log"))
            .arg("-o")
            .arg(options)
            .args(["-w", "-t", "60", "start"]);
        run_quiet(&mut start, "pg_ctl start")
            .map_err(|e| format!("{e}\n{}", cluster.log_tail()))?;
        cluster.running = true;

        let mut createdb = Command::new(cluster.bin.join("createdb"));
        createdb
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
            .arg(DATABASE);
        run_quiet(&mut createdb, "createdb")?;
        cluster.url = format!("postgres://postgres@127.0.0.1:{port}/{DATABASE}");
        println!(
            "xtask pg: PostgreSQL ({}) running in {}, {URL_VAR}={}",
            cluster.bin.display(),
            cluster.dir.display(),
            cluster.url
        );
        Ok(cluster)
    }

    /// The URL of the cluster's database.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A command for one of the server binaries, as `postgres` when we are
    /// root.
    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("server log (last lines):\n{tail}")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.running {
            let mut stop = self.server_command("pg_ctl");
            stop.arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"]);
            if let Err(e) = run_quiet(&mut stop, "pg_ctl stop") {
                eprintln!("xtask pg: {e}");
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("xtask pg: cannot remove {}: {e}", self.dir.display());
        } else {
            println!("xtask pg: cluster stopped and removed");
        }
    }
}

/// `cargo xtask pg -- <command…>`: runs the command with a cluster; returns
/// the command's exit status.
pub(crate) fn run(args: &[OsString]) -> Result<ExitStatus, String> {
    let args = match args.first() {
        Some(first) if first == "--" => &args[1..],
        _ => args,
    };
    let Some((program, rest)) = args.split_first() else {
        return Err("`pg` needs a command: cargo xtask pg -- <command…>".into());
    };
    let cluster = Cluster::start()?;
    let mut command = Command::new(program);
    command.args(rest).env(URL_VAR, cluster.url());
    let status = run_interruptible(&mut command)?;
    drop(cluster);
    Ok(status)
}

/// Runs a command to its end; SIGINT and SIGTERM to us do not end us
/// before it (so the cluster is cleaned up): SIGINT from the terminal
/// reaches the command too, SIGTERM is passed on as a kill.
pub(crate) fn run_interruptible(command: &mut Command) -> Result<ExitStatus, String> {
    let interrupted = Arc::new(AtomicBool::new(false));
    let mut registered = Vec::new();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        match signal_hook::flag::register(signal, Arc::clone(&interrupted)) {
            Ok(id) => registered.push(id),
            Err(e) => eprintln!("xtask pg: cannot catch signal {signal}: {e}"),
        }
    }
    let result = (|| {
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        let mut killed = false;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for the command: {e}")),
            }
            if interrupted.load(Ordering::Relaxed) && !killed {
                // Give a Ctrl-C'd child a moment to end by itself.
                std::thread::sleep(Duration::from_secs(2));
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = child.kill();
                }
                killed = true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })();
    for id in registered {
        signal_hook::low_level::unregister(id);
    }
    result
}

/// The directory of `initdb`/`pg_ctl`/`createdb`: the highest
/// `/usr/lib/postgresql/<ver>/bin` (Debian), else the one on `PATH`.
fn find_bin_dir() -> Result<PathBuf, String> {
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        for entry in entries.filter_map(Result::ok) {
            let bin = entry.path().join("bin");
            let Some(version) = entry
                .file_name()
                .to_str()
                .and_then(|v| v.split('.').next().and_then(|m| m.parse::<u32>().ok()))
            else {
                continue;
            };
            if bin.join("initdb").is_file() && best.as_ref().is_none_or(|(v, _)| version > *v) {
                best = Some((version, bin));
            }
        }
    }
    if let Some((_, bin)) = best {
        return Ok(bin);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(dir);
            }
        }
    }
    Err(
        "no PostgreSQL server binaries found (/usr/lib/postgresql/<ver>/bin/initdb or \
         initdb on PATH); install them with: apt-get install -y postgresql"
            .into(),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Runs a command, keeping its output unless it fails.
fn run_quiet(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("{what}: cannot start {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {command:?}\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
