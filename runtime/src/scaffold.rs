//! `wafka new-filter`: creates a filter crate that builds as it is, from the templates in
//! `runtime/templates/new-filter/`.

use std::path::{Path, PathBuf};

/// The SDK next to the gateway's sources, when the binary was built from the repository.
const REPO_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/new-filter/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../templates/new-filter/lib.rs.tmpl"),
    ),
    (
        "README.md",
        include_str!("../templates/new-filter/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../templates/new-filter/gitignore.tmpl"),
    ),
];

/// Why no crate was created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be a crate and filter name.
    #[error(
        "{0:?} is not a usable filter name: use 1 to 64 characters of a-z, 0-9 and '-', starting with a letter"
    )]
    BadName(String),
    /// Something is already there.
    #[error("{0} already exists; choose another name or directory")]
    Exists(PathBuf),
    /// No SDK was found.
    #[error(
        "cannot find the Wafka SDK at {0}; pass --sdk PATH (the `sdk` folder of the Wafka repository)"
    )]
    NoSdk(PathBuf),
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Creates the crate `name` in `parent/name`, depending on the SDK at `sdk` (default: the one
/// this binary was built next to). Returns the crate's directory.
pub fn new_filter(name: &str, parent: &Path, sdk: Option<&Path>) -> Result<PathBuf, ScaffoldError> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if !valid {
        return Err(ScaffoldError::BadName(name.to_owned()));
    }
    let sdk = sdk.map_or_else(|| PathBuf::from(REPO_SDK), Path::to_path_buf);
    let sdk = sdk
        .canonicalize()
        .ok()
        .filter(|p| p.join("Cargo.toml").exists())
        .ok_or(ScaffoldError::NoSdk(sdk))?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let file = name.replace('-', "_");
    for (path, template) in TEMPLATES {
        let text = template
            .replace("{{name}}", name)
            .replace("{{file}}", &file)
            .replace("{{sdk}}", &sdk.display().to_string());
        let path = dir.join(path);
        let write = |path: &Path| {
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
            std::fs::write(path, text)
        };
        write(&path).map_err(|source| ScaffoldError::Write { path, source })?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_nothing_is_overwritten() {
        let parent = std::env::temp_dir().join(format!("wafka-scaffold-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&parent);
        for bad in ["", "Upper", "1st", "a_b", "trailing-", &"a".repeat(65)] {
            assert!(
                matches!(
                    new_filter(bad, &parent, None),
                    Err(ScaffoldError::BadName(_))
                ),
                "{bad}"
            );
        }
        let dir = new_filter("tenant-stamp", &parent, None).unwrap();
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("name = \"tenant-stamp\""));
        assert!(!manifest.contains("{{"), "every placeholder filled");
        assert!(dir.join("src/lib.rs").exists());
        assert!(matches!(
            new_filter("tenant-stamp", &parent, None),
            Err(ScaffoldError::Exists(_))
        ));
        let missing = parent.join("no-sdk-here");
        assert!(matches!(
            new_filter("x", &parent, Some(&missing)),
            Err(ScaffoldError::NoSdk(_))
        ));
        std::fs::remove_dir_all(&parent).unwrap();
    }
}
