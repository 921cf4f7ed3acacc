//! Atomic output: everything is written to a temporary sibling and renamed into place, so an
//! interrupted or failed write never leaves a partial video at the target path.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The directory `path` will be written into; it must exist.
pub(crate) fn parent_dir(path: &Path) -> Result<PathBuf, Error> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if parent.is_dir() {
        Ok(parent)
    } else {
        Err(Error::MissingParentDir { path: path.to_path_buf(), parent })
    }
}

/// The final path component as a string, for naming temporaries.
fn stem_for_temp(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".to_owned())
}

/// A temp-file builder; `mode` is the unix mode to create with (before umask).
#[cfg_attr(not(unix), allow(unused_variables))]
fn builder_for(prefix: &str, mode: u32) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Same mode a plain `File::create` / `create_dir` would get (both are reduced by umask);
        // tempfile's default would be owner-only.
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    builder
}

/// Writes a single file atomically: `write` fills a temporary file in the target's directory,
/// which is then flushed, synced and renamed onto `path` (replacing an existing file). If
/// `write` fails, the temporary file is removed and `path` is untouched.
pub(crate) fn write_file<F>(path: &Path, write: F) -> Result<(), Error>
where
    F: FnOnce(&mut BufWriter<&File>) -> Result<(), Error>,
{
    let parent = parent_dir(path)?;
    if path.is_dir() {
        return Err(Error::OutputExists {
            path: path.to_path_buf(),
            reason: "it is a directory, expected a file path".to_owned(),
        });
    }
    let prefix = format!(".{}.", stem_for_temp(path));
    let tmp = builder_for(&prefix, 0o666).tempfile_in(&parent).map_err(|e| Error::io(path, e))?;
    {
        let mut writer = BufWriter::new(tmp.as_file());
        write(&mut writer)?;
        writer.flush().map_err(|e| Error::io(path, e))?;
    }
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_file(path, |w| w.write_all(bytes).map_err(|e| Error::io(path, e)))
}

/// Creates the directory `path` atomically: `fill` populates a temporary directory beside it,
/// which is then renamed to `path`. An existing `path` is replaced only if `may_replace`
/// accepts it (it returns the reason for refusing otherwise); it is moved aside first and
/// removed once the new directory is in place. On failure the temporary directory is removed
/// and an existing `path` is left (or put back) as it was.
pub(crate) fn write_dir<F, R>(path: &Path, may_replace: R, fill: F) -> Result<(), Error>
where
    F: FnOnce(&Path) -> Result<(), Error>,
    R: FnOnce(&Path) -> Result<(), String>,
{
    let parent = parent_dir(path)?;
    let exists = fs::symlink_metadata(path).is_ok();
    if exists {
        may_replace(path).map_err(|reason| Error::OutputExists { path: path.to_path_buf(), reason })?;
    }
    let prefix = format!(".{}.dir-", stem_for_temp(path));
    let tmp = builder_for(&prefix, 0o777).tempdir_in(&parent).map_err(|e| Error::io(path, e))?;
    fill(tmp.path())?;

    if !exists {
        let tmp_path = tmp.keep();
        return fs::rename(&tmp_path, path).map_err(|e| {
            let _ = fs::remove_dir_all(&tmp_path);
            Error::io(path, e)
        });
    }

    // Move the old output aside under a fresh name, then swap the new one in.
    let backup_path = unused_sibling(&parent, &format!(".{}.old-", stem_for_temp(path)));
    fs::rename(path, &backup_path).map_err(|e| Error::io(path, e))?;
    let tmp_path = tmp.keep();
    if let Err(e) = fs::rename(&tmp_path, path) {
        let _ = fs::rename(&backup_path, path);
        let _ = fs::remove_dir_all(&tmp_path);
        return Err(Error::io(path, e));
    }
    fs::remove_dir_all(&backup_path).map_err(|e| Error::io(&backup_path, e))
}

/// A path in `dir` starting with `prefix` that does not exist yet.
fn unused_sibling(dir: &Path, prefix: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (0u32..)
        .map(|i| dir.join(format!("{prefix}{}-{nanos}-{i}.tmp", std::process::id())))
        .find(|p| fs::symlink_metadata(p).is_err())
        .unwrap_or_else(|| dir.join(format!("{prefix}backup.tmp")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn fail(path: &Path) -> Error {
        Error::malformed(path, "test", "simulated failure")
    }

    #[test]
    fn failed_file_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        let err = write_file(&path, |w| {
            w.write_all(&[1; 100_000]).unwrap();
            Err(fail(&path))
        })
        .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }));
        assert!(names(dir.path()).is_empty());

        // An existing file survives a failed rewrite.
        fs::write(&path, b"old").unwrap();
        write_file(&path, |w| {
            w.write_all(b"new, partial").unwrap();
            Err(fail(&path))
        })
        .unwrap_err();
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["out.bin"]);

        write_bytes(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(names(dir.path()), ["out.bin"]);
    }

    #[test]
    fn failed_dir_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("frames");
        let err = write_dir(
            &path,
            |_| Ok(()),
            |tmp| {
                fs::write(tmp.join("a"), b"x").unwrap();
                Err(fail(&path))
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }));
        assert!(names(dir.path()).is_empty());

        // Replacing: the old directory survives a failed rewrite, and is swapped on success.
        fs::create_dir(&path).unwrap();
        fs::write(path.join("old"), b"x").unwrap();
        write_dir(&path, |_| Ok(()), |_| Err(fail(&path))).unwrap_err();
        assert_eq!(names(&path), ["old"]);
        write_dir(&path, |_| Ok(()), |tmp| fs::write(tmp.join("new"), b"y").map_err(|e| Error::io(tmp, e)))
            .unwrap();
        assert_eq!(names(&path), ["new"]);
        assert_eq!(names(dir.path()), ["frames"]);

        // Refused replacement.
        let err = write_dir(&path, |_| Err("no".to_owned()), |_| Ok(())).unwrap_err();
        assert!(matches!(err, Error::OutputExists { .. }));
        assert_eq!(names(&path), ["new"]);
    }

    #[cfg(unix)]
    #[test]
    fn output_is_not_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_bytes(&path, b"x").unwrap();
        let reference = dir.path().join("plain.bin");
        fs::write(&reference, b"x").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), mode(&reference));
    }
}
