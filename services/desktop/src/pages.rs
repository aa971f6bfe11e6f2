//! The pages a person sees on the screen: the QR page and the dashboard. Scripts and styles
//! are served by us (no CDN, no inline script).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use qrlogin_auth::flows;
use qrlogin_auth::session::SessionKind;
use qrlogin_auth::signin::links::Standing;
use qrlogin_web::auth::DesktopUser;
use qrlogin_web::cookies::DESKTOP_SESSION;
use qrlogin_web::i18n::Text;
use qrlogin_web::{ApiError, AppState};

use crate::routes::device_links::held_claim;

/// What the QR page's script says as the request moves on.
const INDEX_SCRIPT: &[(&str, &[&str])] = &[
    ("screen-preparing", &[]),
    ("screen-scan-now", &[]),
    ("screen-expires-in", &["seconds"]),
    ("screen-claimed", &["code"]),
    ("screen-pin-ask", &["left"]),
    ("screen-pin-wrong", &["left"]),
    ("screen-signing-in", &[]),
    ("screen-denied-title", &[]),
    ("screen-denied-detail", &[]),
    ("screen-cancelled-title", &[]),
    ("screen-cancelled-detail", &[]),
    ("screen-locked-title", &[]),
    ("screen-locked-detail", &[]),
    ("screen-failed-title", &[]),
    ("screen-failed-detail", &[]),
];

/// What the dashboard's script says: its lists, notices, the device link and the kiosk timer.
const DASHBOARD_SCRIPT: &[(&str, &[&str])] = &[
    ("time-just-now", &[]),
    ("time-minutes-ago", &["minutes"]),
    ("session-kind-desktop", &[]),
    ("session-kind-mobile", &[]),
    ("session-kind-app", &["app"]),
    (
        "dashboard-session-row",
        &["kind", "device", "ip", "since", "seen"],
    ),
    ("dashboard-session-current", &[]),
    ("dashboard-revoke", &[]),
    ("dashboard-revoke-label", &["device", "ip"]),
    ("dashboard-revoked", &[]),
    ("activity-refused", &[]),
    ("dashboard-new-sign-in", &["device", "ip", "when"]),
    ("dashboard-revoke-that", &[]),
    ("dashboard-linked-device-in", &["device"]),
    ("dashboard-signing-out", &[]),
    ("dashboard-link-question", &["device", "ip"]),
    ("dashboard-link-allowed", &[]),
    ("dashboard-link-refused", &[]),
    ("dashboard-link-wrong-code", &["left"]),
    ("dashboard-link-type-code", &[]),
    ("dashboard-kiosk-idle", &["total", "left"]),
    ("dashboard-kiosk-signing-out", &[]),
    ("event-redeem", &[]),
    ("event-phone-sign-in", &[]),
    ("event-claim", &[]),
    ("event-approve", &[]),
    ("event-deny", &[]),
    ("event-pin", &[]),
    ("event-lock", &[]),
    ("event-logout", &[]),
    ("event-logout-everywhere", &[]),
    ("event-revoke", &[]),
    ("event-cancel", &[]),
    ("event-create", &[]),
    ("event-rate-limited", &[]),
    ("event-token-rejected", &[]),
    ("event-account-created", &[]),
    ("event-account-disabled", &[]),
    ("event-account-enabled", &[]),
    ("event-account-password-changed", &[]),
    ("event-account-removed", &[]),
    ("event-passkey-added", &[]),
    ("event-passkey-removed", &[]),
    ("event-passkeys-reset", &[]),
    ("passkey-asking", &[]),
    ("passkey-unsupported", &[]),
    ("passkey-cancelled", &[]),
];

/// What the link page's script says while a new device waits to be allowed.
const LINK_SCRIPT: &[(&str, &[&str])] = &[
    ("link-asking", &[]),
    ("link-waiting", &[]),
    ("link-allowed", &[]),
    ("link-denied", &[]),
    ("link-spent", &[]),
    ("link-unusable", &[]),
];

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage<'a> {
    t: &'a Text,
    script_text: String,
    app_name: &'a str,
    /// A web app's sign-in (OpenID Connect): its codes are made for it, and an approval
    /// goes back to it instead of to the dashboard.
    authorization: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage<'a> {
    t: &'a Text,
    script_text: String,
    app_name: &'a str,
    name: &'a str,
    /// "demo (local account)", "Mentra account": never the internal id.
    account: String,
    since_ms: i64,
    /// The same instant in UTC (RFC 3339): shown until the script writes it in local time.
    since_utc: String,
    ip: &'a str,
    /// KIOSK_IDLE_TIMEOUT in ms (0: off).
    idle_ms: u128,
}

fn html(body: String) -> HttpResponse {
    qrlogin_web::pages::html(actix_web::http::StatusCode::OK, body)
}

/// `GET /`: the QR code, the typed code, a countdown and the live status.
pub async fn index(state: web::Data<AppState>, t: Text) -> Result<HttpResponse, ApiError> {
    sign_in_page(&t, &state.settings.app_name, None)
}

/// A web app's sign-in (OpenID Connect): its id, and the origin of the address the browser
/// goes back to.
pub struct ForApp<'a> {
    pub authorization: &'a str,
    pub returns_to: &'a str,
}

/// The QR page, signing in to `app_name`: this deployment, or a web app.
pub fn sign_in_page(
    t: &Text,
    app_name: &str,
    app: Option<ForApp<'_>>,
) -> Result<HttpResponse, ApiError> {
    let page = IndexPage {
        script_text: t.for_script(INDEX_SCRIPT),
        t,
        app_name,
        authorization: app.as_ref().map(|app| app.authorization),
    };
    let mut response = html(page.render().map_err(ApiError::internal)?);
    if let Some(app) = app {
        // The approval is a form post answered with a redirect to the app.
        qrlogin_web::http::allow_forms_to(&mut response, app.returns_to);
    }
    Ok(response)
}

/// `GET /dashboard`: who is signed in on this screen; without a session, back to the QR.
pub async fn dashboard(
    state: web::Data<AppState>,
    request: HttpRequest,
    t: Text,
) -> Result<HttpResponse, ApiError> {
    let cookie = state.desktop_cookies().read(&request, DESKTOP_SESSION);
    let session = match cookie {
        Some(cookie) => {
            flows::session_from_cookie(&*state.store, &cookie, SessionKind::Desktop, state.now())
                .await?
        }
        None => None,
    };
    let Some(session) = session else {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/"))
            .finish());
    };
    let page = DashboardPage {
        script_text: t.for_script(DASHBOARD_SCRIPT),
        account: account_of(&t, &session.user.id),
        t: &t,
        app_name: &state.settings.app_name,
        name: &session.user.name,
        since_ms: session.created_at,
        since_utc: utc(session.created_at),
        ip: &session.ip,
        idle_ms: state
            .settings
            .kiosk_idle_timeout
            .map_or(0, |idle| idle.as_millis()),
    };
    Ok(html(page.render().map_err(ApiError::internal)?))
}

/// `ms` since the Unix epoch as "2026-12-02T20:02:14Z".
fn utc(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0).unsigned_abs());
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The account as its owner knows it: the username of a local account, or "Mentra account".
fn account_of(t: &Text, user_id: &str) -> String {
    match user_id.strip_prefix("local:") {
        Some(username) => t.with("account-local", &[("username", username)]),
        None => t.get("account-mentra"),
    }
}

/// Where a browser opening a link stands, which decides what the link page offers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LinkStep {
    /// "Sign in as Bob?" and a button: nothing is claimed before the click.
    Ask,
    /// This browser clicked already: it shows its code again and waits.
    Claimed,
    /// Already signed in as the link's user.
    Same,
    /// Signed in as someone else: never switched; told to sign out first.
    Other,
    /// The link cannot be used (unknown, used, expired).
    Gone,
}

#[derive(Template)]
#[template(path = "link.html")]
struct LinkPage<'a> {
    t: &'a Text,
    script_text: String,
    app_name: &'a str,
    id: &'a str,
    step: LinkStep,
    /// Whose account the link signs into.
    account: &'a str,
    /// Why the link cannot be used here.
    message: String,
}

impl LinkPage<'_> {
    fn step_name(&self) -> &'static str {
        match self.step {
            LinkStep::Ask => "ask",
            LinkStep::Claimed => "claimed",
            LinkStep::Same => "same",
            LinkStep::Other => "other",
            LinkStep::Gone => "gone",
        }
    }
}

/// `GET /link/{id}`: the page a device opens from a "sign in on another device" code. It says
/// whose account the link signs into and waits for a click before its script claims anything
/// (so link previews and a page opened by accident spend nothing). A browser signed in as
/// someone else is told so and offered nothing.
pub async fn link(
    state: web::Data<AppState>,
    request: HttpRequest,
    browser: Option<DesktopUser>,
    id: web::Path<String>,
    t: Text,
) -> Result<HttpResponse, ApiError> {
    // A link id is base64url; anything else is no link of ours (and goes nowhere near a URL).
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::new(
            qrlogin_web::ErrorCode::InvalidQrCode,
            "This is not a sign-in link of ours.",
        ));
    }
    let browser = browser.map(|DesktopUser(caller)| caller.user);
    let held = held_claim(&state, &request, &id);
    let offer = state
        .signin
        .link_offer(
            &id,
            browser.as_ref(),
            held.as_ref().map(|held| held.secret.as_str()),
        )
        .await;
    let (step, account, message) = match offer {
        Ok(offer) => {
            let account = offer.link.user.name;
            match (&offer.standing, offer.claimed_here) {
                (Standing::SomeoneElse(current), _) => {
                    let names = [("current", current.name.as_str()), ("account", &account)];
                    let message = t.with("link-other-lead", &names);
                    (LinkStep::Other, account, message)
                }
                (Standing::SameUser, _) => (LinkStep::Same, account, String::new()),
                (Standing::SignedOut, true) => (LinkStep::Claimed, account, String::new()),
                (Standing::SignedOut, false) => (LinkStep::Ask, account, String::new()),
            }
        }
        Err(refused) if refused.code == qrlogin_web::ErrorCode::InvalidQrCode => {
            (LinkStep::Gone, String::new(), t.get("link-gone-lead"))
        }
        Err(refused) => return Err(refused.into()),
    };
    let page = LinkPage {
        script_text: t.for_script(LINK_SCRIPT),
        t: &t,
        app_name: &state.settings.app_name,
        id: &id,
        step,
        account: &account,
        message,
    };
    let mut response = html(page.render().map_err(ApiError::internal)?);
    if step == LinkStep::Gone {
        *response.status_mut() = actix_web::http::StatusCode::BAD_REQUEST;
    }
    Ok(response)
}

/// `GET /assets/{file}`: the page scripts and the stylesheet, compiled into the binary.
pub async fn asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    qrlogin_web::pages::asset(
        &file,
        &[
            ("desktop.js", include_str!("../assets/desktop.js")),
            ("dashboard.js", include_str!("../assets/dashboard.js")),
            ("link.js", include_str!("../assets/link.js")),
        ],
    )
}
