//! Watches the filters directory and the config file, and reloads once changes settle.
//!
//! notify runs on its own thread and only signals; the reload itself runs on tokio, debounced:
//! `cp` and editors write in several steps, and editors save by renaming a new file into place,
//! which is why the config file's directory is watched rather than the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::reload::Reloader;

/// Quiet time after the last change before reloading: one reload for the writes of one `cp` or
/// editor save. A file caught half-written fails to load and is loaded again when the rest
/// of it lands.
pub const SETTLE: Duration = Duration::from_millis(25);

/// Starts watching; the task ends when `stop` fires.
pub(crate) fn spawn(
    shared: Arc<Reloader>,
    config_path: PathBuf,
    filters_dir: PathBuf,
    tls_files: Vec<PathBuf>,
    mut stop: watch::Receiver<bool>,
) -> notify::Result<JoinHandle<()>> {
    let (tx, mut changes) = mpsc::unbounded_channel();
    let config_name = config_path.file_name().map(|n| n.to_owned());
    let filters = filters_dir.clone();
    let certs = tls_files.clone();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<Event>| match event {
            Ok(event)
                if relevant(&event, &filters, config_name.as_deref())
                    || event.paths.iter().any(|p| certs.contains(p)) =>
            {
                let _ = tx.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "file watcher error"),
        })?;
    watcher.watch(&filters_dir, RecursiveMode::NonRecursive)?;
    let config_dir = match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    watcher.watch(&config_dir, RecursiveMode::NonRecursive)?;
    // Certificates are replaced by rename too: watch their directories.
    for dir in tls_files.iter().filter_map(|f| f.parent()) {
        if dir != filters_dir && dir != config_dir {
            watcher.watch(dir, RecursiveMode::NonRecursive)?;
        }
    }
    tracing::info!(filters = %filters_dir.display(), config = %config_path.display(), "watching for changes");

    Ok(tokio::spawn(async move {
        let _watcher = watcher;
        loop {
            tokio::select! {
                change = changes.recv() => if change.is_none() { return },
                _ = stop.changed() => return,
            }
            // Wait for a quiet moment: one reload for a burst of writes.
            loop {
                match tokio::time::timeout(SETTLE, changes.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_settled) => break,
                }
            }
            crate::reload::reload(&shared, &config_path).await;
        }
    }))
}

/// A change to a `.wasm` in the filters directory or to the config file. Hidden files (names
/// starting with `.`, such as the compile cache and temporary files of a safe deploy) are not.
fn relevant(event: &Event, filters_dir: &Path, config_name: Option<&std::ffi::OsStr>) -> bool {
    if matches!(event.kind, EventKind::Access(_)) {
        return false;
    }
    event.paths.iter().any(|path| {
        let Some(name) = path.file_name() else {
            return false;
        };
        if name.to_string_lossy().starts_with('.') {
            return false;
        }
        let is_filter =
            path.parent() == Some(filters_dir) && path.extension().is_some_and(|e| e == "wasm");
        is_filter || Some(name) == config_name
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind};

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_filters_and_the_config_count() {
        let dir = Path::new("/srv/filters.d");
        let config = Some(std::ffi::OsStr::new("wafka.toml"));
        let create = EventKind::Create(CreateKind::File);
        let modify = EventKind::Modify(ModifyKind::Any);
        assert!(relevant(
            &event(create, "/srv/filters.d/auth.wasm"),
            dir,
            config
        ));
        assert!(relevant(
            &event(modify, "/etc/wafka/wafka.toml"),
            dir,
            config
        ));
        assert!(!relevant(
            &event(create, "/srv/filters.d/.auth.wasm.tmp"),
            dir,
            config
        ));
        assert!(!relevant(
            &event(create, "/srv/filters.d/.cache/x.cwasm"),
            dir,
            config
        ));
        assert!(!relevant(
            &event(create, "/srv/filters.d/notes.txt"),
            dir,
            config
        ));
        assert!(!relevant(
            &event(modify, "/etc/wafka/other.toml"),
            dir,
            config
        ));
    }
}
