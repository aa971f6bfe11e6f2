//! "Sign in with qrlogin" for web apps: OpenID Connect's authorization code flow with PKCE,
//! with a QR code as the sign-in page. The app sends its user's browser to `/oauth/authorize`;
//! that page shows QR codes made for the app (the phone reads "Sign in to Space"); once the
//! phone approves, the browser goes back to the app with a single-use code, which the app's
//! server exchanges for an identity token, an access token and a refresh token.
//!
//! The rules are in [`crate::oidc`] (pure) and here (with the store): the redirect URI is
//! trusted only on an exact match; a code is bound to its client, redirect URI and PKCE
//! verifier, lives 60 s, and a second use ends the session the first one started; a refresh
//! token is replaced on every use, and a replaced one presented again ends the session (the
//! whole family). A web app's sign-in is a qrlogin session of its own ([`SessionKind::App`]):
//! it is listed on the user's dashboard, and ending it there, signing out everywhere or a
//! disabled account ends the app's tokens too.

use secrecy::SecretString;

use crate::audit::AuditEvent;
use crate::client::{RegisteredClient, registry};
use crate::flows;
use crate::login_request::RequestId;
use crate::oidc::{
    AUTHORIZATIONS, Authorization, AuthorizationParams, CODE_TTL_MS, CODES, CodeGrant, Presented,
    REFRESH_FAMILIES, RedirectedError, RefreshFamily, Scopes, new_code,
};
use crate::refusal::{ErrorCode, Refusal};
use crate::session::{Session, SessionKind, SessionToken};
use crate::signin::device_grant::GrantError;
use crate::signin::{Bucket, Caller, SignIn};
use crate::store::{get_ephemeral_json, put_ephemeral_json};
use crate::user::User;

/// Why an authorization request goes no further.
#[derive(Debug)]
pub enum AuthorizeRefusal {
    /// Shown to the person: the redirect URI is not trusted (yet), so nothing is sent back.
    Shown(Refusal),
    /// Sent back to the client at its (trusted) redirect URI: `redirect` carries the error.
    Redirected { redirect: String },
}

impl From<Refusal> for AuthorizeRefusal {
    fn from(refusal: Refusal) -> Self {
        Self::Shown(refusal)
    }
}

impl From<crate::store::StoreError> for AuthorizeRefusal {
    fn from(error: crate::store::StoreError) -> Self {
        Self::Shown(error.into())
    }
}

/// How a client authenticates at the token endpoint: its id, and its secret (its API key)
/// unless it is public.
pub struct ClientCredentials<'a> {
    pub client_id: &'a str,
    pub secret: Option<&'a str>,
}

/// What a web app's server gets for a code or a refresh token (RFC 6749 §5.1).
pub struct AppTokens {
    pub access_token: SecretString,
    pub expires_in_s: i64,
    pub id_token: SecretString,
    pub refresh_token: SecretString,
    pub scope: &'static str,
}

/// What a web app's access token tells the userinfo endpoint.
pub struct UserInfo {
    pub user: User,
    pub scopes: Scopes,
}

const UNKNOWN_CODE: &str = "That code is unknown, used or expired.";
const NOT_THIS_CLIENTS: &str = "That code was issued to another client or redirect URI.";
const WRONG_VERIFIER: &str = "The code_verifier does not match the code_challenge.";
const REPLAYED_CODE: &str =
    "That code was already used: the tokens it gave were revoked, as RFC 6749 §4.1.2 asks.";
const UNKNOWN_REFRESH: &str = "That refresh token is unknown, used or expired.";
const REPLAYED_REFRESH: &str = "That refresh token was already replaced: it may have leaked, so the sign-in it belongs to has ended.";

fn unknown_authorization() -> Refusal {
    Refusal::new(
        ErrorCode::NotFound,
        "This sign-in page has expired. Go back to the app and sign in again.",
    )
}

/// `redirect_uri` with `pairs` added to its query.
fn with_query(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(url) if pairs.is_empty() => url.into(),
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.into()
        }
        // Registered URIs were checked when registered: this cannot happen.
        Err(_) => redirect_uri.to_owned(),
    }
}

impl SignIn {
    /// A web app's authorization request: kept while its sign-in page shows QR codes, with
    /// the client it names; or why not, shown or sent back.
    /// Each one is kept a while: it spends the caller's network's budget for new sign-ins.
    pub async fn begin_authorization(
        &self,
        caller: &Caller,
        params: &AuthorizationParams,
    ) -> Result<(Authorization, RegisteredClient), AuthorizeRefusal> {
        self.spend(caller, Bucket::CreatePerIp, &self.network_of(caller))
            .await?;
        let client_id = params.client_id.as_deref().unwrap_or_default();
        let client = registry::load(self.store(), client_id)
            .await?
            .ok_or_else(|| Refusal::invalid("This app is not registered here (client_id)."))?;
        let redirect_uri = params.redirect_uri.as_deref().unwrap_or_default();
        if !client.redirects_to(redirect_uri) {
            return Err(Refusal::invalid(
                "The app asked to return to an address it did not register (redirect_uri), so it is not sent there.",
            )
            .into());
        }
        let checked = params.check(client_id, redirect_uri, self.now());
        let authorization = checked.map_err(|error| {
            let redirect = self.error_redirect(redirect_uri, params.state.as_deref(), &error);
            AuthorizeRefusal::Redirected { redirect }
        })?;
        put_ephemeral_json(
            self.store(),
            AUTHORIZATIONS,
            &authorization.id,
            &authorization,
            authorization.expires_at,
        )
        .await?;
        Ok((authorization, client))
    }

    /// Authorization `id`, while its page lives, with its client.
    pub async fn authorization(
        &self,
        id: &str,
    ) -> Result<(Authorization, RegisteredClient), Refusal> {
        let authorization: Authorization = get_ephemeral_json(self.store(), AUTHORIZATIONS, id)
            .await?
            .ok_or_else(unknown_authorization)?;
        let client = registry::load(self.store(), &authorization.client_id)
            .await?
            .ok_or_else(unknown_authorization)?;
        Ok((authorization, client))
    }

    /// The phone approved request `request_id`, made for authorization `authorization_id`:
    /// redeemed once, for the client, by the browser holding its desktop secret; where the
    /// browser goes now: back to the client with a code, its `state` and our `iss`.
    pub async fn complete_authorization(
        &self,
        caller: &Caller,
        authorization_id: &str,
        request_id: &RequestId,
        secret: &SecretString,
    ) -> Result<String, Refusal> {
        let (authorization, client) = self.authorization(authorization_id).await?;
        // Only a request this page made for this authorization: not another of the app's
        // (its server's, a device grant's), whose holder could otherwise mint a code.
        let request = self.owned(request_id, secret).await?;
        if request.screen.authorization.as_deref() != Some(authorization_id) {
            return Err(Refusal::new(
                ErrorCode::Forbidden,
                "This sign-in request was not made by this sign-in page.",
            ));
        }
        let signed_in = self
            .redeem_for_client(caller, request_id, secret, &client, Some("OpenID Connect"))
            .await?;
        self.take_authorization(&authorization).await?;
        let code = new_code();
        let now = self.now();
        let grant = CodeGrant {
            client_id: client.id.clone(),
            redirect_uri: authorization.redirect_uri.clone(),
            scopes: authorization.scopes,
            nonce: authorization.nonce.clone(),
            code_challenge: authorization.code_challenge.clone(),
            user: signed_in.user,
            auth_time: signed_in.approved_at,
            amr: signed_in.amr,
            ip: caller.ip.clone(),
            user_agent: caller.user_agent.clone(),
            expires_at: now.saturating_add(CODE_TTL_MS),
        };
        let key = CodeGrant::key_of(&code);
        put_ephemeral_json(self.store(), CODES, &key, &grant, grant.expires_at).await?;
        let mut pairs = vec![("code", code.as_str())];
        pairs.extend(authorization.state.as_deref().map(|state| ("state", state)));
        pairs.push(("iss", self.keys.issuer()));
        Ok(with_query(&authorization.redirect_uri, &pairs))
    }

    /// Ends authorization `authorization`: it gives one answer, a code or a refusal.
    async fn take_authorization(&self, authorization: &Authorization) -> Result<(), Refusal> {
        let done = format!("oidc-authorization-done:{}", authorization.id);
        match self
            .store()
            .use_once(&done, authorization.expires_at)
            .await?
        {
            true => Ok(()),
            false => Err(unknown_authorization()),
        }
    }

    /// The person gave up, or the phone refused: back to the client with `access_denied`.
    pub async fn abandon_authorization(&self, authorization_id: &str) -> Result<String, Refusal> {
        let (authorization, _) = self.authorization(authorization_id).await?;
        self.take_authorization(&authorization).await?;
        let denied = RedirectedError {
            error: "access_denied",
            description: "The user did not sign in.",
        };
        Ok(self.error_redirect(
            &authorization.redirect_uri,
            authorization.state.as_deref(),
            &denied,
        ))
    }

    fn error_redirect(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        error: &RedirectedError,
    ) -> String {
        let mut pairs = vec![
            ("error", error.error),
            ("error_description", error.description),
        ];
        pairs.extend(state.map(|state| ("state", state)));
        pairs.push(("iss", self.keys.issuer()));
        with_query(redirect_uri, &pairs)
    }

    /// The client that presented `credentials`, if they authenticate it.
    async fn authenticated(
        &self,
        credentials: &ClientCredentials<'_>,
    ) -> Result<RegisteredClient, GrantError> {
        registry::load(self.store(), credentials.client_id)
            .await?
            .filter(|client| client.authenticates(credentials.secret))
            .ok_or(GrantError::ClientAuthentication)
    }

    /// The token endpoint's `authorization_code` grant: the code, once, for the client it was
    /// issued to, at the redirect URI it was issued for, with the verifier of its challenge.
    pub async fn exchange_code(
        &self,
        caller: &Caller,
        credentials: &ClientCredentials<'_>,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<AppTokens, GrantError> {
        let client = self.authenticated(credentials).await?;
        let key = CodeGrant::key_of(code);
        let grant: CodeGrant = get_ephemeral_json(self.store(), CODES, &key)
            .await?
            .ok_or(GrantError::InvalidGrant(UNKNOWN_CODE))?;
        let used = format!("oidc-code-used:{key}");
        let kept_until = grant.expires_at.saturating_add(CODE_TTL_MS);
        if !self.store().use_once(&used, kept_until).await? {
            return Err(self.code_replayed(caller, &client, &grant, &key).await);
        }
        if grant.client_id != client.id || redirect_uri != Some(grant.redirect_uri.as_str()) {
            return Err(GrantError::InvalidGrant(NOT_THIS_CLIENTS));
        }
        let verifier = verifier.ok_or(GrantError::InvalidRequest(
            "code_verifier is required (PKCE).",
        ))?;
        if !grant.code_challenge.verifies(verifier) {
            return Err(GrantError::InvalidGrant(WRONG_VERIFIER));
        }
        if !flows::account_enabled(self.store(), &grant.user).await? {
            return Err(GrantError::InvalidGrant("This account is disabled."));
        }
        // What this use gives is named before it is given, so a replay racing it can end it.
        let token = SessionToken::generate();
        let gave = gave_mark(&key);
        put_ephemeral_json(self.store(), CODES, &gave, &token.session_id(), kept_until).await?;
        let (session, tokens) = self.start_app_session(&client, &grant, token).await?;
        if !self
            .store()
            .use_once(&replayed_mark(&key), kept_until)
            .await?
        {
            // A replay came while this use was giving: neither keeps anything.
            flows::end_session(self.store(), &session.id, self.now()).await?;
            return Err(GrantError::InvalidGrant(REPLAYED_CODE));
        }
        Ok(tokens)
    }

    /// A second use of a code: refused, and the first use's session ends, with its tokens,
    /// whether the first use has finished giving them (it is ended here) or not (it sees the
    /// replay's mark and ends it itself).
    async fn code_replayed(
        &self,
        caller: &Caller,
        client: &RegisteredClient,
        grant: &CodeGrant,
        key: &str,
    ) -> GrantError {
        let mut draft = self.draft(AuditEvent::Revoke, caller);
        draft
            .user(&grant.user.id)
            .client(&client.name)
            .detail("OpenID Connect code used twice: what it gave was revoked");
        let kept_until = grant.expires_at.saturating_add(CODE_TTL_MS);
        let revoked = async {
            self.store()
                .use_once(&replayed_mark(key), kept_until)
                .await?;
            self.revoke_what_code_gave(key).await
        }
        .await;
        self.record(draft, &revoked);
        match revoked {
            Ok(()) => GrantError::InvalidGrant(REPLAYED_CODE),
            Err(refusal) => GrantError::Refused(refusal),
        }
    }

    /// A code used twice: the session its first use started ends, and its tokens with it.
    async fn revoke_what_code_gave(&self, key: &str) -> Result<(), Refusal> {
        let gave = gave_mark(key);
        if let Some(session_id) = get_ephemeral_json::<String>(self.store(), CODES, &gave).await? {
            flows::end_session(self.store(), &session_id, self.now()).await?;
        }
        Ok(())
    }

    /// A session for the web app's sign-in, told to the user's dashboards, with its first
    /// tokens.
    async fn start_app_session(
        &self,
        client: &RegisteredClient,
        grant: &CodeGrant,
        token: SessionToken,
    ) -> Result<(Session, AppTokens), GrantError> {
        let now = self.now();
        let lifetimes = &self.policy.lifetimes;
        let sid = token.session_id();
        let scope = grant.scopes.as_scope();
        let (access_token, claims) = self
            .keys
            .issue_for_app(
                &client.id,
                &grant.user,
                &sid,
                scope,
                now,
                lifetimes.access_token_ttl_ms,
            )
            .map_err(internal)?;
        let mut session = Session::new(
            &token,
            SessionKind::App,
            grant.user.clone(),
            now,
            lifetimes.session_ttl_ms,
            grant.ip.clone(),
            grant.user_agent.clone(),
            Some((claims.jti.clone(), claims.exp.saturating_mul(1000))),
        );
        session.app = Some(client.name.clone());
        self.store().insert_session(&session).await?;
        flows::announce_sign_in(self.store(), &session, None).await;
        let (family, refresh_token) = RefreshFamily::start(
            &client.id,
            &sid,
            grant.user.clone(),
            grant.scopes,
            (grant.auth_time, grant.amr.clone()),
            session.expires_at,
        );
        self.keep_family(&family).await?;
        let id_token = self.app_identity(&family, grant.nonce.clone())?;
        let tokens = AppTokens {
            access_token,
            expires_in_s: claims.exp - claims.iat,
            id_token,
            refresh_token: refresh_token.into(),
            scope,
        };
        Ok((session, tokens))
    }

    fn app_identity(
        &self,
        family: &RefreshFamily,
        nonce: Option<String>,
    ) -> Result<SecretString, GrantError> {
        let now = self.now();
        let mut claims = self.keys.identity_claims(
            &family.user,
            &family.client_id,
            (family.auth_time, &family.amr),
            now,
        );
        claims.nonce = nonce;
        claims.sid = Some(family.session_id.clone());
        if !family.scopes.profile {
            claims.name = None;
        }
        self.keys.sign_app_identity(&claims).map_err(internal)
    }

    async fn keep_family(&self, family: &RefreshFamily) -> Result<(), GrantError> {
        put_ephemeral_json(
            self.store(),
            REFRESH_FAMILIES,
            &family.id,
            family,
            family.expires_at,
        )
        .await?;
        Ok(())
    }

    /// The token endpoint's `refresh_token` grant: new tokens, and the presented refresh
    /// token replaced. One already replaced ends the sign-in: it leaked, or two parties use
    /// it, and the user's session is safer ended than shared.
    pub async fn refresh_app_tokens(
        &self,
        caller: &Caller,
        credentials: &ClientCredentials<'_>,
        refresh_token: &str,
    ) -> Result<AppTokens, GrantError> {
        let client = self.authenticated(credentials).await?;
        let family = self
            .family_of(refresh_token, &client)
            .await?
            .ok_or(GrantError::InvalidGrant(UNKNOWN_REFRESH))?;
        let now = self.now();
        if flows::session_in_force(self.store(), &family.session_id, now)
            .await?
            .is_none()
        {
            return Err(GrantError::InvalidGrant(UNKNOWN_REFRESH));
        }
        let current = family.recognise(refresh_token) == Presented::Current
            && self
                .store()
                .use_once(&family.rotation_mark(), family.expires_at)
                .await?;
        if !current {
            return Err(self.replayed(caller, &family, refresh_token).await);
        }
        let (next, refresh_token) = family.rotate();
        self.keep_family(&next).await?;
        let scope = next.scopes.as_scope();
        let ttl = self.policy.lifetimes.access_token_ttl_ms;
        let (access_token, claims) = self
            .keys
            .issue_for_app(&client.id, &next.user, &next.session_id, scope, now, ttl)
            .map_err(internal)?;
        Ok(AppTokens {
            access_token,
            expires_in_s: claims.exp - claims.iat,
            id_token: self.app_identity(&next, None)?,
            refresh_token: refresh_token.into(),
            scope,
        })
    }

    /// The family `token` names, if it is `client`'s.
    async fn family_of(
        &self,
        token: &str,
        client: &RegisteredClient,
    ) -> Result<Option<RefreshFamily>, GrantError> {
        let Some(id) = RefreshFamily::id_in(token) else {
            return Ok(None);
        };
        let family: Option<RefreshFamily> =
            get_ephemeral_json(self.store(), REFRESH_FAMILIES, id).await?;
        Ok(family.filter(|family| family.client_id == client.id))
    }

    /// A refresh token that is not the family's current one: if it is one it replaced (or
    /// the current one, raced), the family ends with its session, and that is audited.
    async fn replayed(&self, caller: &Caller, family: &RefreshFamily, token: &str) -> GrantError {
        if family.recognise(token) == Presented::Unknown {
            return GrantError::InvalidGrant(UNKNOWN_REFRESH);
        }
        let mut draft = self.draft(AuditEvent::Revoke, caller);
        draft
            .user(&family.user.id)
            .detail("OpenID Connect refresh token used twice: the sign-in ended");
        let ended = self.end_family(family).await;
        self.record(draft, &ended);
        match ended {
            Ok(()) => GrantError::InvalidGrant(REPLAYED_REFRESH),
            Err(refusal) => GrantError::Refused(refusal),
        }
    }

    async fn end_family(&self, family: &RefreshFamily) -> Result<(), Refusal> {
        let now = self.now();
        flows::end_session(self.store(), &family.session_id, now).await?;
        let mut ended = family.clone();
        ended.expires_at = now;
        put_ephemeral_json(self.store(), REFRESH_FAMILIES, &family.id, &ended, now).await?;
        Ok(())
    }

    /// `/oauth/userinfo`: who a web app's access token is about, while its sign-in lasts.
    pub async fn userinfo(&self, access_token: &str) -> Result<UserInfo, Refusal> {
        let now = self.now();
        let refused = || Refusal::new(ErrorCode::Unauthenticated, "The access token is not valid.");
        let claims = self
            .keys
            .verify_app_access(access_token, now)
            .map_err(|_| refused())?;
        if self.store().is_token_revoked(&claims.jti).await?
            || flows::session_in_force(self.store(), &claims.sid, now)
                .await?
                .is_none()
        {
            return Err(refused());
        }
        let scopes = claims
            .scope
            .as_deref()
            .and_then(Scopes::parse)
            .ok_or_else(refused)?;
        Ok(UserInfo {
            user: claims.user(),
            scopes,
        })
    }

    /// RFC 7009: the client revokes one of its tokens. A refresh token ends its sign-in; an
    /// access token is revoked alone. Unknown tokens, and other clients', change nothing and
    /// are not reported (the answer is the same either way).
    pub async fn revoke_app_token(
        &self,
        credentials: &ClientCredentials<'_>,
        token: &str,
    ) -> Result<(), GrantError> {
        let client = self.authenticated(credentials).await?;
        if let Some(family) = self.family_of(token, &client).await?
            && family.recognise(token) == Presented::Current
        {
            self.end_family(&family)
                .await
                .map_err(GrantError::Refused)?;
            return Ok(());
        }
        if let Ok(claims) = self.keys.verify_app_access(token, self.now())
            && claims.aud == client.id
        {
            self.store()
                .revoke_token(&claims.jti, claims.exp.saturating_mul(1000))
                .await?;
        }
        Ok(())
    }

    /// OpenID Connect RP-initiated logout: the sign-in `id_token_hint` names ends (its
    /// session, its tokens); the browser may go back to the client only at a post-logout
    /// redirect URI it registered, exactly.
    pub async fn end_app_session(
        &self,
        caller: &Caller,
        logout: &AppLogout<'_>,
    ) -> Result<LoggedOut, Refusal> {
        let hint = logout
            .id_token_hint
            .ok_or_else(|| Refusal::invalid("id_token_hint is required to sign out of an app."))?;
        let claims = self
            .keys
            .verify_identity_hint(hint)
            .map_err(|_| Refusal::invalid("id_token_hint is not an identity token of ours."))?;
        if logout.client_id.is_some_and(|id| id != claims.aud) {
            return Err(Refusal::invalid(
                "client_id does not match the id_token_hint.",
            ));
        }
        let client = registry::load(self.store(), &claims.aud)
            .await?
            .ok_or_else(|| Refusal::invalid("The app is no longer registered here."))?;
        let back = match logout.post_logout_redirect_uri {
            Some(uri)
                if client
                    .post_logout_redirect_uris
                    .iter()
                    .any(|known| known == uri) =>
            {
                let mut pairs = Vec::new();
                pairs.extend(logout.state.map(|state| ("state", state)));
                Some(with_query(uri, &pairs))
            }
            Some(_) => {
                return Err(Refusal::invalid(
                    "The app asked to return to an address it did not register (post_logout_redirect_uri).",
                ));
            }
            None => None,
        };
        let mut draft = self.draft(AuditEvent::Logout, caller);
        draft
            .user(&claims.sub)
            .client(&client.name)
            .detail("OpenID Connect");
        let ended = match claims.sid.as_deref() {
            Some(sid) => flows::end_session(self.store(), sid, self.now())
                .await
                .map_err(Refusal::from),
            None => Ok(()),
        };
        self.record(draft, &ended);
        ended.map(|()| LoggedOut {
            back,
            app: client.name,
        })
    }
}

/// A web app's sign-in ended: where the browser goes back to (none: show a page), and the
/// app's name.
pub struct LoggedOut {
    pub back: Option<String>,
    pub app: String,
}

/// What an app's logout request says (all optional, as OpenID Connect has them).
pub struct AppLogout<'a> {
    pub id_token_hint: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// Where the first use of code `key` names the session it gives.
fn gave_mark(key: &str) -> String {
    format!("oidc-code-gave:{key}")
}

/// The mark a second use of code `key` leaves for a first use still giving.
fn replayed_mark(key: &str) -> String {
    format!("oidc-code-replayed:{key}")
}

fn internal(error: anyhow::Error) -> GrantError {
    GrantError::Refused(Refusal::internal(error))
}

#[cfg(test)]
mod tests;
