//! Authentication as extractors: a handler that takes `DesktopUser` or `MobileUser` can
//! only run for a signed-in caller; everyone else gets 401 in the one error shape.

use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use qrlogin_auth::User;
use qrlogin_auth::client::RegisteredClient;
use qrlogin_auth::flows;
use qrlogin_auth::session::SessionKind;
use qrlogin_auth::tokens::AccessClaims;

use crate::client::ClientInfo;
use crate::cookies::{DESKTOP_SESSION, MOBILE_SESSION};
use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in caller: who, on which session, and the access token if that is how they came.
#[derive(Clone, Debug)]
pub struct SignedInUser {
    pub user: User,
    pub session_id: String,
    /// When the caller came with the session cookie: when that session started.
    pub session_started_at: Option<i64>,
    pub access_token: Option<AccessClaims>,
}

/// The caller of the desktop service: its session cookie, or `Authorization: Bearer <access token>`.
pub struct DesktopUser(pub SignedInUser);

/// The caller of the mobile service: its session cookie.
pub struct MobileUser(pub SignedInUser);

fn state(request: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    request
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState is not registered")))
}

pub fn bearer_token(request: &HttpRequest) -> Option<String> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn from_cookie(
    state: &AppState,
    request: &HttpRequest,
    kind: SessionKind,
) -> Result<Option<SignedInUser>, ApiError> {
    let (policy, name) = match kind {
        SessionKind::Desktop => (state.desktop_cookies(), DESKTOP_SESSION),
        SessionKind::Mobile => (state.mobile_cookies(), MOBILE_SESSION),
        // A web app's session is never a cookie of ours.
        SessionKind::App => return Ok(None),
    };
    let Some(cookie) = policy.read(request, name) else {
        return Ok(None);
    };
    let session = flows::session_from_cookie(&*state.store, &cookie, kind, state.now()).await?;
    Ok(session.map(|s| SignedInUser {
        user: s.user,
        session_id: s.id,
        session_started_at: Some(s.created_at),
        access_token: None,
    }))
}

async fn desktop_user(request: HttpRequest) -> Result<SignedInUser, ApiError> {
    let state = state(&request)?;
    if let Some(token) = bearer_token(&request) {
        let client = ClientInfo::from_request(&request, &state.settings.trust_proxy);
        let claims = state.signin.authenticate_bearer(&client, &token).await?;
        return Ok(SignedInUser {
            user: claims.user(),
            session_id: claims.sid.clone(),
            session_started_at: None,
            access_token: Some(claims),
        });
    }
    from_cookie(&state, &request, SessionKind::Desktop)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("You are not signed in on this screen."))
}

/// The registered client calling server to server (`Authorization: Bearer qrk_…`), if
/// any. A key that is wrong, rotated or for a removed client is refused (401, audited, and
/// counted against the IP's budget for refused tokens), never taken for "no client".
pub struct ApiClient(pub Option<RegisteredClient>);

async fn api_client(request: HttpRequest) -> Result<ApiClient, ApiError> {
    let Some(key) = bearer_token(&request) else {
        return Ok(ApiClient(None));
    };
    let state = state(&request)?;
    let client = ClientInfo::from_request(&request, &state.settings.trust_proxy);
    let registered = state.signin.authenticate_client(&client, &key).await?;
    Ok(ApiClient(Some(registered)))
}

impl FromRequest for ApiClient {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(api_client(request))
    }
}

async fn mobile_user(request: HttpRequest) -> Result<SignedInUser, ApiError> {
    let state = state(&request)?;
    from_cookie(&state, &request, SessionKind::Mobile)
        .await?
        .ok_or_else(|| ApiError::unauthenticated("You are not signed in on this phone. Open qrlogin from the MentraOS app, or sign in."))
}

impl FromRequest for DesktopUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move { desktop_user(request).await.map(Self) })
    }
}

impl FromRequest for MobileUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move { mobile_user(request).await.map(Self) })
    }
}
