//! Who is calling with a credential of their own: an access token or a client's API key. A
//! credential that is refused is audited for what it is and spends the IP's budget for
//! refused credentials, so junk can neither be tried at leisure nor flood the trail.

use crate::audit::AuditEvent;
use crate::client::{self as clients, RegisteredClient};
use crate::flows::{self, BearerError};
use crate::refusal::{ErrorCode, Refusal};
use crate::signin::{Bucket, Caller, SignIn};
use crate::tokens::AccessClaims;

impl SignIn {
    /// The claims of a valid, unrevoked access token.
    pub async fn authenticate_bearer(
        &self,
        caller: &Caller,
        token: &str,
    ) -> Result<AccessClaims, Refusal> {
        let refused =
            match flows::authenticate_bearer(self.store(), &self.keys, token, self.now()).await {
                Ok(claims) => return Ok(claims),
                Err(BearerError::Store(error)) => return Err(error.into()),
                Err(refused) => refused,
            };
        let reason = match &refused {
            BearerError::Token(e) => e.reason(),
            _ => "revoked",
        };
        self.refuse_credential(caller, format!("access token: {reason}"))
            .await?;
        Err(Refusal::new(
            ErrorCode::Unauthenticated,
            format!("{refused}; sign in again."),
        ))
    }

    /// The registered client whose API key this is. A key that is wrong, rotated or for a
    /// removed client is refused, never taken for "no client".
    pub async fn authenticate_client(
        &self,
        caller: &Caller,
        key: &str,
    ) -> Result<RegisteredClient, Refusal> {
        let found = match clients::client_in_key(key) {
            Some(id) => clients::registry::load(self.store(), id).await?,
            None => None,
        };
        match found {
            Some(registered) if registered.accepts(key) => Ok(registered),
            _ => {
                self.refuse_credential(caller, "client API key: not valid".into())
                    .await?;
                Err(Refusal::new(
                    ErrorCode::Unauthenticated,
                    "The API key is not valid (wrong, rotated, or its client was removed).",
                ))
            }
        }
    }

    async fn refuse_credential(&self, caller: &Caller, detail: String) -> Result<(), Refusal> {
        self.spend(caller, Bucket::RejectedTokenPerIp, &self.network_of(caller))
            .await?;
        let mut draft = self.draft(AuditEvent::TokenRejected, caller);
        draft.detail(detail);
        draft.record_as(&*self.audit, Some(ErrorCode::Unauthenticated));
        Ok(())
    }
}
