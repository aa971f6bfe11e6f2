//! The embedded store: one SQLite file in WAL mode. Every call runs on the one thread that
//! owns the connection; compare-and-set is a conditional `UPDATE` inside a transaction; events
//! go to the in-process hub after commit; a sweeper deletes expired rows every minute.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use secrecy::{ExposeSecret, SecretString};

use super::{REQUEST_RETENTION_MS, Store, StoreError, from_json, to_json};
use crate::account::{LocalAccount, Username};
use crate::audit::{AUDIT_CAPACITY, AuditEntry, AuditQuery, AuditRecord};
use crate::clock::{Clock, SystemClock};
use crate::events::{AccountNotice, EventHub};
use crate::glasses::PhotoOutcome;
use crate::login_request::{LoginRequest, RequestId, UnixMillis};
use crate::rate_limit::{Gcra, RateLimit, gcra};
use crate::session::Session;
use crate::user_code::UserCode;

/// How often expired rows are deleted.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// How many prepared statements the connection keeps: more than this file has (about 40).
const STATEMENT_CACHE_CAPACITY: usize = 64;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS login_requests (
        id TEXT PRIMARY KEY, version INTEGER NOT NULL, purge_at INTEGER NOT NULL, data TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS user_codes (
        code TEXT PRIMARY KEY, request_id TEXT NOT NULL, expires_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at INTEGER NOT NULL, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
    CREATE TABLE IF NOT EXISTS used_once (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS directory (
        kind TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, id));
    CREATE TABLE IF NOT EXISTS ephemeral (
        kind TEXT NOT NULL, id TEXT NOT NULL, expires_at INTEGER NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (kind, id));
    CREATE TABLE IF NOT EXISTS user_not_before (user_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS revoked_tokens (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS accounts (username TEXT PRIMARY KEY, data TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, user_id TEXT, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS audit_by_user ON audit (user_id, seq);
";

/// The database holds sessions, password hashes and (in dev) the signing key: its directory is
/// the owner's alone (0700) and the file too (0600; SQLite gives its `-wal` and `-shm` files
/// the database's mode). A directory or file made by an older version is tightened.
fn private_files(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(directory) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the data directory {}: {e}",
                    directory.display()
                )
            })?;
        if let Err(e) = std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700))
        {
            tracing::warn!(directory = %directory.display(), "cannot make the data directory private: {e}");
        }
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        if Path::new(&file).exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| anyhow::anyhow!("cannot make {file} private: {e}"))?;
        }
    }
    Ok(())
}

pub struct SqliteStore {
    /// The thread that owns the connection, fed one call at a time ([`Self::with`]).
    calls: std::sync::mpsc::Sender<Call>,
    /// Rate-limit buckets (µs arrival times). One process serves the embedded store, so they
    /// live in memory: a restart forgives, which no limit here needs to survive. One lock
    /// over all of them, held for a few comparisons, so several are spent all or none.
    buckets: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    events: Arc<EventHub>,
    clock: Arc<dyn Clock>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and starts the sweeper, which stops
    /// when the store is dropped.
    pub async fn open(path: &Path) -> Result<Arc<Self>, StoreError> {
        Self::open_with_clock(path, Arc::new(SystemClock)).await
    }

    pub async fn open_with_clock(
        path: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, StoreError> {
        let path = path.to_owned();
        let connection = tokio::task::spawn_blocking(move || -> anyhow::Result<Connection> {
            private_files(&path)?;
            let connection = Connection::open(&path)
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
            connection.pragma_update(None, "journal_mode", "WAL")?;
            connection.pragma_update(None, "synchronous", "NORMAL")?;
            connection.busy_timeout(Duration::from_secs(5))?;
            connection.execute_batch(SCHEMA)?;
            // Every statement is prepared once and kept: parsing SQL on each call cost more
            // than running it. Room for all of this file's statements.
            connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
            Ok(connection)
        })
        .await
        .map_err(|e| StoreError::Unexpected(e.into()))??;
        let store = Arc::new(Self {
            calls: spawn_connection_thread(connection)?,
            buckets: std::sync::Mutex::default(),
            events: EventHub::new(),
            clock,
        });
        tokio::spawn(sweep_until_dropped(Arc::downgrade(&store)));
        Ok(store)
    }

    /// Runs `work` with the connection, on the thread that owns it, and waits for its answer.
    async fn with<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let call: Call = Box::new(move |connection| {
            let _entered = span.enter();
            // The caller may have gone (a dropped request): the work is done all the same.
            let _ = answer.send(work(connection));
        });
        self.calls.send(call).map_err(|_| {
            StoreError::Unexpected(anyhow::anyhow!("the embedded store's thread has stopped"))
        })?;
        answered.await.map_err(|_| {
            StoreError::Unexpected(anyhow::anyhow!("a call to the embedded store failed"))
        })?
    }

    /// Deletes every expired row (and idle rate-limit bucket); returns how many rows went.
    pub async fn sweep(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, tat_us| *tat_us > now.saturating_mul(1000));
        self.with(move |c| {
            let mut removed = 0;
            removed += run(c, "DELETE FROM login_requests WHERE purge_at <= ?1", [now])?;
            removed += run(c, "DELETE FROM user_codes WHERE expires_at <= ?1", [now])?;
            removed += run(c, "DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
            removed += run(
                c,
                "DELETE FROM revoked_tokens WHERE expires_at <= ?1",
                [now],
            )?;
            removed += run(c, "DELETE FROM used_once WHERE expires_at <= ?1", [now])?;
            removed += run(c, "DELETE FROM ephemeral WHERE expires_at <= ?1", [now])?;
            removed += run(
                c,
                "DELETE FROM audit WHERE seq <= (SELECT max(seq) FROM audit) - ?1",
                [i64::try_from(AUDIT_CAPACITY).unwrap_or(i64::MAX)],
            )?;
            Ok(removed)
        })
        .await
    }
}

async fn sweep_until_dropped(store: Weak<SqliteStore>) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    interval.tick().await;
    loop {
        interval.tick().await;
        let Some(store) = store.upgrade() else { return };
        match store.sweep().await {
            Ok(removed) => tracing::debug!(removed, "swept expired rows"),
            Err(error) => tracing::warn!(%error, "sweeping expired rows failed"),
        }
    }
}

/// One piece of work for the connection's thread.
type Call = Box<dyn FnOnce(&mut Connection) + Send>;

/// Starts the thread that owns `connection` and runs calls one after the other. One thread
/// instead of a blocking-pool thread per call taking a lock: under load the calls queue
/// without waking a thread each, and the connection stays on one core's cache. The thread
/// ends, closing the database, when the store (the last sender) is dropped. A call that
/// panics fails alone: its caller hears an error and the thread goes on.
fn spawn_connection_thread(
    mut connection: Connection,
) -> Result<std::sync::mpsc::Sender<Call>, StoreError> {
    let (calls, queued) = std::sync::mpsc::channel::<Call>();
    std::thread::Builder::new()
        .name("sqlite".into())
        .spawn(move || {
            for call in queued {
                let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    call(&mut connection);
                }));
                if ran.is_err() {
                    tracing::error!("a call to the embedded store panicked");
                }
            }
        })
        .map_err(|e| {
            StoreError::Unexpected(anyhow::Error::new(e).context("starting the SQLite thread"))
        })?;
    Ok(calls)
}

/// Runs a statement, prepared once per connection and kept: how many rows it changed.
fn run(c: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
    c.prepare_cached(sql)
        .map_err(db)?
        .execute(params)
        .map_err(db)
}

/// The first row a query (prepared once per connection and kept) returns, read by `read`.
fn first_row<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    c.prepare_cached(sql)
        .map_err(db)?
        .query_row(params, read)
        .optional()
        .map_err(db)
}

fn db(error: rusqlite::Error) -> StoreError {
    StoreError::Unexpected(anyhow::Error::new(error).context("SQLite"))
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_request(&self, request: &LoginRequest) -> Result<bool, StoreError> {
        let data = to_json(request)?;
        let (id, code) = (
            request.id.as_str().to_owned(),
            request.user_code.as_str().to_owned(),
        );
        let (expires_at, purge_at) = (
            request.expires_at,
            request.expires_at + REQUEST_RETENTION_MS,
        );
        let now = self.clock.now();
        self.with(move |c| {
            let tx = c.transaction().map_err(db)?;
            // A code is unique among live requests; a dead request's code may be reused.
            let taken = run(
                &tx,
                "INSERT INTO user_codes (code, request_id, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (code) DO UPDATE SET request_id = excluded.request_id,
                       expires_at = excluded.expires_at WHERE user_codes.expires_at <= ?4",
                params![code, id, expires_at, now],
            )? == 0;
            if taken {
                return Ok(false);
            }
            run(
                &tx,
                "INSERT INTO login_requests (id, version, purge_at, data) VALUES (?1, 1, ?2, ?3)",
                params![id, purge_at, data],
            )?;
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn load_request(&self, id: &RequestId) -> Result<Option<LoginRequest>, StoreError> {
        let id = id.as_str().to_owned();
        let data: Option<String> = self
            .with(move |c| {
                first_row(
                    c,
                    "SELECT data FROM login_requests WHERE id = ?1",
                    [id],
                    |r| r.get(0),
                )
            })
            .await?;
        data.as_deref().map(from_json).transpose()
    }

    async fn find_request_by_code(&self, code: &UserCode) -> Result<Option<RequestId>, StoreError> {
        let code = code.as_str().to_owned();
        let now = self.clock.now();
        let id: Option<String> = self
            .with(move |c| {
                first_row(
                    c,
                    "SELECT request_id FROM user_codes WHERE code = ?1 AND expires_at > ?2",
                    params![code, now],
                    |r| r.get(0),
                )
            })
            .await?;
        Ok(id.as_deref().and_then(RequestId::parse))
    }

    async fn swap_request(
        &self,
        next: &LoginRequest,
        expected_version: u32,
        notice: Option<&AccountNotice>,
    ) -> Result<bool, StoreError> {
        let data = to_json(next)?;
        let (id, version) = (next.id.as_str().to_owned(), next.version);
        // A claim or a PIN can move the deadline, and the retention follows it.
        let purge_at = next.expires_at + REQUEST_RETENTION_MS;
        let swapped = self
            .with(move |c| {
                let changed = run(
                    c,
                    "UPDATE login_requests SET version = ?1, data = ?2, purge_at = ?3
                     WHERE id = ?4 AND version = ?5",
                    params![version, data, purge_at, id, expected_version],
                )?;
                Ok(changed == 1)
            })
            .await?;
        if swapped {
            self.events.publish(next.clone());
            if let Some(notice) = notice {
                self.events.announce(notice.clone());
            }
        }
        Ok(swapped)
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let data = to_json(session)?;
        let (id, user, expires_at) = (
            session.id.clone(),
            session.user.id.clone(),
            session.expires_at,
        );
        self.with(move |c| {
            run(
                c,
                "INSERT INTO sessions (id, user_id, expires_at, data) VALUES (?1, ?2, ?3, ?4)",
                params![id, user, expires_at, data],
            )?;
            Ok(())
        })
        .await
    }

    async fn load_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let id = id.to_owned();
        let now = self.clock.now();
        let data: Option<String> = self
            .with(move |c| {
                first_row(
                    c,
                    "SELECT data FROM sessions WHERE id = ?1 AND expires_at > ?2",
                    params![id, now],
                    |r| r.get(0),
                )
            })
            .await?;
        data.as_deref().map(from_json).transpose()
    }

    async fn touch_session(&self, session: &Session) -> Result<(), StoreError> {
        let data = to_json(session)?;
        let id = session.id.clone();
        self.with(move |c| {
            run(
                c,
                "UPDATE sessions SET data = ?1 WHERE id = ?2",
                params![data, id],
            )?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let id = id.to_owned();
        let data: Option<String> = self
            .with(move |c| {
                first_row(
                    c,
                    "DELETE FROM sessions WHERE id = ?1 RETURNING data",
                    [id],
                    |r| r.get(0),
                )
            })
            .await?;
        data.as_deref().map(from_json).transpose()
    }

    async fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        let user_id = user_id.to_owned();
        let now = self.clock.now();
        let rows: Vec<String> = self
            .with(move |c| {
                let mut statement = c
                    .prepare_cached(
                        "SELECT data FROM sessions WHERE user_id = ?1 AND expires_at > ?2
                         ORDER BY expires_at",
                    )
                    .map_err(db)?;
                let rows = statement
                    .query_map(params![user_id, now], |r| r.get(0))
                    .map_err(db)?
                    .collect::<Result<Vec<String>, _>>()
                    .map_err(db)?;
                Ok(rows)
            })
            .await?;
        rows.iter().map(|data| from_json(data)).collect()
    }

    async fn set_not_before(&self, user_id: &str, at: UnixMillis) -> Result<(), StoreError> {
        let user_id = user_id.to_owned();
        self.with(move |c| {
            run(
                c,
                "INSERT INTO user_not_before (user_id, at) VALUES (?1, ?2)
                 ON CONFLICT (user_id) DO UPDATE SET at = max(at, excluded.at)",
                params![user_id, at],
            )?;
            Ok(())
        })
        .await
    }

    async fn not_before(&self, user_id: &str) -> Result<Option<UnixMillis>, StoreError> {
        let user_id = user_id.to_owned();
        self.with(move |c| {
            first_row(
                c,
                "SELECT at FROM user_not_before WHERE user_id = ?1",
                [user_id],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn use_once(&self, key: &str, until: UnixMillis) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let now = self.clock.now();
        self.with(move |c| {
            let inserted = run(
                c,
                "INSERT INTO used_once (key, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at
                 WHERE used_once.expires_at <= ?3",
                params![key, until, now],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn revoke_token(&self, jti: &str, until: UnixMillis) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        self.with(move |c| {
            run(
                c,
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)
                 ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)",
                params![jti, until],
            )?;
            Ok(())
        })
        .await
    }

    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let jti = jti.to_owned();
        self.with(move |c| {
            let found = first_row(
                c,
                "SELECT 1 FROM revoked_tokens WHERE jti = ?1",
                [jti],
                |_| Ok(()),
            )?;
            Ok(found.is_some())
        })
        .await
    }

    async fn insert_account(&self, account: &LocalAccount) -> Result<bool, StoreError> {
        let data = to_json(account)?;
        let username = account.username.as_str().to_owned();
        self.with(move |c| {
            let inserted = run(
                c,
                "INSERT INTO accounts (username, data) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![username, data],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn load_account(&self, username: &Username) -> Result<Option<LocalAccount>, StoreError> {
        let username = username.as_str().to_owned();
        let data: Option<String> = self
            .with(move |c| {
                first_row(
                    c,
                    "SELECT data FROM accounts WHERE username = ?1",
                    [username],
                    |r| r.get(0),
                )
            })
            .await?;
        data.as_deref().map(from_json).transpose()
    }

    async fn update_account(&self, account: &LocalAccount) -> Result<bool, StoreError> {
        let data = to_json(account)?;
        let username = account.username.as_str().to_owned();
        self.with(move |c| {
            let changed = run(
                c,
                "UPDATE accounts SET data = ?1 WHERE username = ?2",
                params![data, username],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn list_accounts(&self) -> Result<Vec<LocalAccount>, StoreError> {
        let rows = self
            .with(|c| {
                let mut statement = c
                    .prepare("SELECT data FROM accounts ORDER BY username")
                    .map_err(db)?;
                let rows = statement
                    .query_map([], |row| row.get::<_, String>(0))
                    .map_err(db)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(db)
            })
            .await?;
        rows.iter().map(|text| from_json(text)).collect()
    }

    async fn delete_account(&self, username: &Username) -> Result<bool, StoreError> {
        let username = username.as_str().to_owned();
        self.with(move |c| Ok(run(c, "DELETE FROM accounts WHERE username = ?1", [username])? == 1))
            .await
    }

    async fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        let rows = records
            .iter()
            .map(|r| Ok((r.at, r.user.clone(), to_json(r)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.with(move |c| {
            let transaction = c.transaction().map_err(db)?;
            {
                let mut insert = transaction
                    .prepare_cached("INSERT INTO audit (at, user_id, data) VALUES (?1, ?2, ?3)")
                    .map_err(db)?;
                for (at, user, data) in rows {
                    insert.execute(params![at, user, data]).map_err(db)?;
                }
            }
            transaction.commit().map_err(db)
        })
        .await
    }

    async fn read_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let query = query.clone();
        self.with(move |c| {
            let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
            let (after, newest_first) = match &query.after {
                Some(cursor) => (cursor.parse::<i64>().unwrap_or(i64::MAX), false),
                None => (0, query.newest_first),
            };
            // Following reads forward from the cursor; otherwise the newest `limit`.
            let order = if query.after.is_some() { "ASC" } else { "DESC" };
            let sql = format!(
                "SELECT seq, data FROM audit WHERE seq > ?1 AND at >= ?2 AND (?3 IS NULL OR user_id = ?3)
                 ORDER BY seq {order} LIMIT ?4"
            );
            let mut statement = c.prepare_cached(&sql).map_err(db)?;
            let rows = statement
                .query_map(params![after, query.since, query.user, limit], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(db)?;
            let mut entries = Vec::new();
            for row in rows {
                let (seq, data) = row.map_err(db)?;
                entries.push(AuditEntry {
                    cursor: seq.to_string(),
                    record: from_json(&data)?,
                });
            }
            if query.after.is_none() && !newest_first {
                entries.reverse();
            }
            Ok(entries)
        })
        .await
    }

    async fn announce(&self, notice: &AccountNotice) -> Result<(), StoreError> {
        self.events.announce(notice.clone());
        Ok(())
    }

    async fn insert_entry(&self, kind: &str, id: &str, data: &str) -> Result<bool, StoreError> {
        let (kind, id, data) = (kind.to_owned(), id.to_owned(), data.to_owned());
        self.with(move |c| {
            let inserted = run(
                c,
                "INSERT INTO directory (kind, id, data) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![kind, id, data],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn update_entry(&self, kind: &str, id: &str, data: &str) -> Result<bool, StoreError> {
        let (kind, id, data) = (kind.to_owned(), id.to_owned(), data.to_owned());
        self.with(move |c| {
            let updated = run(
                c,
                "UPDATE directory SET data = ?3 WHERE kind = ?1 AND id = ?2",
                params![kind, id, data],
            )?;
            Ok(updated == 1)
        })
        .await
    }

    async fn load_entry(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.with(move |c| {
            first_row(
                c,
                "SELECT data FROM directory WHERE kind = ?1 AND id = ?2",
                params![kind, id],
                |row| row.get::<_, String>(0),
            )
        })
        .await
    }

    async fn list_entries(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        let kind = kind.to_owned();
        self.with(move |c| {
            let mut statement = c
                .prepare("SELECT data FROM directory WHERE kind = ?1 ORDER BY id")
                .map_err(db)?;
            let rows = statement
                .query_map(params![kind], |row| row.get::<_, String>(0))
                .map_err(db)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db)
        })
        .await
    }

    async fn delete_entry(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        self.with(move |c| {
            let deleted = run(
                c,
                "DELETE FROM directory WHERE kind = ?1 AND id = ?2",
                params![kind, id],
            )?;
            Ok(deleted == 1)
        })
        .await
    }

    async fn put_ephemeral(
        &self,
        kind: &str,
        id: &str,
        data: &str,
        until: UnixMillis,
    ) -> Result<(), StoreError> {
        let (kind, id, data) = (kind.to_owned(), id.to_owned(), data.to_owned());
        self.with(move |c| {
            run(
                c,
                "INSERT INTO ephemeral (kind, id, expires_at, data) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, id) DO UPDATE SET expires_at = excluded.expires_at,
                   data = excluded.data",
                params![kind, id, until, data],
            )?;
            Ok(())
        })
        .await
    }

    async fn get_ephemeral(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let (kind, id) = (kind.to_owned(), id.to_owned());
        let now = self.clock.now();
        self.with(move |c| {
            first_row(
                c,
                "SELECT data FROM ephemeral WHERE kind = ?1 AND id = ?2 AND expires_at > ?3",
                params![kind, id, now],
                |row| row.get::<_, String>(0),
            )
        })
        .await
    }

    async fn announce_photo(&self, outcome: &PhotoOutcome) -> Result<(), StoreError> {
        self.events.deliver_photo(outcome.clone());
        Ok(())
    }

    async fn shared_signing_key(
        &self,
        candidate: SecretString,
    ) -> Result<SecretString, StoreError> {
        self.with(move |c| {
            run(
                c,
                "INSERT INTO settings (key, value) VALUES ('signing_key', ?1)
                 ON CONFLICT DO NOTHING",
                [candidate.expose_secret()],
            )?;
            let stored: Option<String> = first_row(
                c,
                "SELECT value FROM settings WHERE key = 'signing_key'",
                [],
                |r| r.get(0),
            )?;
            stored.map(SecretString::from).ok_or_else(|| {
                StoreError::Unexpected(anyhow::anyhow!("the signing key was not stored"))
            })
        })
        .await
    }

    async fn stored_signing_key(&self) -> Result<Option<SecretString>, StoreError> {
        self.with(move |c| {
            let stored: Option<String> = first_row(
                c,
                "SELECT value FROM settings WHERE key = 'signing_key'",
                [],
                |r| r.get(0),
            )?;
            Ok(stored.map(SecretString::from))
        })
        .await
    }

    async fn rate_limit(
        &self,
        buckets: &[(&str, &RateLimit)],
    ) -> Result<Option<(usize, Duration)>, StoreError> {
        let now_us = self.clock.now().saturating_mul(1000);
        let mut stored = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut spent = Vec::with_capacity(buckets.len());
        for (index, (key, limit)) in buckets.iter().enumerate() {
            match gcra(stored.get(*key).copied(), now_us, limit) {
                Gcra::Allowed { new_tat_us } => spent.push(new_tat_us),
                Gcra::Limited { retry_after_ms } => {
                    let wait = Duration::from_millis(u64::try_from(retry_after_ms).unwrap_or(0));
                    return Ok(Some((index, wait)));
                }
            }
        }
        for ((key, _), tat_us) in buckets.iter().zip(spent) {
            stored.insert((*key).to_owned(), tat_us);
        }
        Ok(None)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| first_row(c, "SELECT 1", [], |_| Ok(())).map(|_| ()))
            .await
    }

    fn events(&self) -> &Arc<EventHub> {
        &self.events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call that panics (a bug) fails its own caller; the store goes on serving the rest,
    /// where a poisoned lock used to refuse every call after it.
    #[tokio::test]
    async fn a_call_that_panics_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("qrlogin.db"))
            .await
            .unwrap();
        let failed = store
            .with(|_| -> Result<(), StoreError> { panic!("a bug in a store call") })
            .await;
        assert!(failed.is_err());
        store.ping().await.unwrap();
        assert_eq!(store.sweep().await.unwrap(), 0);
    }
}
