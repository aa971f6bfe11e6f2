//! What both services' pages share: the HTML response, the stylesheet, the message script and
//! the favicon (compiled in, served by us: no CDN, no inline script), and the page that says
//! one thing with one next step, which is also what a browser gets for an address that has
//! no page or a request that failed.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::i18n::Text;

/// The stylesheet both services' pages use.
pub const STYLESHEET: &str = include_str!("../assets/style.css");
/// `window.qrlogin`: the page's messages for its script (see [`Text::for_script`]) and the
/// API call every page script makes.
const PAGE_SCRIPT: &str = include_str!("../assets/page.js");
const FAVICON: &str = include_str!("../assets/favicon.svg");

/// A page: HTML, never cached (it shows who is signed in), in the language the request asked
/// for (so a cache in between must not mix languages).
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Accept-Language"))
        .body(body)
}

/// `GET /assets/{file}`: the stylesheet, the message script, or one of the service's own
/// `scripts`, all compiled in.
pub fn asset(file: &str, scripts: &[(&str, &'static str)]) -> Result<HttpResponse, ApiError> {
    let (body, content_type) = match file {
        "style.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "page.js" => (PAGE_SCRIPT, "text/javascript; charset=utf-8"),
        _ => scripts
            .iter()
            .find(|(name, _)| *name == file)
            .map(|(_, body)| (*body, "text/javascript; charset=utf-8"))
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "No such asset."))?,
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(body))
}

/// `GET /favicon.svg` (and `/favicon.ico`, which browsers ask for on their own).
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

/// The routes every service has besides its own.
pub fn common_routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/favicon.svg").get(favicon))
        .service(web::resource("/favicon.ico").get(favicon));
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    t: &'a Text,
    app_name: &'a str,
    title: &'a str,
    message: &'a str,
    /// The one thing to do next: where and its label.
    next_step: Option<(&'a str, String)>,
    /// The request id of a failed request, for the person to quote.
    reference: Option<&'a str>,
}

/// A page that says one thing: a heading, a sentence, and at most one next step.
pub fn message_page(
    state: &AppState,
    t: &Text,
    status: StatusCode,
    title: &str,
    message: &str,
    next_step: Option<(&str, String)>,
) -> HttpResponse {
    let page = MessagePage {
        t,
        app_name: &state.settings.app_name,
        title,
        message,
        next_step,
        reference: None,
    };
    render(&page, status)
}

fn render(page: &MessagePage<'_>, status: StatusCode) -> HttpResponse {
    match page.render() {
        Ok(body) => html(status, body),
        Err(_) => HttpResponse::build(status).body(page.message.to_owned()),
    }
}

/// Whether the request is a browser opening a page (its `Accept` puts HTML first), which is
/// answered an error page rather than the API's JSON.
pub fn wants_a_page(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.trim_start().starts_with("text/html"))
}

/// The page a browser gets for a failed request: what went wrong in words, the way back, and
/// the request id to quote.
pub fn error_page(
    request: &HttpRequest,
    status: StatusCode,
    code: ErrorCode,
    request_id: Option<&str>,
) -> Option<HttpResponse> {
    let state = request.app_data::<web::Data<AppState>>()?;
    let t = Text::of_request(state, request);
    let (title, message) = match code {
        ErrorCode::NotFound => (
            t.get("page-not-found-title"),
            t.get("page-not-found-detail"),
        ),
        other => (t.get("page-error-title"), t.error(other)),
    };
    let page = MessagePage {
        t: &t,
        app_name: &state.settings.app_name,
        title: &title,
        message: &message,
        next_step: Some(("/", t.get("page-go-home"))),
        reference: request_id,
    };
    Some(render(&page, status))
}
