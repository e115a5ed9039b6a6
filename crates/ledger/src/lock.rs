//! One process at a time per SQLite ledger: an OS advisory lock (`flock` on Unix,
//! `LockFileEx` on Windows, through `fs4`) on the sidecar file
//! `<ledger>.lock`, which also names the holder (pid, host, start time).
//!
//! The lock belongs to the open file: it is released when the
//! [`LedgerLock`] is dropped, and by the operating system when the process
//! ends in any way (error, Ctrl-C, SIGKILL). The lock file itself is never
//! deleted: deleting it while another process waits on it would let two
//! processes hold "the" lock on two different files.

use crate::{LedgerError, now_ms, rfc3339};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a busy lock is tried again before giving up (a `batch status`
/// probing the lock holds it for an instant).
const ATTEMPTS: u32 = 5;
const PAUSE: Duration = Duration::from_millis(40);

/// An exclusive lock on a ledger file, held until dropped.
#[derive(Debug)]
pub struct LedgerLock {
    file: File,
    path: PathBuf,
}

impl LedgerLock {
    /// The lock file of a ledger: `<ledger>.lock`.
    pub fn lock_path(ledger: &Path) -> PathBuf {
        let mut name = ledger.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the ledger's lock, or fails with [`LedgerError::InUse`]
    /// naming the process that holds it. Creates the ledger's directory
    /// and the lock file if needed (the ledger itself is not touched).
    pub fn acquire(ledger: &Path) -> Result<LedgerLock, LedgerError> {
        let shown = ledger.display().to_string();
        if let Some(parent) = ledger.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.exists()
        {
            std::fs::create_dir_all(parent).map_err(|e| LedgerError::ReadOnly {
                path: shown.clone(),
                detail: format!("cannot create its directory: {e}"),
            })?;
        }
        let path = Self::lock_path(ledger);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| LedgerError::ReadOnly {
                path: shown.clone(),
                detail: format!("cannot create its lock file {}: {e}", path.display()),
            })?;
        for attempt in 1..=ATTEMPTS {
            // Called through the trait: `File::try_lock` of std (Rust 1.89)
            // would shadow it on newer toolchains than our MSRV.
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => {
                    let mut lock = LedgerLock { file, path };
                    lock.write_holder().map_err(|e| LedgerError::Io {
                        path: shown,
                        detail: format!("cannot write its lock file: {e}"),
                    })?;
                    return Ok(lock);
                }
                Err(fs4::TryLockError::WouldBlock) if attempt < ATTEMPTS => {
                    std::thread::sleep(PAUSE);
                }
                Err(fs4::TryLockError::WouldBlock) => break,
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(LedgerError::Io {
                        path: shown,
                        detail: format!("cannot lock {}: {e}", path.display()),
                    });
                }
            }
        }
        Err(in_use(&shown, &path))
    }

    /// Whether another process holds the ledger's lock (without waiting);
    /// `Some` is the [`LedgerError::InUse`] to show. For commands that only
    /// read (status, report), to explain a ledger that is being created.
    pub fn holder(ledger: &Path) -> Option<LedgerError> {
        let path = Self::lock_path(ledger);
        let file = File::open(&path).ok()?;
        match fs4::FileExt::try_lock_shared(&file) {
            Err(fs4::TryLockError::WouldBlock) => {
                Some(in_use(&ledger.display().to_string(), &path))
            }
            Ok(()) | Err(fs4::TryLockError::Error(_)) => None,
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_holder(&mut self) -> std::io::Result<()> {
        let host = host_name();
        let text = format!(
            "pid={}\nhost={}\nsince={}\n",
            std::process::id(),
            host,
            rfc3339(now_ms())
        );
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(text.as_bytes())?;
        self.file.flush()
    }
}

impl Drop for LedgerLock {
    fn drop(&mut self) {
        // Empty the file so a stale holder is never shown; the lock itself
        // goes with the file handle (and with the process).
        let _ = self.file.set_len(0);
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// The error for a lock held by someone else, with the holder read from the
/// lock file (it may be mid-write: read a few times).
fn in_use(shown: &str, lock_path: &Path) -> LedgerError {
    let mut holder = None;
    for _ in 0..3 {
        holder = read_holder(lock_path);
        if holder.is_some() {
            break;
        }
        std::thread::sleep(PAUSE);
    }
    LedgerError::InUse {
        path: shown.to_owned(),
        holder: holder.unwrap_or_else(|| {
            format!(
                "another process (its lock file {} names none)",
                lock_path.display()
            )
        }),
    }
}

/// `pid N on host H since T` from a lock file, if it holds all three.
fn read_holder(lock_path: &Path) -> Option<String> {
    let mut text = String::new();
    File::open(lock_path)
        .ok()?
        .take(4096)
        .read_to_string(&mut text)
        .ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    Some(format!(
        "pid {} on host {} since {}",
        field("pid")?,
        field("host")?,
        field("since")?
    ))
}

/// This machine's name, without a dependency: the kernel's name on Linux,
/// `/etc/hostname`, then the usual environment variables.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            ["HOSTNAME", "COMPUTERNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_text_needs_all_fields() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.db.lock");
        std::fs::write(&path, "pid=12\nhost=box\nsince=2026-01-01T00:00:00Z\n").expect("write");
        assert_eq!(
            read_holder(&path).as_deref(),
            Some("pid 12 on host box since 2026-01-01T00:00:00Z")
        );
        std::fs::write(&path, "pid=12\n").expect("write");
        assert_eq!(read_holder(&path), None);
    }
}
