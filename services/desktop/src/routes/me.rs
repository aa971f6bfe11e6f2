//! `GET /api/me`, `POST /api/logout`, `GET /.well-known/jwks.json`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use qrlogin_auth::signin::{SignOutScope, SignedInCaller};
use qrlogin_web::auth::DesktopUser;
use qrlogin_web::cookies::DESKTOP_SESSION;
use qrlogin_web::json::JsonObject;
use qrlogin_web::{ApiError, AppState};
use serde::Serialize;

use qrlogin_auth::audit::{AuditEvent, AuditQuery};
use qrlogin_web::client::{ClientInfo, DeviceName, describe_user_agent};
use qrlogin_web::openapi::IdPath;
use serde::Deserialize;

#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    user: qrlogin_auth::User,
    session_id: String,
    /// Milliseconds since the epoch, when the caller came with the session cookie.
    signed_in_at: Option<i64>,
}

/// `GET /api/me`: who the caller is.
#[utoipa::path(get, path = "/api/me", tag = "account",
    security(("desktop_session" = []), ("access_token" = [])),
    responses(
        (status = 200, description = "The signed-in user and the session in use.", body = Me),
        (status = 401, description = "Not signed in, or the session or token has ended."),
    ))]
pub async fn me(DesktopUser(caller): DesktopUser) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Me {
            user: caller.user,
            session_id: caller.session_id,
            signed_in_at: caller.session_started_at,
        })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutBody {
    /// End every session and token of this user, on every device, not just this one.
    #[serde(default)]
    everywhere: bool,
}

/// Ends the session and its access token at once, whichever of the two the caller used; with
/// `{"everywhere": true}`, every session and token of the user.
#[utoipa::path(post, path = "/api/logout", tag = "account",
    request_body = LogoutBody, security(("desktop_session" = []), ("access_token" = [])),
    responses(
        (status = 204, description = "Signed out: the cookie is removed and the token no longer works."),
        (status = 401, description = "Not signed in."),
    ))]
pub async fn logout(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
    client: ClientInfo,
    body: JsonObject<LogoutBody>,
) -> Result<HttpResponse, ApiError> {
    let scope = match body.everywhere {
        true => SignOutScope::Everywhere,
        false => SignOutScope::ThisSession,
    };
    let who = SignedInCaller {
        user: &caller.user,
        session_id: &caller.session_id,
        access_token: caller.access_token.as_ref(),
    };
    state.signin.sign_out(&client, who, scope).await?;
    Ok(HttpResponse::NoContent()
        .cookie(state.desktop_cookies().removal(DESKTOP_SESSION))
        .finish())
}

/// `GET /.well-known/jwks.json`: the keys tokens are signed with.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "OAuth and OpenID Connect",
    responses((status = 200, description = "The JSON Web Key Set (RFC 7517) of every key that may still have live tokens: Ed25519 keys (`OKP`, `EdDSA`) and RSA keys (`RS256`).", body = Object)))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(state.keys.jwks())
}

#[derive(Serialize, utoipa::ToSchema)]
struct SessionView {
    id: String,
    kind: qrlogin_auth::session::SessionKind,
    /// "Firefox on Linux".
    device: String,
    /// `device`'s parts, for a page to word in its reader's language.
    device_name: DeviceName,
    ip: String,
    created_at: i64,
    expires_at: i64,
    /// When the session was last used (to the minute).
    last_seen_at: i64,
    /// The session the caller is using.
    current: bool,
    /// A web app's sign-in (OpenID Connect): the app's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<String>,
}

/// The caller's sessions.
#[derive(Serialize, utoipa::ToSchema)]
struct Sessions {
    sessions: Vec<SessionView>,
}

/// `GET /api/sessions`: the caller's sessions on every device.
#[utoipa::path(get, path = "/api/sessions", tag = "account",
    security(("desktop_session" = []), ("access_token" = [])),
    responses(
        (status = 200, description = "Every session of the caller's, on every device, the one in use marked `current`.", body = Sessions),
        (status = 401, description = "Not signed in."),
    ))]
pub async fn sessions(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
) -> Result<HttpResponse, ApiError> {
    let sessions = state.store.list_sessions(&caller.user.id).await?;
    let views: Vec<SessionView> = sessions
        .into_iter()
        .map(|s| SessionView {
            current: s.id == caller.session_id,
            last_seen_at: s.last_seen(),
            device: describe_user_agent(&s.user_agent),
            device_name: DeviceName::of(&s.user_agent),
            id: s.id,
            kind: s.kind,
            ip: s.ip,
            created_at: s.created_at,
            expires_at: s.expires_at,
            app: s.app,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Sessions { sessions: views }))
}

/// `DELETE /api/sessions/{id}`: ends one of the caller's own sessions (and its token).
#[utoipa::path(delete, path = "/api/sessions/{id}", tag = "account",
    params(IdPath), security(("desktop_session" = []), ("access_token" = [])),
    responses(
        (status = 204, description = "Ended: that device is signed out at once."),
        (status = 401, description = "Not signed in."),
        (status = 404, description = "No such session of the caller's."),
    ))]
pub async fn revoke_session(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
    client: ClientInfo,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .signin
        .revoke_session(&client, &caller.user, &id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How many of the user's own audit records the dashboard shows.
const ACTIVITY_SHOWN: usize = 20;

#[derive(Serialize, utoipa::ToSchema)]
struct ActivityView {
    at: i64,
    event: AuditEvent,
    outcome: String,
    /// "Firefox on Linux".
    device: String,
    /// `device`'s parts, for a page to word in its reader's language.
    device_name: DeviceName,
    ip: Option<String>,
}

/// The caller's recent activity.
#[derive(Serialize, utoipa::ToSchema)]
struct Activity {
    activity: Vec<ActivityView>,
}

/// `GET /api/me/activity`: the user's own recent sign-ins and other account activity,
/// newest first, from the audit trail.
#[utoipa::path(get, path = "/api/me/activity", tag = "account",
    security(("desktop_session" = []), ("access_token" = [])),
    responses(
        (status = 200, description = "The caller's 20 latest audit records, newest first.", body = Activity),
        (status = 401, description = "Not signed in."),
    ))]
pub async fn activity(
    state: web::Data<AppState>,
    DesktopUser(caller): DesktopUser,
) -> Result<HttpResponse, ApiError> {
    let query = AuditQuery {
        user: Some(caller.user.id),
        limit: ACTIVITY_SHOWN,
        newest_first: true,
        ..Default::default()
    };
    let entries = state.store.read_audit(&query).await?;
    let views: Vec<ActivityView> = entries
        .into_iter()
        .map(|e| ActivityView {
            at: e.record.at,
            event: e.record.event,
            outcome: e.record.outcome,
            device: describe_user_agent(e.record.user_agent.as_deref().unwrap_or_default()),
            device_name: DeviceName::of(e.record.user_agent.as_deref().unwrap_or_default()),
            ip: e.record.ip,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Activity { activity: views }))
}
