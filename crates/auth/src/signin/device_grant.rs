//! RFC 8628, the OAuth device authorization grant, on login requests: which clients may use
//! it, a device asking for its codes, and a device polling for its tokens at its pace. The
//! OAuth endpoints only parse the form and say a [`GrantError`] in OAuth's error shape.
//!
//! A client's id is public, so the grant lets anyone start sign-ins in the client's name: it
//! is off for a client unless the client was registered with it.

use std::borrow::Cow;

use secrecy::{ExposeSecret, SecretString};

use crate::LoginState;
use crate::audit::AuditEvent;
use crate::client::{RegisteredClient, registry};
use crate::device::{self, PACES, Pace};
use crate::flows::{self, FlowError};
use crate::login_request::{LoginRequest, RequestId, UnixMillis};
use crate::refusal::{ErrorCode, Refusal};
use crate::signin::{Bucket, Caller, Requester, SignIn};
use crate::store::{get_ephemeral_json, put_ephemeral_json};

/// How long a device code's pace is kept after the request's own expiry.
const PACE_KEPT_MS: i64 = 60_000;

const NOT_OURS: &str = "That device code is not one of ours.";
const NOT_THIS_CLIENTS: &str = "That device code was not issued to this client.";
const USED: &str = "That device code was already used.";

/// Why the device grant said no: OAuth's error codes (RFC 6749 §5.2, RFC 8628 §3.5), or a
/// refusal of our own (the store, …) that is said in qrlogin's shape.
#[derive(Debug)]
pub enum GrantError {
    /// No client is registered with that `client_id`.
    InvalidClient,
    /// The client did not authenticate: unknown, a wrong or missing secret, or a secret
    /// from a public client (`invalid_client`, 401 when it tried the Authorization header).
    ClientAuthentication,
    /// A parameter is missing or malformed.
    InvalidRequest(&'static str),
    /// The client may not use the device grant (not registered with it, or it confirms with
    /// a PIN a device cannot type).
    UnauthorizedClient(&'static str),
    /// The device code is not one of ours, not this client's, or used.
    InvalidGrant(&'static str),
    /// The user has not approved yet.
    AuthorizationPending,
    /// Polling too fast (the interval has grown for good), or asking for too many codes.
    SlowDown(Cow<'static, str>),
    AccessDenied(&'static str),
    ExpiredToken,
    /// Trouble that is ours, not the client's: said in qrlogin's own shape.
    Refused(Refusal),
}

impl GrantError {
    /// The OAuth `error`; for [`GrantError::Refused`], the refusal's own code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidClient | Self::ClientAuthentication => "invalid_client",
            Self::InvalidRequest(_) => "invalid_request",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown(_) => "slow_down",
            Self::AccessDenied(_) => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::Refused(refusal) => refusal.code.as_str(),
        }
    }

    /// The `error_description`: a sentence for the device's developer.
    pub fn description(&self) -> &str {
        match self {
            Self::InvalidClient => "No client is registered with that client_id.",
            Self::ClientAuthentication => {
                "Client authentication failed: an unknown client_id, or a wrong or missing client secret (a public client sends none)."
            }
            Self::UnauthorizedClient(why)
            | Self::InvalidGrant(why)
            | Self::AccessDenied(why)
            | Self::InvalidRequest(why) => why,
            Self::AuthorizationPending => "Waiting for the user to approve on their phone.",
            Self::SlowDown(why) => why,
            Self::ExpiredToken => "The device code has expired: start again.",
            Self::Refused(refusal) => &refusal.message,
        }
    }
}

impl From<Refusal> for GrantError {
    /// A budget that ran out is OAuth's `slow_down`; anything else is ours.
    fn from(refusal: Refusal) -> Self {
        match refusal.code {
            ErrorCode::RateLimited => Self::SlowDown(refusal.message),
            _ => Self::Refused(refusal),
        }
    }
}

impl From<crate::store::StoreError> for GrantError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Refused(error.into())
    }
}

/// A device's codes (RFC 8628 §3.2).
pub struct DeviceAuthorization {
    /// The request the user claims, by its QR or its typed user code.
    pub request: LoginRequest,
    /// What the device polls with: whoever holds it may redeem the request.
    pub device_code: SecretString,
    pub expires_in_s: i64,
    /// Seconds between polls, to begin with.
    pub interval_s: i64,
}

/// What the device gets once the user approved (RFC 8628 §3.5, RFC 6749 §5.1).
pub struct DeviceTokens {
    /// For the client's own API: `typ: at+jwt`, `aud` = the client (qrlogin's API refuses it).
    pub access_token: SecretString,
    pub expires_in_s: i64,
    /// Who signed in, for the client: `typ: id_token+jwt`, `aud` = the client.
    pub id_token: SecretString,
}

impl SignIn {
    /// `client_id`, if it names a registered client.
    async fn grant_client(&self, client_id: &str) -> Result<RegisteredClient, GrantError> {
        registry::load(self.store(), client_id)
            .await?
            .ok_or(GrantError::InvalidClient)
    }

    /// A device asks for codes with `client_id`: a new request in the client's name, if the
    /// client was registered for the device grant. Anyone may ask with a public id, so the
    /// caller's IP pays (not the client's own budget, which its server needs), refused or not.
    pub async fn authorize_device(
        &self,
        caller: &Caller,
        client_id: &str,
    ) -> Result<DeviceAuthorization, GrantError> {
        let client = self.grant_client(client_id).await?;
        if let Some(why) = client.device_grant_refusal() {
            // Recorded, for it is what probing a client's public id looks like; paid for
            // first, so that probing cannot flood the trail.
            self.spend(caller, Bucket::CreatePerIp, &self.network_of(caller))
                .await?;
            let mut draft = self.draft(AuditEvent::Create, caller);
            draft
                .client(&client.name)
                .detail("OAuth device authorization: the client is not allowed the device grant");
            let refused = Err::<(), _>(Refusal::new(ErrorCode::Forbidden, why));
            self.record(draft, &refused);
            return Err(GrantError::UnauthorizedClient(why));
        }
        let new = self.create(caller, Requester::DeviceGrant(&client)).await?;
        let device_code = device::device_code(&new.request.id, new.desktop_secret.expose_secret());
        Ok(DeviceAuthorization {
            expires_in_s: (new.request.expires_at - self.now()) / 1000,
            interval_s: device::POLL_INTERVAL_S,
            device_code: device_code.into(),
            request: new.request,
        })
    }

    /// A device polls with its device code: `authorization_pending` until the phone
    /// approves, then the tokens, once; `slow_down` for a poll too soon (the interval growing
    /// by 5 s each time, for good; the first poll is never too soon); `access_denied`;
    /// `expired_token`. Only the device grant's own requests, and only the client's they
    /// were issued to: one a client's server made with its API key is redeemed with that key.
    pub async fn device_token(
        &self,
        caller: &Caller,
        client_id: &str,
        device_code: &str,
    ) -> Result<DeviceTokens, GrantError> {
        let (id, secret) =
            device::parse_device_code(device_code).ok_or(GrantError::InvalidGrant(NOT_OURS))?;
        let client = self.grant_client(client_id).await?;
        if let Some(why) = client.device_grant_refusal() {
            return Err(GrantError::UnauthorizedClient(why));
        }
        let now = self.now();
        let request = match flows::load(self.store(), &id, now).await {
            Ok(request) => request,
            Err(FlowError::NotFound) => return Err(GrantError::InvalidGrant(NOT_OURS)),
            Err(error) => return Err(GrantError::Refused(error.into())),
        };
        if !request.secret_hash.matches(secret)
            || !request.screen.device_grant
            || request.screen.client_id.as_deref() != Some(client.id.as_str())
        {
            return Err(GrantError::InvalidGrant(NOT_THIS_CLIENTS));
        }
        self.keep_pace(&request, now).await?;
        match request.state_at(now) {
            LoginState::Pending | LoginState::Claimed => Err(GrantError::AuthorizationPending),
            LoginState::Denied | LoginState::Cancelled | LoginState::Locked => Err(
                GrantError::AccessDenied("The user did not approve this sign-in."),
            ),
            LoginState::Expired => Err(GrantError::ExpiredToken),
            LoginState::Redeemed => Err(GrantError::InvalidGrant(USED)),
            LoginState::Approved => {
                self.device_tokens(caller, &id, secret.to_owned().into(), &client)
                    .await
            }
        }
    }

    /// Notes a poll of `request`'s device code; `slow_down` when it came too soon.
    async fn keep_pace(&self, request: &LoginRequest, now: UnixMillis) -> Result<(), GrantError> {
        let id = request.id.as_str();
        let previous = get_ephemeral_json::<Pace>(self.store(), PACES, id).await?;
        let (pace, too_soon) = Pace::poll(previous, now);
        let kept_until = request.expires_at.saturating_add(PACE_KEPT_MS);
        put_ephemeral_json(self.store(), PACES, id, &pace, kept_until).await?;
        if too_soon {
            return Err(GrantError::SlowDown(
                format!(
                    "Polling too fast: wait {} seconds between polls from now on.",
                    pace.interval_s
                )
                .into(),
            ));
        }
        Ok(())
    }

    /// Redeems the approved request for `client` (audited as the redemption) and issues
    /// the device its tokens.
    async fn device_tokens(
        &self,
        caller: &Caller,
        id: &RequestId,
        secret: SecretString,
        client: &RegisteredClient,
    ) -> Result<DeviceTokens, GrantError> {
        let signed_in = self
            .redeem_for_client(caller, id, &secret, client, Some("OAuth device token"))
            .await
            // Told in OAuth's terms, like every other answer of the grant.
            .map_err(|refused| match refused.code {
                ErrorCode::Expired => GrantError::ExpiredToken,
                ErrorCode::Forbidden => GrantError::AccessDenied(
                    "This account is disabled, or its owner signed out everywhere.",
                ),
                ErrorCode::Conflict | ErrorCode::NotFound | ErrorCode::Locked => {
                    GrantError::InvalidGrant(USED)
                }
                _ => GrantError::Refused(refused),
            })?;
        let now = self.now();
        let ttl = self.policy.lifetimes.access_token_ttl_ms;
        let issued = self
            .keys
            .issue_for_client(&client.id, &signed_in.user, now, ttl)
            .and_then(|(access_token, claims)| {
                let id_token = self.keys.issue_identity(
                    &signed_in.user,
                    &client.id,
                    (signed_in.approved_at, &signed_in.amr),
                    now,
                )?;
                Ok(DeviceTokens {
                    access_token,
                    expires_in_s: claims.exp - claims.iat,
                    id_token,
                })
            });
        issued.map_err(|error| GrantError::Refused(Refusal::internal(error)))
    }
}

#[cfg(test)]
mod tests {
    //! The grant's rules on their own: a real embedded store, a manual clock, an audit sink
    //! that keeps what it is given and a limiter that allows everything.

    use super::*;
    use crate::User;
    use crate::client::ConfirmationMode;
    use crate::clock::Clock;
    use crate::signin::testing::{World, policy};
    use crate::signin::{ApprovalProof, ClaimSource, Decision};

    async fn world() -> World {
        World::new(policy()).await
    }

    fn device() -> Caller {
        Caller {
            ip: "192.0.2.10".into(),
            user_agent: "tv".into(),
            request_id: None,
        }
    }

    trait Clients {
        async fn client(&self, device_grant: bool) -> RegisteredClient;
    }

    impl Clients for World {
        async fn client(&self, device_grant: bool) -> RegisteredClient {
            let (client, _) = RegisteredClient::register(
                "Space",
                vec![],
                vec![],
                ConfirmationMode::Tap,
                device_grant,
                self.clock.now(),
            )
            .unwrap();
            assert!(registry::add(&*self.store, &client).await.unwrap());
            client
        }
    }

    #[tokio::test]
    async fn a_client_not_registered_for_the_grant_is_refused_it_by_its_public_id() {
        let world = world().await;
        let client = world.client(false).await;
        let refused = world
            .signin
            .authorize_device(&device(), &client.id)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code(), "unauthorized_client");
        assert!(refused.description().contains("clients device-grant"));
        let audited = world.records().pop().unwrap();
        assert_eq!(
            (audited.event, audited.outcome.as_str()),
            (AuditEvent::Create, "forbidden")
        );
        assert_eq!(audited.client.as_deref(), Some("Space"));
        assert!(audited.login_request.is_none(), "no request was made");

        // Its token endpoint refuses it likewise, whatever the code.
        let code = format!("{}.secret", RequestId::generate());
        let refused = world
            .signin
            .device_token(&device(), &client.id, &code)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.code(), "unauthorized_client");
        let unknown = world
            .signin
            .authorize_device(&device(), "cl_nobody")
            .await
            .err()
            .unwrap();
        assert_eq!(unknown.code(), "invalid_client");
    }

    #[tokio::test]
    async fn a_registered_device_polls_at_its_pace_and_gets_typed_tokens_once() {
        let world = world().await;
        let client = world.client(true).await;
        let codes = world
            .signin
            .authorize_device(&device(), &client.id)
            .await
            .unwrap();
        assert_eq!(codes.interval_s, 5);
        assert_eq!(codes.expires_in_s, 120);
        let device_code = codes.device_code.expose_secret().to_owned();
        let poll = async || {
            world
                .signin
                .device_token(&device(), &client.id, &device_code)
                .await
        };
        let code_of = |polled: Result<DeviceTokens, GrantError>| polled.err().unwrap().code();
        assert_eq!(code_of(poll().await), "authorization_pending");
        assert_eq!(code_of(poll().await), "slow_down");

        let alice = User::mentra("alice@example.com");
        let phone = device();
        world
            .signin
            .claim(
                &phone,
                alice.clone(),
                ClaimSource::Id(codes.request.id.to_string()),
            )
            .await
            .unwrap();
        world
            .signin
            .decide(
                &phone,
                alice,
                &codes.request.id,
                Decision::Approve(ApprovalProof::Tap),
            )
            .await
            .unwrap();
        world.clock.advance(std::time::Duration::from_secs(10));
        let tokens = poll().await.unwrap();
        let typ = |token: &SecretString| {
            jsonwebtoken::decode_header(token.expose_secret())
                .unwrap()
                .typ
        };
        assert_eq!(typ(&tokens.access_token).as_deref(), Some("at+jwt"));
        assert_eq!(typ(&tokens.id_token).as_deref(), Some("id_token+jwt"));
        assert_eq!(tokens.expires_in_s, 900);
        // For the client's API, not qrlogin's.
        assert!(
            world
                .signin
                .keys
                .verify(tokens.access_token.expose_secret(), world.clock.now())
                .is_err()
        );
        let redeemed = world.records().pop().unwrap();
        assert_eq!(
            (redeemed.event, redeemed.outcome.as_str()),
            (AuditEvent::Redeem, "ok")
        );
        assert_eq!(redeemed.detail.as_deref(), Some("OAuth device token"));

        world.clock.advance(std::time::Duration::from_secs(10));
        assert_eq!(code_of(poll().await), "invalid_grant");
        // Another client's id does not fit the code.
        let other = world.client(true).await;
        let refused = world
            .signin
            .device_token(&device(), &other.id, &device_code)
            .await
            .err()
            .unwrap();
        assert_eq!(refused.description(), NOT_THIS_CLIENTS);
    }
}
