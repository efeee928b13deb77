//! Writing a command's output: to a file, or to standard output.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes `bytes` to `path` the way a user who names an output expects:
/// - a regular file (or a new one) is replaced in one step by the one
///   atomic writer, `ephemeros_stick::atomic_file::replace` (a temporary
///   in the same directory, synced, renamed into place, removed on any
///   error or catchable signal), so a failure or an interrupt never leaves
///   a half-written config or script;
/// - a symbolic link is followed (to its final target, which may not exist
///   yet) and that target is replaced; the link stays a link;
/// - a device, FIFO or socket (`-o /dev/null`, `-o /dev/stdout`, a pipe) is
///   written into: renaming over it would replace the device node itself.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = ephemeros_stick::target::follow_links(path)?;
    match std::fs::metadata(&target) {
        Ok(meta) if meta.is_dir() => {
            anyhow::bail!("cannot write {}: it is a directory", path.display())
        }
        Ok(meta) if !meta.is_file() => {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .open(&target)
                .with_context(|| format!("cannot open {}", path.display()))?;
            return out
                .write_all(bytes)
                .and_then(|()| out.flush())
                .with_context(|| format!("cannot write {}", path.display()));
        }
        _ => {}
    }
    ephemeros_stick::atomic_file::replace(&target, 0o666, bytes).with_context(|| {
        if target == path {
            format!("cannot write {}", path.display())
        } else {
            format!(
                "cannot write {} (the target of the link {})",
                target.display(),
                path.display()
            )
        }
    })
}

/// Writes all of `bytes` to standard output and flushes. `println!` panics
/// when stdout fails (a closed pipe, a full disk); this reports an error
/// instead. A reader that went away (`| head`) is not worth a long message,
/// but the exit status still says the output is incomplete.
pub fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
            anyhow::bail!("standard output was closed before all output was written")
        }
        Err(err) => Err(err).context("cannot write to standard output"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("ephemeros-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.txt");
        std::fs::write(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ephemeros-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_link_is_written_through_and_stays_a_link() {
        let dir = scratch("link");
        std::fs::write(dir.join("real.ign"), b"old").unwrap();
        std::os::unix::fs::symlink("real.ign", dir.join("link.ign")).unwrap();
        // A dangling link: its target is created.
        std::os::unix::fs::symlink("sub/new.ign", dir.join("dangling.ign")).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        write_atomically(&dir.join("link.ign"), b"new").unwrap();
        write_atomically(&dir.join("dangling.ign"), b"fresh").unwrap();
        for link in ["link.ign", "dangling.ign"] {
            let meta = std::fs::symlink_metadata(dir.join(link)).unwrap();
            assert!(meta.file_type().is_symlink(), "{link} was replaced");
        }
        assert_eq!(std::fs::read(dir.join("real.ign")).unwrap(), b"new");
        assert_eq!(std::fs::read(dir.join("sub/new.ign")).unwrap(), b"fresh");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fifo_is_written_into_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = scratch("fifo");
        let fifo = dir.join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomically(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        let meta = std::fs::symlink_metadata(&fifo).unwrap();
        assert!(meta.file_type().is_fifo(), "the FIFO was replaced");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_loop_is_an_error() {
        let dir = scratch("loop");
        std::os::unix::fs::symlink("b", dir.join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.join("b")).unwrap();
        let err = write_atomically(&dir.join("a"), b"x").unwrap_err();
        assert!(format!("{err:#}").contains("too many levels"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_path() {
        let err =
            write_atomically(Path::new("/nonexistent-dir-ephemeros/x.ign"), b"{}").unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent-dir-ephemeros/x.ign"),
            "{err:#}"
        );
    }
}
