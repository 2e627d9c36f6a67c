//! Every file and every byte of stdout the CLI writes goes through here, so that no work is
//! lost to an output problem:
//! - [`check_file`] and [`check_dir`] run before any work: a path that cannot be written is a
//!   [`UsageError`] (exit 2) in milliseconds, not after an hour of benchmarks;
//! - [`write_atomic`] writes a temporary file beside the target and renames it over the
//!   target, so a failed write (full disk, quota) leaves the previous file intact;
//! - [`Writer`] writes every output even when one fails, announces each file written on
//!   stderr, and reports each distinct OS error once, as one line (exit 1);
//! - [`write_stdout`] ends quietly when the reader went away (a closed pipe) and reports any
//!   other error (a full device) as one line instead of panicking.

use crate::error::{Error, UsageError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The text of an OS error without Rust's " (os error N)" suffix, and without the temporary
/// path `tempfile` appends (" at path ..."), which means nothing to the user: "No space left
/// on device".
pub fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The directory a file path lives in ("." for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Proves that files can be created in `dir` by creating (and removing) an empty temporary
/// file there: the only check that holds for root, read-only mounts and full quotas alike.
fn probe_dir(flag: &str, shown: &Path, dir: &Path) -> Result<(), UsageError> {
    tempfile::Builder::new()
        .prefix(".parbench-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| {
            UsageError::new(format!(
                "{flag} {}: cannot write in {}: {}",
                shown.display(),
                dir.display(),
                os_error_text(&e)
            ))
        })
}

/// Checks, before any work, that a file can be written at `path` for the option `flag`: its
/// directory exists, the path is not a directory, and files can be created there.
pub fn check_file(flag: &str, path: &Path) -> Result<(), UsageError> {
    let shown = path.display();
    if path.as_os_str().is_empty() {
        return Err(UsageError::new(format!("{flag}: the path is empty")));
    }
    if path.as_os_str().to_string_lossy().ends_with('/') || path.is_dir() {
        return Err(UsageError::new(format!(
            "{flag} {shown}: is a directory; give a file name"
        )));
    }
    let dir = parent_of(path);
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(UsageError::new(format!(
                "{flag} {shown}: {} is not a directory",
                dir.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UsageError::new(format!(
                "{flag} {shown}: directory {} does not exist",
                dir.display()
            )))
        }
        Err(e) => {
            return Err(UsageError::new(format!(
                "{flag} {shown}: {}: {}",
                dir.display(),
                os_error_text(&e)
            )))
        }
    }
    match std::fs::metadata(path) {
        // A device or a pipe (`-o /dev/stdout`) is written in place, not replaced.
        Ok(m) if !m.is_file() => Ok(()),
        _ => probe_dir(flag, path, dir),
    }
}

/// Checks, before any work, that `dir` can hold output files for the option `flag`: either
/// it is a writable directory, or it does not exist yet and its parent is a writable
/// directory (it is then created when the first file is written).
pub fn check_dir(flag: &str, dir: &Path) -> Result<(), UsageError> {
    let shown = dir.display();
    if dir.as_os_str().is_empty() {
        return Err(UsageError::new(format!("{flag}: the path is empty")));
    }
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => probe_dir(flag, dir, dir),
        Ok(_) => Err(UsageError::new(format!(
            "{flag} {shown}: exists and is not a directory"
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = parent_of(dir);
            if !parent.is_dir() {
                return Err(UsageError::new(format!(
                    "{flag} {shown}: directory {} does not exist",
                    parent.display()
                )));
            }
            probe_dir(flag, dir, parent)
        }
        Err(e) => Err(UsageError::new(format!(
            "{flag} {shown}: {}",
            os_error_text(&e)
        ))),
    }
}

/// Checks that no two outputs name the same file: the second write would silently replace
/// the first. `outputs` are (flag, path) pairs; absent options are simply left out.
pub fn check_distinct(outputs: &[(&str, &Path)]) -> Result<(), UsageError> {
    let key = |p: &Path| {
        // The directory canonicalised (it exists by now), the file name as given.
        let dir = std::fs::canonicalize(parent_of(p)).unwrap_or_else(|_| parent_of(p).into());
        dir.join(p.file_name().unwrap_or_default())
    };
    for (i, (flag_a, a)) in outputs.iter().enumerate() {
        for (flag_b, b) in &outputs[i + 1..] {
            if key(a) == key(b) {
                return Err(UsageError::new(format!(
                    "{flag_a} and {flag_b} both name {}",
                    a.display()
                )));
            }
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, flushed
/// to disk, then renamed over `path`. If anything fails the temporary file is removed and a
/// previous file at `path` is left as it was. A symbolic link is followed (its target is
/// replaced, not the link), and a path that is not a regular file (`/dev/null`, a pipe) is
/// written in place, since replacing it would be wrong.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut target = PathBuf::from(path);
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        if let Ok(real) = std::fs::canonicalize(path) {
            target = real;
        }
    }
    if let Ok(m) = std::fs::metadata(&target) {
        if !m.is_file() {
            let mut f = std::fs::OpenOptions::new().write(true).open(&target)?;
            return f.write_all(bytes).and_then(|()| f.flush());
        }
    }
    let dir = parent_of(&target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    // A new file gets 0666 less the umask, like any file the program creates; a replaced
    // file keeps its mode exactly.
    let existing = std::fs::metadata(&target)
        .ok()
        .map(|m| std::fs::Permissions::from_mode(m.permissions().mode() & 0o7777));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)?;
    // A stop signal that cannot end the program in time must not leave it behind either.
    let _registered = crate::interrupt::register_temp(tmp.path());
    if let Some(mode) = existing {
        tmp.as_file().set_permissions(mode)?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // On error the temporary file is dropped, which removes it.
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// Writes a line to stderr, ignoring errors: a message about a failure must not become a
/// second failure (or a panic, as `eprintln!` would on a closed stderr).
pub fn say(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// Writes `bytes` to stdout and flushes. A reader that went away (`| head`: EPIPE) is not an
/// error: the output is simply not wanted any more. Anything else (a full device) is an
/// [`Error::Output`] naming the cause.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(stdout_error(&e)),
    }
}

/// The error for a failed write to stdout.
pub fn stdout_error(e: &std::io::Error) -> Error {
    Error::Output(format!("cannot write to stdout: {}", os_error_text(e)))
}

/// One output that was not written.
#[derive(Debug)]
struct Failure {
    flag: String,
    path: PathBuf,
    cause: String,
}

/// Writes every output of a command, keeping going past a failure so that one bad output
/// never loses another's data, then reports all failures at once.
#[derive(Debug)]
pub struct Writer {
    quiet: bool,
    written: usize,
    failures: Vec<Failure>,
}

impl Writer {
    /// A writer that announces each file on stderr unless `quiet`.
    pub fn new(quiet: bool) -> Self {
        Writer {
            quiet,
            written: 0,
            failures: Vec::new(),
        }
    }

    /// Writes one file atomically for option `flag`. Returns whether it was written.
    pub fn file(&mut self, flag: &str, path: &Path, bytes: impl AsRef<[u8]>) -> bool {
        match write_atomic(path, bytes.as_ref()) {
            Ok(()) => {
                self.written += 1;
                if !self.quiet {
                    say(&format!("parbench: wrote {}", path.display()));
                }
                true
            }
            Err(e) => {
                self.fail(flag, path, os_error_text(&e));
                false
            }
        }
    }

    /// Creates the directory `dir` for option `flag` if needed. Returns whether it exists.
    pub fn dir(&mut self, flag: &str, dir: &Path) -> bool {
        match std::fs::create_dir_all(dir) {
            Ok(()) => true,
            Err(e) => {
                self.fail(flag, dir, os_error_text(&e));
                false
            }
        }
    }

    /// Records an output that could not be produced at all (its content failed to render).
    pub fn fail(&mut self, flag: &str, path: &Path, cause: impl Into<String>) {
        self.failures.push(Failure {
            flag: flag.to_string(),
            path: path.to_path_buf(),
            cause: cause.into(),
        });
    }

    /// Writes `bytes` to stdout; a failure other than a closed pipe is recorded like a file's.
    pub fn stdout(&mut self, bytes: impl AsRef<[u8]>) {
        if let Err(Error::Output(message)) = write_stdout(bytes.as_ref()) {
            let cause = message.trim_start_matches("cannot write to stdout: ");
            self.fail("stdout", Path::new("-"), cause);
        }
    }

    /// Files written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// `Ok` when everything was written; else one [`Error::Output`] that names each distinct
    /// cause once, with the outputs it hit: "cannot write 2 outputs (1 written): No space left
    /// on device: -o out.json; --chart c.svg", or for one output "cannot write -o out.json:
    /// No space left on device" ("cannot write to stdout: ..." for stdout).
    pub fn finish(self) -> Result<(), Error> {
        if self.failures.is_empty() {
            return Ok(());
        }
        let mut causes: Vec<(&str, Vec<String>)> = Vec::new();
        for f in &self.failures {
            let what = if f.flag == "stdout" {
                "stdout".to_string()
            } else {
                format!("{} {}", f.flag, f.path.display())
            };
            match causes.iter_mut().find(|(c, _)| *c == f.cause) {
                Some((_, list)) => list.push(what),
                None => causes.push((&f.cause, vec![what])),
            }
        }
        let parts: Vec<String> = causes
            .iter()
            .map(|(cause, list)| format!("{cause}: {}", crate::error::list_capped(list)))
            .collect();
        let n = self.failures.len();
        if let [only] = self.failures.as_slice() {
            let what = if only.flag == "stdout" {
                "to stdout".to_string()
            } else {
                format!("{} {}", only.flag, only.path.display())
            };
            return Err(Error::Output(format!(
                "cannot write {what}: {}",
                only.cause
            )));
        }
        Err(Error::Output(format!(
            "cannot write {n} output{} ({} written): {}",
            if n == 1 { "" } else { "s" },
            self.written,
            parts.join(" | ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_lose_their_suffix() {
        let e = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(os_error_text(&e), "No space left on device");
        let plain = std::io::Error::other("plain words");
        assert_eq!(os_error_text(&plain), "plain words");
        let dir = tempfile::tempdir().unwrap();
        let wrapped = tempfile::NamedTempFile::new_in(dir.path().join("gone")).unwrap_err();
        assert_eq!(os_error_text(&wrapped), "No such file or directory");
    }

    #[test]
    fn bad_paths_are_usage_errors_naming_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let file = d.join("f.txt");
        std::fs::write(&file, "x").unwrap();
        let cases = [
            (
                check_file("-o", &d.join("missing/x.json")),
                "does not exist",
            ),
            (check_file("-o", d), "is a directory"),
            (
                check_file("--chart", &file.join("x.svg")),
                "is not a directory",
            ),
            (
                check_dir("--timeline", &file),
                "exists and is not a directory",
            ),
            (check_dir("--timeline", &d.join("a/b")), "does not exist"),
            (check_file("-o", Path::new("")), "empty"),
        ];
        for (got, needle) in cases {
            let e = got.expect_err(needle).to_string();
            assert!(e.contains(needle), "{e}");
            assert!(e.starts_with('-'), "names the flag: {e}");
        }
        check_file("-o", &d.join("new.json")).unwrap();
        check_file("-o", &file).unwrap();
        check_dir("--timeline", d).unwrap();
        check_dir("--timeline", &d.join("new")).unwrap();
        check_file("-o", Path::new("/dev/null")).unwrap();
        assert_eq!(
            std::fs::read_dir(d).unwrap().count(),
            1,
            "probes leave nothing"
        );
    }

    #[test]
    fn the_same_file_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.svg");
        let b = dir.path().join(".").join("a.svg");
        assert!(check_distinct(&[("-o", &a), ("--chart", &b)]).is_err());
        let c = dir.path().join("c.svg");
        check_distinct(&[("-o", &a), ("--chart", &c)]).unwrap();
    }

    #[test]
    fn atomic_write_replaces_whole_files_and_keeps_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_atomic(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // Through a symlink: the target is replaced, the link stays a link.
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        write_atomic(&link, b"third").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read(&path).unwrap(), b"third");
        // A failed write (the directory is gone) leaves no temporary file anywhere.
        assert!(write_atomic(&dir.path().join("gone/x"), b"x").is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "{names:?}");
        write_atomic(Path::new("/dev/null"), b"discarded").unwrap();
    }

    #[test]
    fn a_writer_keeps_going_and_names_each_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(true);
        let good = dir.path().join("good.json");
        assert!(!w.file("-o", &dir.path().join("no/a.json"), "a"));
        assert!(w.file("--chart", &good, "b"));
        assert!(!w.file("--timeline", &dir.path().join("no/b.svg"), "c"));
        assert_eq!(w.written(), 1);
        assert_eq!(std::fs::read(&good).unwrap(), b"b");
        let e = w.finish().unwrap_err().to_string();
        assert_eq!(e.matches("No such file or directory").count(), 1, "{e}");
        assert!(e.contains("-o ") && e.contains("--timeline "), "{e}");
        assert!(e.starts_with("cannot write 2 outputs (1 written)"), "{e}");
        assert!(Writer::new(true).finish().is_ok());
        let mut one = Writer::new(true);
        one.fail("-o", Path::new("r.json"), "File too large");
        assert_eq!(
            one.finish().unwrap_err().to_string(),
            "cannot write -o r.json: File too large"
        );
    }
}
