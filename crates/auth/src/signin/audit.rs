//! Writing one audit record per step: filled in as the step learns who and what it concerns,
//! and recorded once with its outcome.

use crate::RequestId;
use crate::audit::{AuditEvent, AuditRecord};
use crate::login_request::UnixMillis;
use crate::refusal::{ErrorCode, Refusal};
use crate::signin::Caller;
use crate::signin::ports::AuditSink;

#[must_use = "an audit record does nothing until it is recorded"]
pub struct Draft(AuditRecord);

impl Draft {
    pub fn new(event: AuditEvent, caller: &Caller, at: UnixMillis) -> Self {
        let mut record = AuditRecord::new(event, at);
        record.ip = Some(caller.ip.clone());
        record.user_agent = Some(caller.user_agent.clone()).filter(|ua| !ua.is_empty());
        record.request_id = caller.request_id.clone();
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

    /// Sets what explains the record; a second detail is added to the first.
    pub fn detail(&mut self, detail: impl Into<String>) -> &mut Self {
        let detail = detail.into();
        self.0.detail = Some(match self.0.detail.take() {
            Some(first) => format!("{first}; {detail}"),
            None => detail,
        });
        self
    }

    /// Records the step with its outcome: `ok`, or the code the caller was refused with.
    pub fn record<T>(self, sink: &dyn AuditSink, outcome: &Result<T, Refusal>) {
        self.record_as(sink, outcome.as_ref().err().map(|e| e.code));
    }

    /// Records the step as `ok` (`None`) or refused with `refusal`.
    pub fn record_as(mut self, sink: &dyn AuditSink, refusal: Option<ErrorCode>) {
        if let Some(code) = refusal {
            // The limit recorded itself, with the bucket; once is enough.
            if code == ErrorCode::RateLimited && self.0.event != AuditEvent::RateLimited {
                return;
            }
            self.0.outcome = code.as_str().to_owned();
        }
        sink.record(self.0);
    }
}
