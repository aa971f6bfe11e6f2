//! The screen's side of a sign-in: it creates a request, gives up on it, types the phone's
//! PIN, and redeems the approval, with the desktop secret only it holds.

use secrecy::SecretString;

use crate::audit::AuditEvent;
use crate::client::RegisteredClient;
use crate::flows::{self, ClientSignIn, FlowError, SignedIn};
use crate::login_request::{
    LoginRequest, NewLoginRequest, RequestId, ScreenContext, Transition, TransitionError,
    is_well_formed_pin,
};
use crate::refusal::{ErrorCode, Refusal};
use crate::signin::{Bucket, Caller, SignIn};

/// Who asks for a new request.
#[derive(Clone, Copy)]
pub enum Requester<'a> {
    /// A screen of this deployment (the QR page, or an API caller without a key).
    Screen,
    /// A registered client's server, with its API key.
    Client(&'a RegisteredClient),
    /// A device through the OAuth device authorization grant, by the client's public id.
    DeviceGrant(&'a RegisteredClient),
    /// A web app's sign-in page (OpenID Connect) in a browser, for one authorization: the
    /// app's name on the phone, the browser's budget.
    WebApp {
        client: &'a RegisteredClient,
        authorization: &'a str,
    },
}

fn not_approved_yet(error: FlowError) -> Refusal {
    match error {
        FlowError::Transition(TransitionError::WrongState(s)) => Refusal::new(
            ErrorCode::Conflict,
            format!(
                "This sign-in request is {} and has not been approved on the phone yet.",
                s.as_str()
            ),
        ),
        other => other.into(),
    }
}

impl SignIn {
    /// A new request for `requester`, within its budget: a registered client's own, else
    /// the caller's IP's (anyone may start a device grant with a public client id).
    pub async fn create(
        &self,
        caller: &Caller,
        requester: Requester<'_>,
    ) -> Result<NewLoginRequest, Refusal> {
        let screen = self.screen_for(caller, requester);
        let mut draft = self.draft(AuditEvent::Create, caller);
        draft.client(&screen.client_name);
        match requester {
            Requester::DeviceGrant(_) => {
                draft.detail("OAuth device authorization");
            }
            Requester::WebApp { .. } => {
                draft.detail("OpenID Connect");
            }
            Requester::Screen | Requester::Client(_) => {}
        }
        let created = async {
            match requester {
                Requester::Client(client) => {
                    self.spend(caller, Bucket::CreatePerClient, &client.id)
                        .await?
                }
                _ => {
                    self.spend(caller, Bucket::CreatePerIp, &self.network_of(caller))
                        .await?
                }
            }
            let ttl = self.policy.lifetimes.qr_ttl_ms;
            Ok(flows::create_request(self.store(), screen, self.now(), ttl).await?)
        }
        .await;
        if let Ok(new) = &created {
            draft.login_request(&new.request.id);
        }
        self.record(draft, &created);
        created
    }

    fn screen_for(&self, caller: &Caller, requester: Requester<'_>) -> ScreenContext {
        let registered = match requester {
            Requester::Screen => None,
            Requester::Client(client)
            | Requester::DeviceGrant(client)
            | Requester::WebApp { client, .. } => Some(client),
        };
        ScreenContext {
            client_name: registered.map_or_else(
                || self.policy.app_name.clone(),
                |registered| registered.name.clone(),
            ),
            ip: caller.ip.clone(),
            user_agent: caller.user_agent.clone(),
            client_id: registered.map(|registered| registered.id.clone()),
            confirmation: registered.map(|registered| registered.confirmation),
            device_grant: matches!(requester, Requester::DeviceGrant(_)),
            authorization: match requester {
                Requester::WebApp { authorization, .. } => Some(authorization.to_owned()),
                _ => None,
            },
            passkey: registered
                .map(|registered| registered.passkey)
                .unwrap_or_default(),
        }
    }

    /// The screen gives up on its request.
    pub async fn cancel(
        &self,
        caller: &Caller,
        id: &RequestId,
        secret: &SecretString,
    ) -> Result<LoginRequest, Refusal> {
        use secrecy::ExposeSecret;
        let cancel = Transition::Cancel {
            secret: secret.expose_secret().to_owned(),
        };
        let mut draft = self.draft(AuditEvent::Cancel, caller);
        draft.login_request(id);
        let cancelled = flows::transition(self.store(), id, &cancel, self.now())
            .await
            .map_err(Refusal::from);
        self.record(draft, &cancelled);
        cancelled
    }

    /// The screen types the PIN the phone shows. Wrong PINs are counted atomically; the last
    /// one locks the request. A malformed PIN is refused without being counted, and only the
    /// holder of the secret spends the request's PIN budget or reaches the audit trail.
    pub async fn enter_pin(
        &self,
        caller: &Caller,
        id: &RequestId,
        secret: &SecretString,
        pin: &str,
    ) -> Result<LoginRequest, Refusal> {
        if !is_well_formed_pin(pin) {
            return Err(Refusal::invalid(
                "A PIN is the 6 digits shown on the phone.",
            ));
        }
        let owned = self.owned(id, secret).await?;
        self.spend(caller, Bucket::PinPerRequest, id.as_str())
            .await?;
        let entered = flows::enter_pin(self.store(), id, secret, pin, self.now()).await;
        let locked = matches!(
            entered,
            Err(FlowError::Transition(TransitionError::WrongPin {
                attempts_left: 0
            }))
        );
        let entered = entered.map_err(Refusal::from);
        // Recorded against the approver: the trail shows them guesses made at their approval.
        let draft_of = |event| {
            let mut draft = self.draft(event, caller);
            draft.login_request(id).client(&owned.screen.client_name);
            if let Some(claim) = &owned.claim {
                draft.user(&claim.user.id);
            }
            draft
        };
        self.record(draft_of(AuditEvent::Pin), &entered);
        if locked {
            self.record(draft_of(AuditEvent::Lock), &Ok::<(), Refusal>(()));
        }
        entered
    }

    /// The request, if `secret` is its desktop secret.
    pub async fn owned(
        &self,
        id: &RequestId,
        secret: &SecretString,
    ) -> Result<LoginRequest, Refusal> {
        let request = flows::load(self.store(), id, self.now()).await?;
        held_by(request, secret)
    }

    /// [`owned`](Self::owned), for the screen's socket, which has subscribed to the request
    /// already: this instance's newest copy will do (it created the request, and hears every
    /// change of it), since anything newer reaches the socket anyway.
    pub async fn owned_for_listener(
        &self,
        id: &RequestId,
        secret: &SecretString,
    ) -> Result<LoginRequest, Refusal> {
        let request = flows::latest_known(self.store(), id, self.now()).await?;
        held_by(request, secret)
    }

    /// The request as its screen polls it: the secret is checked before the poll budget is
    /// spent, so whoever merely saw the QR cannot use up the screen's budget.
    pub async fn screen_view(
        &self,
        caller: &Caller,
        id: &RequestId,
        secret: &SecretString,
    ) -> Result<LoginRequest, Refusal> {
        let request = self.owned(id, secret).await?;
        self.spend(caller, Bucket::PollPerRequest, id.as_str())
            .await?;
        Ok(request)
    }

    /// A screen redeems its approved request, exactly once, and is signed in as the approver.
    pub async fn redeem(
        &self,
        caller: &Caller,
        id: &RequestId,
        secret: &SecretString,
    ) -> Result<SignedIn, Refusal> {
        let mut draft = self.draft(AuditEvent::Redeem, caller);
        draft.login_request(id);
        let redeemed = flows::redeem(
            self.store(),
            &self.keys,
            id,
            secret,
            caller.device(),
            self.now(),
            &self.policy.lifetimes,
        )
        .await
        .map_err(not_approved_yet);
        if let Ok(signed_in) = &redeemed {
            draft.user(&signed_in.session.user.id);
        }
        self.record(draft, &redeemed);
        redeemed
    }

    /// A registered client redeems its approved request, exactly once, and learns who signed
    /// in. `how` names the entry point in the audit trail.
    pub async fn redeem_for_client(
        &self,
        caller: &Caller,
        id: &RequestId,
        secret: &SecretString,
        client: &RegisteredClient,
        how: Option<&str>,
    ) -> Result<ClientSignIn, Refusal> {
        let mut draft = self.draft(AuditEvent::Redeem, caller);
        draft.login_request(id).client(&client.name);
        if let Some(how) = how {
            draft.detail(how);
        }
        let redeemed = flows::redeem_for_client(self.store(), id, secret, &client.id, self.now())
            .await
            .map_err(not_approved_yet);
        if let Ok(signed_in) = &redeemed {
            draft.user(&signed_in.user.id);
        }
        self.record(draft, &redeemed);
        redeemed
    }
}

/// `request`, if `secret` is its desktop secret.
fn held_by(request: LoginRequest, secret: &SecretString) -> Result<LoginRequest, Refusal> {
    use secrecy::ExposeSecret;
    if !request.secret_hash.matches(secret.expose_secret()) {
        return Err(Refusal::new(
            ErrorCode::Forbidden,
            "The desktop secret does not match this sign-in request.",
        ));
    }
    Ok(request)
}
