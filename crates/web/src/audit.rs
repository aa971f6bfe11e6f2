//! Writing the audit trail from a request: who, from where, what, and how it ended.

use qrlogin_auth::RequestId;
use qrlogin_auth::audit::{AuditEvent, AuditRecord};

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

/// Writes `record` to the log (target `audit`) and to the store. The log line comes first and
/// always: a store that cannot take the record does not fail the action it describes.
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
    if record.is_ok() {
        audit_line!(info);
    } else {
        audit_line!(warn);
    }
    if let Err(error) = state.store.append_audit(&record).await {
        tracing::error!(%error, event = record.event.as_str(), "the audit record is only in the log: the store refused it");
    }
}
