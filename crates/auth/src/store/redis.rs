//! The shared store for several instances: Redis (one server, or a Redis Cluster), through one
//! multiplexed command connection and one pattern subscription per instance for events.
//!
//! Everything here runs unchanged on a cluster: every script and every pipeline touches one
//! key (compare-and-set is a Lua script that checks the version, writes and publishes in one
//! atomic step on the request's key); writes to several keys are separate commands sent
//! together; and a `PUBLISH` on any node reaches a subscriber on any other, so one pattern
//! subscription to any node hears every event.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::future::try_join_all;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncCommands, Script};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;

use super::{REQUEST_RETENTION_MS, Store, StoreError, from_json, to_json};
use crate::account::{LocalAccount, Username};
use crate::audit::{AUDIT_CAPACITY, AUDIT_CAPACITY_PER_USER, AuditEntry, AuditQuery, AuditRecord};
use crate::clock::{Clock, SystemClock};
use crate::events::{AccountNotice, EventHub};
use crate::glasses::PhotoOutcome;
use crate::login_request::{LoginRequest, RequestId, UnixMillis};
use crate::rate_limit::RateLimit;
use crate::session::Session;
use crate::user_code::UserCode;

/// How long one Redis command may take before the caller gets a 503.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Round trips to Redis (a command, script or pipeline each), the cost a sign-in pays in
/// network waits: a Prometheus counter on `/metrics`.
pub const ROUND_TRIPS_METRIC: &str = "qrlogin_store_round_trips_total";
/// How long to wait between attempts to re-establish the event subscription.
const RESUBSCRIBE_BACKOFF: Duration = Duration::from_millis(250);
/// How often a request is re-read after a reconnect before giving up on it (about 5 s).
const RESYNC_ATTEMPTS: u32 = 40;

/// A request is one string, `{version}|{json}`, written with its expiry in the same `SET`:
/// creating one is one command, and a transition reads, checks, writes and publishes in one
/// script of four commands. KEYS[1] the request; ARGV: expected version, next version, JSON,
/// expiry (Unix ms), channel; then, optionally, a user's channel and a notice for it.
const SWAP_SCRIPT: &str = r"
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local bar = string.find(current, '|', 1, true)
if not bar or tonumber(string.sub(current, 1, bar - 1)) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[3], 'PXAT', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[3])
if ARGV[6] then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
return 1
";

/// GCRA, the same arithmetic as `rate_limit::gcra`, in microseconds (exact in Lua's doubles),
/// over one or more buckets, all or none. KEYS: the buckets; ARGV: now µs, then for each
/// bucket its emission interval µs and period µs. Returns {0, 0} when every bucket allowed
/// (and spends them), else {the refusing bucket's position from 1, the wait in ms}.
const GCRA_SCRIPT: &str = r"
local now = tonumber(ARGV[1])
local stored = redis.call('MGET', unpack(KEYS))
local spent = {}
for i = 1, #KEYS do
  local tat = tonumber(stored[i]) or now
  if tat < now then tat = now end
  local new_tat = tat + tonumber(ARGV[2 * i])
  local allow_at = new_tat - tonumber(ARGV[2 * i + 1])
  if now < allow_at then return {i, math.ceil((allow_at - now) / 1000)} end
  spent[i] = new_tat
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%d', spent[i]), 'PX', math.ceil((spent[i] - now) / 1000))
end
return {0, 0}
";

/// Moves a user's not-before time forward only. KEYS[1]; ARGV[1] the time.
/// Replaces a directory entry only if it exists (one key: the kind's hash).
const UPDATE_ENTRY_SCRIPT: &str = r"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
";

const NOT_BEFORE_SCRIPT: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
";

/// Where Redis is, and how to trust it.
#[derive(Clone, Debug)]
pub struct RedisTarget {
    nodes: RedisNodes,
    /// PEM of the CA that signs the servers' certificates (`rediss://`), for a private CA;
    /// without it, the public roots (webpki-roots) are trusted.
    ca_certificate: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
enum RedisNodes {
    /// One server (`REDIS_URL`), or a primary behind one stable address.
    Standalone(SecretString),
    /// Some of a Redis Cluster's nodes (`REDIS_CLUSTER_URLS`); the rest are discovered.
    Cluster(Vec<SecretString>),
}

impl RedisTarget {
    pub fn standalone(url: SecretString) -> Self {
        Self {
            nodes: RedisNodes::Standalone(url),
            ca_certificate: None,
        }
    }

    pub fn cluster(urls: Vec<SecretString>) -> Self {
        Self {
            nodes: RedisNodes::Cluster(urls),
            ca_certificate: None,
        }
    }

    pub fn with_ca_certificate(mut self, pem: Vec<u8>) -> Self {
        self.ca_certificate = Some(pem);
        self
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self.nodes, RedisNodes::Cluster(_))
    }

    /// Our CA, as redis-rs takes it, when one is set (it matters only for TLS).
    fn trusted_ca(&self) -> Option<redis::TlsCertificates> {
        self.ca_certificate
            .as_ref()
            .map(|pem| redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            })
    }

    /// A client for one server.
    fn client(&self, url: &SecretString) -> redis::RedisResult<redis::Client> {
        match self.trusted_ca() {
            Some(ca) => redis::Client::build_with_tls(url.expose_secret(), ca),
            None => redis::Client::open(url.expose_secret()),
        }
    }
}

/// The clients a store's connections are opened from.
#[derive(Clone)]
enum Clients {
    Standalone(redis::Client),
    Cluster {
        cluster: ClusterClient,
        /// Each node as a plain server, for the event subscription.
        nodes: Vec<redis::Client>,
    },
}

impl Clients {
    fn open(target: &RedisTarget) -> Result<Self, StoreError> {
        let unusable = |e: redis::RedisError| {
            StoreError::Unexpected(anyhow::anyhow!("not a usable Redis URL: {e}"))
        };
        match &target.nodes {
            RedisNodes::Standalone(url) => {
                target.client(url).map(Self::Standalone).map_err(unusable)
            }
            RedisNodes::Cluster(urls) => {
                let nodes = urls
                    .iter()
                    .map(|url| target.client(url))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unusable)?;
                if nodes.is_empty() {
                    return Err(StoreError::Unexpected(anyhow::anyhow!(
                        "a Redis Cluster needs at least one node's URL"
                    )));
                }
                let mut builder =
                    ClusterClient::builder(nodes.iter().map(|n| n.get_connection_info().clone()))
                        .connection_timeout(COMMAND_TIMEOUT)
                        .response_timeout(COMMAND_TIMEOUT)
                        .retries(2);
                if let Some(ca) = target.trusted_ca() {
                    builder = builder.certs(ca);
                }
                let cluster = builder.build().map_err(unusable)?;
                Ok(Self::Cluster { cluster, nodes })
            }
        }
    }

    fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster { .. })
    }

    /// Where the event subscription may be opened: any node hears every `PUBLISH`.
    fn subscribers(&self) -> Vec<redis::Client> {
        match self {
            Self::Standalone(client) => vec![client.clone()],
            Self::Cluster { nodes, .. } => nodes.clone(),
        }
    }
}

pub struct RedisStore {
    commands: Arc<Connections>,
    prefix: String,
    swap: Script,
    gcra: Script,
    not_before: Script,
    update_entry: Script,
    events: Arc<EventHub>,
    clock: Arc<dyn Clock>,
    subscribed: watch::Receiver<bool>,
}

impl RedisStore {
    /// Connects, and waits until this instance's event subscription is live, so nothing
    /// published after this returns can be missed. `prefix` namespaces every key and channel.
    pub async fn connect(target: &RedisTarget, prefix: &str) -> Result<Arc<Self>, StoreError> {
        Self::connect_with_clock(target, prefix, Arc::new(SystemClock)).await
    }

    pub async fn connect_with_clock(
        target: &RedisTarget,
        prefix: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, StoreError> {
        let clients = Clients::open(target)?;
        let commands = Connections::connect(clients.clone()).await?;
        let (subscribed_tx, subscribed) = watch::channel(false);
        let store = Arc::new(Self {
            commands,
            prefix: prefix.to_owned(),
            swap: Script::new(SWAP_SCRIPT),
            gcra: Script::new(GCRA_SCRIPT),
            not_before: Script::new(NOT_BEFORE_SCRIPT),
            update_entry: Script::new(UPDATE_ENTRY_SCRIPT),
            events: EventHub::new(),
            clock,
            subscribed,
        });
        tokio::spawn(relay_events(
            clients.subscribers(),
            Arc::downgrade(&store),
            subscribed_tx,
        ));
        let mut ready = store.subscribed.clone();
        tokio::time::timeout(COMMAND_TIMEOUT * 2, ready.wait_for(|live| *live))
            .await
            .map_err(|_| StoreError::Unavailable("subscribing to Redis events timed out".into()))?
            .map_err(|_| StoreError::Unavailable("the Redis event relay stopped".into()))?;
        Ok(store)
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// Under its own kind: requests were once hashes under `request:`, and a store that
    /// outlives an upgrade must not meet one of those where it expects a string.
    fn request_key(&self, id: &RequestId) -> String {
        self.key("login-request", id.as_str())
    }

    fn channel(&self, id: &RequestId) -> String {
        format!("{}events:{id}", self.prefix)
    }

    /// Under the same pattern as request events (one subscription per instance); request ids
    /// never contain `:`, so the two cannot be confused.
    fn sign_in_channel(&self, user_id: &str) -> String {
        format!("{}events:user:{user_id}", self.prefix)
    }

    /// Also under the events pattern, like sign-in notices.
    fn photo_channel(&self, photo_id: &str) -> String {
        format!("{}events:photo:{photo_id}", self.prefix)
    }

    /// The usernames of every local account (one set: listing needs no key scan).
    fn accounts_index(&self) -> String {
        format!("{}accounts", self.prefix)
    }

    async fn index_account(&self, username: &Username) -> Result<(), StoreError> {
        self.connection()
            .sadd::<_, _, ()>(self.accounts_index(), username.as_str())
            .await
            .map_err(redis_error)
    }

    fn events_pattern(&self) -> String {
        format!("{}events:*", self.prefix)
    }

    /// Sends writes whose answers nobody reads, one pipeline per key's node: on one server
    /// every key lives together, so they go as one pipeline (one round trip); on a cluster
    /// each goes to its own node, all at once (a pipeline must stay on one node).
    async fn write_all(&self, pipelines: Vec<redis::Pipeline>) -> Result<(), StoreError> {
        let connection = self.connection();
        if !self.commands.clients.is_cluster() {
            let mut together = redis::pipe();
            for command in pipelines.iter().flat_map(redis::Pipeline::cmd_iter) {
                together.add_command(command.clone()).ignore();
            }
            return together
                .query_async::<()>(&mut connection.clone())
                .await
                .map_err(redis_error);
        }
        try_join_all(pipelines.iter().map(|pipe| {
            let mut connection = connection.clone();
            async move { pipe.query_async::<()>(&mut connection).await }
        }))
        .await
        .map(|_| ())
        .map_err(redis_error)
    }

    fn connection(&self) -> BoundedConnection {
        BoundedConnection {
            manager: self.commands.current(),
            connections: Arc::clone(&self.commands),
        }
    }

    fn audit_stream(&self, user: Option<&str>) -> String {
        match user {
            Some(user) => self.key("audit-user", user),
            None => self.key("audit", "all"),
        }
    }

    async fn audit_range(
        &self,
        command: &str,
        stream: &str,
        from: &str,
        to: &str,
        count: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let reply: Vec<(String, Vec<String>)> = redis::cmd(command)
            .arg(stream)
            .arg(from)
            .arg(to)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.connection())
            .await
            .map_err(redis_error)?;
        reply
            .into_iter()
            .map(|(cursor, fields)| {
                let data = fields.get(1).ok_or_else(|| {
                    StoreError::Unexpected(anyhow::anyhow!("an audit entry without data"))
                })?;
                Ok(AuditEntry {
                    cursor,
                    record: from_json(data)?,
                })
            })
            .collect()
    }

    /// Runs the GCRA script over `buckets` (keys on one node), all or none.
    async fn spend_buckets(
        &self,
        buckets: &[(&str, &RateLimit)],
        now_us: i64,
    ) -> Result<Option<(usize, Duration)>, StoreError> {
        let mut spend = self.gcra.prepare_invoke();
        spend.arg(now_us);
        for (key, limit) in buckets {
            spend
                .key(self.key("rate", key))
                .arg(limit.emission_interval_us())
                .arg(limit.per_ms.saturating_mul(1000));
        }
        let (position, wait_ms): (usize, u64) = spend
            .invoke_async(&mut self.connection())
            .await
            .map_err(redis_error)?;
        Ok(position
            .checked_sub(1)
            .map(|index| (index, Duration::from_millis(wait_ms))))
    }

    /// A stored session, unless it has expired by our clock.
    fn live_session(&self, data: Option<&str>) -> Result<Option<Session>, StoreError> {
        let session: Option<Session> = data.map(from_json).transpose()?;
        let now = self.clock.now();
        Ok(session.filter(|s| s.is_live(now)))
    }

    /// Is this instance's event subscription live right now?
    pub fn events_connected(&self) -> bool {
        *self.subscribed.borrow()
    }
}

/// Keeps one pattern subscription open for this instance, reconnecting when it drops (on a
/// cluster, to the next node in turn); after each (re)connect it re-reads every request a
/// local listener waits for, so a change published while disconnected is not lost.
async fn relay_events(
    subscribers: Vec<redis::Client>,
    store: std::sync::Weak<RedisStore>,
    subscribed: watch::Sender<bool>,
) {
    for client in subscribers.iter().cycle() {
        let Some(pattern) = store.upgrade().map(|s| s.events_pattern()) else {
            return;
        };
        let mut pubsub = match client.get_async_pubsub().await {
            Ok(pubsub) => pubsub,
            Err(error) => {
                tracing::warn!(%error, "cannot open the Redis event subscription; retrying");
                tokio::time::sleep(RESUBSCRIBE_BACKOFF).await;
                continue;
            }
        };
        if let Err(error) = pubsub.psubscribe(&pattern).await {
            tracing::warn!(%error, "cannot subscribe to Redis events; retrying");
            tokio::time::sleep(RESUBSCRIBE_BACKOFF).await;
            continue;
        }
        subscribed.send_replace(true);
        if let Some(store) = store.upgrade() {
            store.resynchronise().await;
        }
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let Some(store) = store.upgrade() else { return };
            let Ok(payload) = message.get_payload::<String>() else {
                tracing::warn!(channel = message.get_channel_name(), "unreadable event");
                continue;
            };
            let channel = message.get_channel_name();
            let delivered = if channel.starts_with(&store.sign_in_channel("")) {
                AccountNotice::from_wire(&payload)
                    .map(|notice| store.events.announce(notice))
                    .map_err(drop)
            } else if channel.starts_with(&store.photo_channel("")) {
                from_json::<PhotoOutcome>(&payload)
                    .map(|outcome| store.events.deliver_photo(outcome))
                    .map_err(drop)
            } else {
                from_json::<LoginRequest>(&payload)
                    .map(|request| store.events.publish(request))
                    .map_err(drop)
            };
            if delivered.is_err() {
                tracing::warn!(channel = message.get_channel_name(), "unreadable event");
            }
        }
        subscribed.send_replace(false);
        tracing::warn!("the Redis event subscription dropped; reconnecting");
        tokio::time::sleep(RESUBSCRIBE_BACKOFF).await;
    }
}

/// One multiplexed connection, to a server or to a cluster (which routes each command to
/// the node that owns its key).
#[derive(Clone)]
enum Multiplexed {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
}

impl redis::aio::ConnectionLike for Multiplexed {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Standalone(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Standalone(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

impl RedisStore {
    /// Re-reads every request a local listener waits for. The command connection may itself
    /// still be reconnecting, so each read is retried for a while rather than skipped: a
    /// skipped read would be a lost event.
    async fn resynchronise(&self) {
        for id in self.events.subscribed_ids() {
            for attempt in 1..=RESYNC_ATTEMPTS {
                match self.load_request(&id).await {
                    Ok(Some(request)) => self.events.publish(request),
                    Ok(None) => {}
                    Err(error) if attempt == RESYNC_ATTEMPTS => {
                        tracing::warn!(%error, request = %id, "cannot re-read a request after reconnecting");
                    }
                    Err(_) => {
                        tokio::time::sleep(RESUBSCRIBE_BACKOFF / 2).await;
                        continue;
                    }
                }
                break;
            }
        }
    }
}

/// This instance's command connection: one multiplexed connection, replaced by a fresh one
/// when it stops answering. (A manager whose reconnection began while Redis was down can
/// wait on it forever, even after Redis is back; its replacement connects anew.)
struct Connections {
    clients: Clients,
    current: std::sync::RwLock<Multiplexed>,
    replacing: std::sync::atomic::AtomicBool,
}

impl Connections {
    fn config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(COMMAND_TIMEOUT)
            .set_response_timeout(COMMAND_TIMEOUT)
            .set_number_of_retries(2)
    }

    async fn open(clients: &Clients) -> Result<Multiplexed, StoreError> {
        let connecting = async {
            match clients {
                Clients::Standalone(client) => {
                    ConnectionManager::new_with_config(client.clone(), Self::config())
                        .await
                        .map(Multiplexed::Standalone)
                }
                Clients::Cluster { cluster, .. } => cluster
                    .get_async_connection()
                    .await
                    .map(Multiplexed::Cluster),
            }
        };
        tokio::time::timeout(COMMAND_TIMEOUT * 2, connecting)
            .await
            .map_err(|_| StoreError::Unavailable("connecting to Redis timed out".into()))?
            .map_err(redis_error)
    }

    async fn connect(clients: Clients) -> Result<Arc<Self>, StoreError> {
        // One plain attempt first: a manager retries until its deadline and then says only
        // that it timed out, where this says why (refused, a bad password, an untrusted
        // certificate).
        if let Clients::Standalone(client) = &clients {
            tokio::time::timeout(
                COMMAND_TIMEOUT * 2,
                client.get_multiplexed_async_connection(),
            )
            .await
            .map_err(|_| StoreError::Unavailable("connecting to Redis timed out".into()))?
            .map_err(redis_error)?;
        }
        let manager = Self::open(&clients).await?;
        Ok(Arc::new(Self {
            clients,
            current: std::sync::RwLock::new(manager),
            replacing: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    fn current(&self) -> Multiplexed {
        match self.current.read() {
            Ok(manager) => manager.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Opens a new manager in the background (once at a time) and swaps it in when it has
    /// connected; until then callers keep getting fast timeouts.
    fn replace(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.replacing.swap(true, Ordering::SeqCst) {
            return;
        }
        let connections = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match Self::open(&connections.clients).await {
                    Ok(manager) => {
                        match connections.current.write() {
                            Ok(mut current) => *current = manager,
                            Err(poisoned) => *poisoned.into_inner() = manager,
                        }
                        tracing::info!("Redis answers again: commands use a new connection");
                        break;
                    }
                    Err(_) => tokio::time::sleep(RESUBSCRIBE_BACKOFF).await,
                }
            }
            connections.replacing.store(false, Ordering::SeqCst);
        });
    }
}

/// The shared connection, with a deadline on every command and pipeline: past it the caller
/// gets a timeout (a 503 for the client) and the connection is replaced in the background.
#[derive(Clone)]
struct BoundedConnection {
    manager: Multiplexed,
    connections: Arc<Connections>,
}

impl BoundedConnection {
    fn timed_out(&self) -> redis::RedisError {
        self.connections.replace();
        timed_out()
    }
}

fn timed_out() -> redis::RedisError {
    redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer in time",
    ))
}

impl redis::aio::ConnectionLike for BoundedConnection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        metrics::counter!(ROUND_TRIPS_METRIC).increment(1);
        Box::pin(async move {
            match tokio::time::timeout(COMMAND_TIMEOUT, self.manager.req_packed_command(cmd)).await
            {
                Ok(answer) => answer,
                Err(_) => Err(self.timed_out()),
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        metrics::counter!(ROUND_TRIPS_METRIC).increment(1);
        Box::pin(async move {
            let answer = self.manager.req_packed_commands(pipeline, offset, count);
            match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
                Ok(answer) => answer,
                Err(_) => Err(self.timed_out()),
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.manager.get_db()
    }
}

fn redis_error(error: redis::RedisError) -> StoreError {
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
    {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Unexpected(anyhow::Error::new(error).context("Redis"))
    }
}

/// A time to live in ms: at least 1, and at most a century (Redis refuses an expiry past its
/// clock's range, and "never" arrives here as a far-future time).
fn millis_until(at: UnixMillis, now: UnixMillis) -> u64 {
    const CENTURY_MS: u64 = 100 * 365 * 24 * 3600 * 1000;
    u64::try_from(at.saturating_sub(now))
        .unwrap_or(0)
        .clamp(1, CENTURY_MS)
}

#[async_trait]
impl Store for RedisStore {
    async fn insert_request(&self, request: &LoginRequest) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut c = self.connection();
        let mut claim_code = redis::cmd("SET");
        claim_code
            .arg(self.key("code", request.user_code.as_str()))
            .arg(request.id.as_str())
            .arg("NX")
            .arg("PX")
            .arg(millis_until(request.expires_at, now));
        let request_key = self.request_key(&request.id);
        let mut write = redis::cmd("SET");
        write
            .arg(&request_key)
            .arg(format!("{}|{}", request.version, to_json(request)?))
            .arg("PXAT")
            .arg(request.expires_at + REQUEST_RETENTION_MS);
        if !self.commands.clients.is_cluster() {
            // One round trip: the request goes with its code. If the code is taken (rare),
            // the request, whose id nobody has been given, is removed again.
            let (claimed, ()): (Option<String>, ()) = redis::pipe()
                .add_command(claim_code)
                .add_command(write)
                .query_async(&mut c)
                .await
                .map_err(redis_error)?;
            if claimed.is_none() {
                c.del::<_, ()>(&request_key).await.map_err(redis_error)?;
            }
            return Ok(claimed.is_some());
        }
        // The code is claimed first (its own key, on its own node); a request whose write
        // then fails leaves only a code that names nothing and expires.
        let claimed: Option<String> = claim_code.query_async(&mut c).await.map_err(redis_error)?;
        if claimed.is_none() {
            return Ok(false);
        }
        write.query_async::<()>(&mut c).await.map_err(redis_error)?;
        Ok(true)
    }

    async fn load_request(&self, id: &RequestId) -> Result<Option<LoginRequest>, StoreError> {
        let stored: Option<String> = self
            .connection()
            .get(self.request_key(id))
            .await
            .map_err(redis_error)?;
        let Some(stored) = stored else {
            return Ok(None);
        };
        let (_version, json) = stored.split_once('|').ok_or_else(|| {
            StoreError::Unexpected(anyhow::anyhow!("a stored request without its version"))
        })?;
        from_json(json).map(Some)
    }

    async fn find_request_by_code(&self, code: &UserCode) -> Result<Option<RequestId>, StoreError> {
        let id: Option<String> = self
            .connection()
            .get(self.key("code", code.as_str()))
            .await
            .map_err(redis_error)?;
        Ok(id.as_deref().and_then(RequestId::parse))
    }

    async fn swap_request(
        &self,
        next: &LoginRequest,
        expected_version: u32,
        notice: Option<&AccountNotice>,
    ) -> Result<bool, StoreError> {
        let mut swap = self.swap.key(self.request_key(&next.id));
        swap.arg(expected_version)
            .arg(next.version)
            .arg(to_json(next)?)
            .arg(next.expires_at + REQUEST_RETENTION_MS)
            .arg(self.channel(&next.id));
        if let Some(notice) = notice {
            swap.arg(self.sign_in_channel(notice.user_id()))
                .arg(to_json(notice)?);
        }
        let swapped: i32 = swap
            .invoke_async(&mut self.connection())
            .await
            .map_err(redis_error)?;
        Ok(swapped == 1)
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        let ttl = millis_until(session.expires_at, self.clock.now());
        let index = self.key("user-sessions", &session.user.id);
        let mut write_session = redis::pipe();
        write_session
            .pset_ex(self.key("session", &session.id), to_json(session)?, ttl)
            .ignore();
        // The per-user index lives as long as the newest session in it.
        let mut write_index = redis::pipe();
        write_index
            .sadd(&index, &session.id)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(ttl)
            .arg("GT")
            .ignore()
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(ttl)
            .arg("NX")
            .ignore();
        self.write_all(vec![write_session, write_index]).await
    }

    async fn load_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let data: Option<String> = self
            .connection()
            .get(self.key("session", id))
            .await
            .map_err(redis_error)?;
        self.live_session(data.as_deref())
    }

    async fn load_session_and_not_before(
        &self,
        id: &str,
        user_id: &str,
    ) -> Result<(Option<Session>, Option<UnixMillis>), StoreError> {
        if self.commands.clients.is_cluster() {
            return super::load_session_and_not_before_apart(self, id, user_id).await;
        }
        let (data, not_before): (Option<String>, Option<UnixMillis>) = self
            .connection()
            .mget(&[self.key("session", id), self.key("not-before", user_id)])
            .await
            .map_err(redis_error)?;
        Ok((self.live_session(data.as_deref())?, not_before))
    }

    async fn touch_session(&self, session: &Session) -> Result<(), StoreError> {
        redis::cmd("SET")
            .arg(self.key("session", &session.id))
            .arg(to_json(session)?)
            .arg("XX")
            .arg("KEEPTTL")
            .query_async::<Option<String>>(&mut self.connection())
            .await
            .map_err(redis_error)
            .map(|_| ())
    }

    async fn delete_session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let data: Option<String> = self
            .connection()
            .get_del(self.key("session", id))
            .await
            .map_err(redis_error)?;
        let session: Option<Session> = data.as_deref().map(from_json).transpose()?;
        if let Some(session) = &session {
            let _: i64 = self
                .connection()
                .srem(self.key("user-sessions", &session.user.id), id)
                .await
                .map_err(redis_error)?;
        }
        Ok(session)
    }

    async fn list_sessions(&self, user_id: &str) -> Result<Vec<Session>, StoreError> {
        let index = self.key("user-sessions", user_id);
        let ids: Vec<String> = self
            .connection()
            .smembers(&index)
            .await
            .map_err(redis_error)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key("session", id)).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.connection())
            .await
            .map_err(redis_error)?;
        let now = self.clock.now();
        let mut sessions = Vec::new();
        let mut gone = Vec::new();
        for (id, value) in ids.iter().zip(values) {
            match value.as_deref().map(from_json::<Session>).transpose()? {
                Some(session) if session.is_live(now) => sessions.push(session),
                _ => gone.push(id.clone()),
            }
        }
        if !gone.is_empty() {
            let _: i64 = self
                .connection()
                .srem(&index, gone)
                .await
                .map_err(redis_error)?;
        }
        sessions.sort_by_key(|s| s.expires_at);
        Ok(sessions)
    }

    async fn set_not_before(&self, user_id: &str, at: UnixMillis) -> Result<(), StoreError> {
        // Only ever moves forward, like the SQLite `max`.
        self.not_before
            .key(self.key("not-before", user_id))
            .arg(at)
            .invoke_async::<i64>(&mut self.connection())
            .await
            .map_err(redis_error)
            .map(|_| ())
    }

    async fn not_before(&self, user_id: &str) -> Result<Option<UnixMillis>, StoreError> {
        self.connection()
            .get(self.key("not-before", user_id))
            .await
            .map_err(redis_error)
    }

    async fn use_once(&self, key: &str, until: UnixMillis) -> Result<bool, StoreError> {
        let marked: Option<String> = redis::cmd("SET")
            .arg(self.key("used", key))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis_until(until, self.clock.now()))
            .query_async(&mut self.connection())
            .await
            .map_err(redis_error)?;
        Ok(marked.is_some())
    }

    async fn revoke_token(&self, jti: &str, until: UnixMillis) -> Result<(), StoreError> {
        let ttl = millis_until(until, self.clock.now());
        self.connection()
            .pset_ex::<_, _, ()>(self.key("revoked", jti), 1, ttl)
            .await
            .map_err(redis_error)
    }

    async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        self.connection()
            .exists(self.key("revoked", jti))
            .await
            .map_err(redis_error)
    }

    async fn insert_account(&self, account: &LocalAccount) -> Result<bool, StoreError> {
        let inserted: bool = self
            .connection()
            .set_nx(
                self.key("account", account.username.as_str()),
                to_json(account)?,
            )
            .await
            .map_err(redis_error)?;
        if inserted {
            self.index_account(&account.username).await?;
        }
        Ok(inserted)
    }

    async fn load_account(&self, username: &Username) -> Result<Option<LocalAccount>, StoreError> {
        let data: Option<String> = self
            .connection()
            .get(self.key("account", username.as_str()))
            .await
            .map_err(redis_error)?;
        data.as_deref().map(from_json).transpose()
    }

    async fn update_account(&self, account: &LocalAccount) -> Result<bool, StoreError> {
        let updated: Option<String> = redis::cmd("SET")
            .arg(self.key("account", account.username.as_str()))
            .arg(to_json(account)?)
            .arg("XX")
            .query_async(&mut self.connection())
            .await
            .map_err(redis_error)?;
        if updated.is_some() {
            // Accounts made before the index existed join it as soon as they change.
            self.index_account(&account.username).await?;
        }
        Ok(updated.is_some())
    }

    async fn list_accounts(&self) -> Result<Vec<LocalAccount>, StoreError> {
        let mut names: Vec<String> = self
            .connection()
            .smembers(self.accounts_index())
            .await
            .map_err(redis_error)?;
        names.sort();
        let mut accounts = Vec::with_capacity(names.len());
        // One key each (a cluster spreads them over nodes); operators' lists are short.
        for name in names {
            let data: Option<String> = self
                .connection()
                .get(self.key("account", &name))
                .await
                .map_err(redis_error)?;
            if let Some(data) = data {
                accounts.push(from_json(&data)?);
            }
        }
        Ok(accounts)
    }

    async fn delete_account(&self, username: &Username) -> Result<bool, StoreError> {
        let deleted: i64 = self
            .connection()
            .del(self.key("account", username.as_str()))
            .await
            .map_err(redis_error)?;
        self.connection()
            .srem::<_, _, ()>(self.accounts_index(), username.as_str())
            .await
            .map_err(redis_error)?;
        Ok(deleted == 1)
    }

    async fn append_audit(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        // One pipeline per stream (on a cluster the streams may live on different nodes).
        let mut pipelines: std::collections::HashMap<String, redis::Pipeline> =
            std::collections::HashMap::new();
        for record in records {
            let data = to_json(record)?;
            let mut add = |stream: String, capacity: usize| {
                pipelines
                    .entry(stream.clone())
                    .or_default()
                    .cmd("XADD")
                    .arg(stream)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(capacity)
                    .arg("*")
                    .arg("r")
                    .arg(&data)
                    .ignore();
            };
            add(self.audit_stream(None), AUDIT_CAPACITY);
            if let Some(user) = &record.user {
                add(self.audit_stream(Some(user)), AUDIT_CAPACITY_PER_USER);
            }
        }
        self.write_all(pipelines.into_values().collect()).await
    }

    async fn read_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let stream = self.audit_stream(query.user.as_deref());
        if let Some(after) = &query.after {
            let entries = self
                .audit_range("XRANGE", &stream, &format!("({after}"), "+", query.limit)
                .await?;
            return Ok(entries
                .into_iter()
                .filter(|e| e.record.at >= query.since)
                .collect());
        }
        // Stream ids are Redis's clock, `since` is ours: page back from the newest until a
        // record is older than `since`.
        const PAGE: usize = 500;
        let mut newest_first = Vec::new();
        let mut end = "+".to_owned();
        'pages: loop {
            let page = self
                .audit_range("XREVRANGE", &stream, &end, "-", PAGE)
                .await?;
            let full = page.len() == PAGE;
            for entry in page {
                if entry.record.at < query.since || newest_first.len() == query.limit {
                    break 'pages;
                }
                end = format!("({}", entry.cursor);
                newest_first.push(entry);
            }
            if !full {
                break;
            }
        }
        if !query.newest_first {
            newest_first.reverse();
        }
        Ok(newest_first)
    }

    async fn insert_entry(&self, kind: &str, id: &str, data: &str) -> Result<bool, StoreError> {
        self.connection()
            .hset_nx(self.key("directory", kind), id, data)
            .await
            .map_err(redis_error)
    }

    async fn update_entry(&self, kind: &str, id: &str, data: &str) -> Result<bool, StoreError> {
        let updated: i64 = self
            .update_entry
            .key(self.key("directory", kind))
            .arg(id)
            .arg(data)
            .invoke_async(&mut self.connection())
            .await
            .map_err(redis_error)?;
        Ok(updated == 1)
    }

    async fn load_entry(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        self.connection()
            .hget(self.key("directory", kind), id)
            .await
            .map_err(redis_error)
    }

    async fn list_entries(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        let entries: std::collections::BTreeMap<String, String> = self
            .connection()
            .hgetall(self.key("directory", kind))
            .await
            .map_err(redis_error)?;
        Ok(entries.into_values().collect())
    }

    async fn delete_entry(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        let deleted: i64 = self
            .connection()
            .hdel(self.key("directory", kind), id)
            .await
            .map_err(redis_error)?;
        Ok(deleted == 1)
    }

    async fn put_ephemeral(
        &self,
        kind: &str,
        id: &str,
        data: &str,
        until: UnixMillis,
    ) -> Result<(), StoreError> {
        // The data carries no expiry of its own: it is stored with it, so a reader on a
        // manual clock (tests) sees the same deadline as Redis's own expiry.
        let ttl = (until - self.clock.now()).max(1);
        let record = to_json(&(until, data))?;
        self.connection()
            .pset_ex::<_, _, ()>(
                self.key(&format!("ephemeral:{kind}"), id),
                record,
                ttl as u64,
            )
            .await
            .map_err(redis_error)
    }

    async fn get_ephemeral(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let text: Option<String> = self
            .connection()
            .get(self.key(&format!("ephemeral:{kind}"), id))
            .await
            .map_err(redis_error)?;
        let now = self.clock.now();
        Ok(text
            .map(|text| from_json::<(UnixMillis, String)>(&text))
            .transpose()?
            .filter(|(until, _)| *until > now)
            .map(|(_, data)| data))
    }

    async fn announce_photo(&self, outcome: &PhotoOutcome) -> Result<(), StoreError> {
        self.connection()
            .publish::<_, _, ()>(self.photo_channel(&outcome.photo_id), to_json(outcome)?)
            .await
            .map_err(redis_error)
    }

    async fn announce(&self, notice: &AccountNotice) -> Result<(), StoreError> {
        self.connection()
            .publish::<_, _, ()>(self.sign_in_channel(notice.user_id()), to_json(notice)?)
            .await
            .map_err(redis_error)
    }

    async fn shared_signing_key(
        &self,
        candidate: SecretString,
    ) -> Result<SecretString, StoreError> {
        let key = self.key("config", "signing-key");
        let mut c = self.connection();
        let _: bool = c
            .set_nx(&key, candidate.expose_secret())
            .await
            .map_err(redis_error)?;
        let stored: String = c.get(&key).await.map_err(redis_error)?;
        Ok(stored.into())
    }

    async fn stored_signing_key(&self) -> Result<Option<SecretString>, StoreError> {
        let key = self.key("config", "signing-key");
        let stored: Option<String> = self.connection().get(&key).await.map_err(redis_error)?;
        Ok(stored.map(SecretString::from))
    }

    async fn rate_limit(
        &self,
        buckets: &[(&str, &RateLimit)],
    ) -> Result<Option<(usize, Duration)>, StoreError> {
        let now_us = self.clock.now().saturating_mul(1000);
        if !self.commands.clients.is_cluster() {
            return self.spend_buckets(buckets, now_us).await;
        }
        // A script's keys must share a node: on a cluster, one bucket at a time.
        for (index, bucket) in buckets.iter().enumerate() {
            if let Some((_, wait)) = self.spend_buckets(&[*bucket], now_us).await? {
                return Ok(Some((index, wait)));
            }
        }
        Ok(None)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.connection())
            .await
            .map_err(redis_error)
    }

    fn events(&self) -> &Arc<EventHub> {
        &self.events
    }
}
