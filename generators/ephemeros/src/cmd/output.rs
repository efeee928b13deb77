//! Writing a command's output: to a file, or to standard output.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes through a temporary file in the same directory, synced, then
/// renamed into place: a failure or an interrupt never leaves a
/// half-written config or script where the old one was.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("output path {} names no file", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    if let Err(err) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(err).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
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
