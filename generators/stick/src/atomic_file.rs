//! The one atomic file writer, with two guarantees for two kinds of output.
//!
//! [`create_private`] (stick images, which hold the node's secrets): no
//! name ever holds a partial image, and no name the user did not give ever
//! holds secret bytes, whatever kills the build.
//!
//! - Where the filesystem supports it (Linux 3.11+, ext4, xfs, btrfs,
//!   tmpfs, …), the image is written to an unnamed file (`O_TMPFILE`) and
//!   only linked to its name (`linkat`) once complete and synced. A kill at
//!   any point leaves nothing: the kernel frees an unnamed file with its
//!   last descriptor. Replacing an existing image unlinks it just before the
//!   link, with every catchable signal blocked, so the gap between the two
//!   calls is only open to SIGKILL and then leaves no image rather than a
//!   stray one.
//! - Elsewhere, a named temporary file `.NAME.ephemeros-PID.tmp` beside the
//!   target, removed on any error and by a handler for every catchable
//!   signal (then re-raised). SIGKILL cannot be caught; a temporary left by
//!   it (or by an older ephemeros) is removed by the next build of the same
//!   target once its process is gone.
//!
//! `EPHEMEROS_IMAGE_TMPFILE=0` forces the second way (tests use it).
//!
//! [`replace`] (public outputs: `ignition.ign`, a boot script): readers see
//! the old file or the new one, never a mix, because the new one is
//! renamed over the old (the unnamed-file way cannot replace a file in one
//! step). It uses the same named temporary, cleaned up the same way.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::error::{Error, Result};

/// Signals whose default action ends the process and that can be caught.
const FATAL_SIGNALS: [libc::c_int; 12] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGPIPE,
    libc::SIGALRM,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
];

/// Creates the complete file at `path` (mode 0600) with `fill`, which
/// writes and syncs the file it is given.
pub fn create_private(path: &Path, fill: &dyn Fn(&File) -> Result<()>) -> Result<()> {
    let (dir, name) = split(path)?;
    remove_stale_temporaries(&dir, &name);
    // linkat names an unnamed file through /proc (AT_EMPTY_PATH would need
    // CAP_DAC_READ_SEARCH); without /proc, the named way it is.
    let tmpfile_allowed = std::env::var_os("EPHEMEROS_IMAGE_TMPFILE").is_none_or(|v| v != "0")
        && Path::new("/proc/self/fd").is_dir();
    if tmpfile_allowed {
        match unnamed_file(&dir) {
            Ok(file) => {
                fill(&file)?;
                return link_into_place(&file, path);
            }
            // Filesystems without O_TMPFILE say so in these ways.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
                ) => {}
            Err(e) => {
                return Err(Error::io(format!(
                    "creating an image file in {}",
                    dir.display()
                ))(e))
            }
        }
    }
    named_temporary(&dir, &name, path, 0o600, fill)
}

/// Replaces `path` (a regular file, or none yet) with `bytes` in one step,
/// created with `mode` (less the umask); synced before the rename.
pub fn replace(path: &Path, mode: u32, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let (dir, name) = split(path)?;
    remove_stale_temporaries(&dir, &name);
    named_temporary(&dir, &name, path, mode, &|mut file: &File| {
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(Error::io(format!("writing {}", path.display())))
    })
}

fn split(path: &Path) -> Result<(PathBuf, OsString)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::invalid(&path.display().to_string(), "is not a file name"))?;
    Ok((dir, name.to_owned()))
}

fn unnamed_file(dir: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
}

fn cstring(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(&path.display().to_string(), "holds a NUL byte"))
}

/// Gives the unnamed `file` the name `path`, replacing what is there.
fn link_into_place(file: &File, path: &Path) -> Result<()> {
    let target = cstring(path)?;
    let source = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL");
    let _blocked = BlockedSignals::new();
    // SAFETY: plain syscalls on NUL-terminated paths that outlive them.
    let link = || unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            source.as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    let mut rc = link();
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EEXIST) {
        // SAFETY: as above.
        if unsafe { libc::unlink(target.as_ptr()) } == 0 {
            rc = link();
        }
    }
    if rc != 0 {
        return Err(Error::io(format!("naming the image {}", path.display()))(
            std::io::Error::last_os_error(),
        ));
    }
    sync_dir(path);
    Ok(())
}

fn sync_dir(path: &Path) {
    if let Ok(d) = File::open(split(path).map(|(d, _)| d).unwrap_or_default()) {
        let _ = d.sync_all();
    }
}

/// Every catchable signal held back while alive, so that a rename or
/// unlink+link pair is not split by a handler's exit.
struct BlockedSignals(libc::sigset_t);

impl BlockedSignals {
    fn new() -> BlockedSignals {
        // SAFETY: sigset_t is plain data; the calls only fill it in.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
            BlockedSignals(old)
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in new().
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
        }
    }
}

fn temporary_name(name: &OsStr, pid: u32) -> OsString {
    let mut t = OsString::from(".");
    t.push(name);
    t.push(format!(".ephemeros-{pid}.tmp"));
    t
}

/// Removes `.NAME.ephemeros-PID.tmp` files whose process is gone: left by
/// a SIGKILL, or by versions before this one, they may hold secrets.
fn remove_stale_temporaries(dir: &Path, name: &OsStr) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = temporary_name(name, 0);
    let prefix = &prefix.as_bytes()[..prefix.len() - "0.tmp".len()];
    for entry in entries.flatten() {
        let file_name = entry.file_name().into_vec();
        let Some(pid) = file_name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(b".tmp"))
            .and_then(|pid| std::str::from_utf8(pid).ok())
            .and_then(|pid| pid.parse::<libc::pid_t>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The temporary file's path for the signal handler (a leaked CString).
static TEMPORARY: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn remove_temporary_and_die(signal: libc::c_int) {
    let path = TEMPORARY.swap(std::ptr::null_mut(), Ordering::SeqCst);
    // SAFETY: unlink, signal and raise are async-signal-safe; `path` is a
    // leaked, NUL-terminated string or null.
    unsafe {
        if !path.is_null() {
            libc::unlink(path);
        }
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Handlers that remove the temporary on a fatal signal, for as long as
/// this lives; the previous handlers come back on drop.
struct CleanupOnSignal {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl CleanupOnSignal {
    fn arm(path: &CString) -> CleanupOnSignal {
        TEMPORARY.store(path.clone().into_raw(), Ordering::SeqCst);
        let mut previous = Vec::new();
        for sig in FATAL_SIGNALS {
            // SAFETY: installs a handler that only makes async-signal-safe
            // calls; sigaction structs are plain data.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = remove_temporary_and_die as *const () as usize;
                libc::sigfillset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &action, &mut old) == 0 {
                    previous.push((sig, old));
                }
            }
        }
        CleanupOnSignal { previous }
    }
}

impl Drop for CleanupOnSignal {
    fn drop(&mut self) {
        for (sig, old) in &self.previous {
            // SAFETY: restores what arm() saved.
            unsafe {
                libc::sigaction(*sig, old, std::ptr::null_mut());
            }
        }
        let path = TEMPORARY.swap(std::ptr::null_mut(), Ordering::SeqCst);
        if !path.is_null() {
            // SAFETY: the pointer came from CString::into_raw in arm().
            drop(unsafe { CString::from_raw(path) });
        }
    }
}

fn named_temporary(
    dir: &Path,
    name: &OsStr,
    path: &Path,
    mode: u32,
    fill: &dyn Fn(&File) -> Result<()>,
) -> Result<()> {
    let tmp = dir.join(temporary_name(name, std::process::id()));
    let tmp_c = cstring(&tmp)?;
    // Armed before the file exists, and disarmed only after it is renamed
    // or removed, so no moment has it without cleanup.
    let cleanup = CleanupOnSignal::arm(&tmp_c);
    let result = fill_and_rename(&tmp, path, mode, fill);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drop(cleanup);
    sync_dir(path);
    result
}

fn fill_and_rename(
    tmp: &Path,
    path: &Path,
    mode: u32,
    fill: &dyn Fn(&File) -> Result<()>,
) -> Result<()> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)
        .map_err(Error::io(format!("creating {}", tmp.display())))?;
    fill(&file)?;
    let _blocked = BlockedSignals::new();
    std::fs::rename(tmp, path).map_err(Error::io(format!(
        "renaming {} to {}",
        tmp.display(),
        path.display()
    )))
}
