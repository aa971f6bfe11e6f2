//! The embedded database holds sessions, password hashes and (in dev) the signing key: nobody
//! but its owner may read it, whatever the umask.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use qrlogin_auth::store::Store;
use qrlogin_auth::store::sqlite::SqliteStore;

fn mode(path: &Path) -> u32 {
    let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    metadata.permissions().mode() & 0o777
}

#[tokio::test]
async fn the_database_and_its_directory_are_the_owners_alone() {
    let root = tempfile::tempdir().unwrap();
    let directory = root.path().join("data");
    let database = directory.join("qrlogin.sqlite3");
    let store = SqliteStore::open(&database).await.unwrap();
    store
        .shared_signing_key("a key, as dev mode keeps one".to_owned().into())
        .await
        .unwrap();

    assert_eq!(mode(&directory), 0o700, "the data directory");
    for file in [
        "qrlogin.sqlite3",
        "qrlogin.sqlite3-wal",
        "qrlogin.sqlite3-shm",
    ] {
        let path = directory.join(file);
        assert!(path.exists(), "{file} exists after a write");
        assert_eq!(mode(&path), 0o600, "{file}");
    }
}

#[tokio::test]
async fn a_database_left_readable_by_an_older_version_is_made_private() {
    let root = tempfile::tempdir().unwrap();
    let directory = root.path().join("data");
    std::fs::create_dir(&directory).unwrap();
    std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o755)).unwrap();
    let database = directory.join("qrlogin.sqlite3");
    drop(SqliteStore::open(&database).await.unwrap());
    std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();

    let _store = SqliteStore::open(&database).await.unwrap();
    assert_eq!(mode(&directory), 0o700);
    assert_eq!(mode(&database), 0o600);
}

/// Another process may hold the database for a moment (the server writing, or a closing
/// connection folding its log back in) just as a command opens it: the command waits its turn
/// instead of failing with "database is locked".
#[tokio::test]
async fn opening_waits_for_a_database_another_process_holds() {
    let root = tempfile::tempdir().unwrap();
    let database = root.path().join("qrlogin.sqlite3");
    drop(SqliteStore::open(&database).await.unwrap());
    let holder = rusqlite::Connection::open(&database).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE held (x);")
        .unwrap();

    let mut opening = tokio::spawn({
        let database = database.clone();
        async move { SqliteStore::open(&database).await.map(drop) }
    });
    let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut opening).await;
    assert!(early.is_err(), "opening ended while the database was held");
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    opening.await.unwrap().unwrap();
}
