//! Output paths, checked before any work starts so a long run never ends in a bad path.

use crate::error::UsageError;

/// Checks that a file can be created at `path`: its directory must exist and the path must
/// not be a directory.
pub fn check_output_path(flag: &str, path: &std::path::Path) -> Result<(), UsageError> {
    if path.is_dir() {
        return Err(UsageError::new(format!(
            "{flag} {}: is a directory, expected a file",
            path.display()
        )));
    }
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    match dir {
        Some(d) if !d.is_dir() => Err(UsageError::new(format!(
            "{flag} {}: directory {} does not exist",
            path.display(),
            d.display()
        ))),
        _ => Ok(()),
    }
}
