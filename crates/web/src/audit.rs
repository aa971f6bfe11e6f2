//! The audit trail's sink: the log line of each record, and its copy in the store.

use std::sync::Arc;
use std::time::Duration;

use qrlogin_auth::audit::AuditRecord;
use qrlogin_auth::signin::AuditSink;
use qrlogin_auth::store::Store;
use tokio::sync::{mpsc, oneshot};

/// The audit trail's sink: every record to the log (target `audit`) first and always, then
/// queued for the store. A store that cannot take a record does not fail the action it
/// describes.
pub struct AuditLog {
    writer: AuditWriter,
}

impl AuditLog {
    pub fn start(store: Arc<dyn Store>) -> Self {
        Self {
            writer: AuditWriter::start(store),
        }
    }

    /// Waits until every record written before this call is in the store.
    pub async fn flush(&self) {
        self.writer.flush().await;
    }
}

impl AuditSink for AuditLog {
    fn record(&self, record: AuditRecord) {
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
        self.writer.write(record);
    }
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
/// It writes as soon as it has something rather than gathering for a while: records of
/// different instances then reach the trail in the order they happened.
/// Every record is in the log first, whatever becomes of its copy in the store.
#[derive(Clone)]
struct AuditWriter {
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
            Ok(()) => {
                let stored = u64::try_from(batch.len()).unwrap_or(u64::MAX);
                metrics::counter!(crate::metrics::AUDIT_RECORDS_STORED).increment(stored);
                return;
            }
            Err(error) if attempt == ATTEMPTS => {
                tracing::error!(%error, records = batch.len(), "audit records are only in the log: the store refused them");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await,
        }
    }
}
