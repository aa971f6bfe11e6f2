//! Writing the audit trail from a request: who, from where, what, and how it ended.

use std::sync::Arc;
use std::time::Duration;

use qrlogin_auth::RequestId;
use qrlogin_auth::audit::{AuditEvent, AuditRecord};
use qrlogin_auth::store::Store;
use tokio::sync::{mpsc, oneshot};

use crate::client::ClientInfo;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The audit record of one action, filled in as the handler learns who and what it concerns,
/// and recorded once with the outcome.
#[must_use = "an audit record does nothing until it is recorded"]
pub struct Audit(AuditRecord);

impl Audit {
    pub fn of(state: &AppState, client: &ClientInfo, event: AuditEvent) -> Self {
        let mut record = AuditRecord::new(event, state.now());
        record.ip = Some(client.ip.clone());
        record.user_agent = Some(client.user_agent.clone()).filter(|ua| !ua.is_empty());
        record.request_id = client.request_id.clone();
        Self(record)
    }

    pub fn user(&mut self, user_id: &str) -> &mut Self {
        self.0.user = Some(user_id.to_owned());
        self
    }

    pub fn login_request(&mut self, id: &RequestId) -> &mut Self {
        self.0.login_request = Some(id.to_string());
        self
    }

    pub fn client(&mut self, name: &str) -> &mut Self {
        self.0.client = Some(name.to_owned());
        self
    }

    pub fn detail(&mut self, detail: impl Into<String>) -> &mut Self {
        self.0.detail = Some(detail.into());
        self
    }

    /// Records the action with `outcome`: `ok`, or the error code the caller was answered.
    pub async fn record<T>(self, state: &AppState, outcome: &Result<T, ApiError>) {
        self.record_as(state, outcome.as_ref().err().map(|e| e.code))
            .await;
    }

    /// Records the action as `ok` (`None`) or refused with `refusal`, for handlers that
    /// answer a refusal with a page rather than an error.
    pub async fn record_as(mut self, state: &AppState, refusal: Option<ErrorCode>) {
        if let Some(code) = refusal {
            // The limit recorded itself, with the bucket; once is enough.
            if code == ErrorCode::RateLimited && self.0.event != AuditEvent::RateLimited {
                return;
            }
            self.0.outcome = code.as_str().to_owned();
        }
        record(state, self.0).await;
    }
}

/// Writes `record` to the log (target `audit`) and queues it for the store. The log line comes
/// first and always: a store that cannot take the record does not fail the action it describes.
pub async fn record(state: &AppState, record: AuditRecord) {
    let none = "";
    macro_rules! audit_line {
        ($level:ident) => {
            tracing::$level!(
                target: "audit",
                event = record.event.as_str(),
                outcome = %record.outcome,
                user = record.user.as_deref().unwrap_or(none),
                login_request = record.login_request.as_deref().unwrap_or(none),
                client = record.client.as_deref().unwrap_or(none),
                ip = record.ip.as_deref().unwrap_or(none),
                user_agent = record.user_agent.as_deref().unwrap_or(none),
                request_id = record.request_id.as_deref().unwrap_or(none),
                detail = record.detail.as_deref().unwrap_or(none),
                "audit"
            )
        };
    }
    metrics::counter!(
        crate::metrics::EVENTS,
        "event" => record.event.as_str(),
        "outcome" => record.outcome.clone()
    )
    .increment(1);
    if record.is_ok() {
        audit_line!(info);
    } else {
        audit_line!(warn);
    }
    state.audit.write(record);
}

/// How many records wait for the store; past that, new ones are only in the log.
const QUEUE: usize = 10_000;
/// The most records written in one round trip.
const BATCH: usize = 512;
/// How often a batch the store refused is tried again before it is left to the log alone.
const ATTEMPTS: u32 = 5;

enum Command {
    Record(AuditRecord),
    /// Answered once everything queued before it is stored.
    Flush(oneshot::Sender<()>),
}

/// Writes audit records to the store off the request path: one background task per instance
/// collects whatever is queued and stores it in one round trip, in order. A sign-in does not
/// wait for its four records, and a burst costs a handful of writes instead of one each.
/// Every record is in the log first, whatever becomes of its copy in the store.
#[derive(Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Command>,
}

impl AuditWriter {
    /// Starts the writer on the current runtime; it ends when the last handle is dropped,
    /// after storing what is queued.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, commands) = mpsc::channel(QUEUE);
        tokio::spawn(write_batches(store, commands));
        Self { queue }
    }

    /// Queues `record` for the store. A request never waits on the queue: when it is full (the
    /// store has been refusing for a while) the record stays in the log alone, which always
    /// has it, rather than holding the request past its deadline.
    pub fn write(&self, record: AuditRecord) {
        match self.queue.try_send(Command::Record(record)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::error!("the audit queue is full; the record is only in the log");
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("the audit writer has stopped; the record is only in the log");
            }
        }
    }

    /// Waits until every record written before this call is in the store.
    pub async fn flush(&self) {
        let (done, stored) = oneshot::channel();
        if self.queue.send(Command::Flush(done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

async fn write_batches(store: Arc<dyn Store>, mut commands: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut flushes = Vec::new();
    while let Some(first) = commands.recv().await {
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Record(record) => batch.push(record),
                Command::Flush(done) => flushes.push(done),
            }
            if batch.len() < BATCH {
                next = commands.try_recv().ok();
            }
        }
        store_batch(&*store, &batch).await;
        batch.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

async fn store_batch(store: &dyn Store, batch: &[AuditRecord]) {
    if batch.is_empty() {
        return;
    }
    for attempt in 1..=ATTEMPTS {
        match store.append_audit(batch).await {
            Ok(()) => return,
            Err(error) if attempt == ATTEMPTS => {
                tracing::error!(%error, records = batch.len(), "audit records are only in the log: the store refused them");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await,
        }
    }
}
