//! `GET /webview`: the MentraOS entry point. The phone app opens it with `aos_temp_token`
//! (and usually `aos_signed_user_token`) in the query. We exchange or verify them, start our
//! own session, and redirect to an address without the tokens.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::User;
use qrlogin_auth::audit::AuditEvent;
use qrlogin_auth::flows;
use qrlogin_auth::session::SessionKind;
use qrlogin_mentra::MentraError;
use qrlogin_web::ErrorCode;
use qrlogin_web::audit::Audit;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::cookies::MOBILE_SESSION;
use qrlogin_web::limits::{self, Bucket};
use qrlogin_web::{ApiError, AppState};
use secrecy::SecretString;
use serde::Deserialize;

use super::local::signed_in_response;
use crate::pages::{NEXT_COOKIE, message_page, next_path};
use crate::startup::MentraLogin;

/// The parameters MentraOS appends. `cloudApiUrl` and friends are ignored on purpose: they
/// can be forged (platform.md §7); the cloud URL comes from our configuration only.
#[derive(Deserialize)]
pub struct WebviewQuery {
    aos_temp_token: Option<String>,
    aos_signed_user_token: Option<String>,
}

fn redirect(to: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, to.to_owned()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

fn status_for(error: &MentraError) -> StatusCode {
    match error {
        MentraError::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
        MentraError::BadCredentials(_) | MentraError::Upstream(_) => StatusCode::BAD_GATEWAY,
        _ => StatusCode::UNAUTHORIZED,
    }
}

#[tracing::instrument(name = "MentraOS webview sign-in", skip_all)]
pub async fn webview(
    state: web::Data<AppState>,
    mentra: web::Data<MentraLogin>,
    request: HttpRequest,
    client: ClientInfo,
    query: web::Query<WebviewQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let next = next_path(&state, &request);
    let cookie = state.mobile_cookies().read(&request, MOBILE_SESSION);
    let existing = match cookie {
        Some(cookie) => {
            flows::session_from_cookie(&*state.store, &cookie, SessionKind::Mobile, state.now())
                .await?
        }
        None => None,
    };
    let present = |token: Option<String>| token.filter(|t| !t.trim().is_empty());
    let (temp, signed) = match (
        present(query.aos_temp_token),
        present(query.aos_signed_user_token),
    ) {
        (None, None) => {
            return Ok(match existing {
                Some(_) => redirect(&next).finish(),
                None => message_page(
                    &state,
                    StatusCode::OK,
                    "Open this from MentraOS",
                    "Open this app from the MentraOS app on your phone to sign in with your Mentra account.",
                ),
            });
        }
        tokens => tokens,
    };
    let Some(client_for_mentra) = mentra.0.as_ref() else {
        return Ok(message_page(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            "MentraOS sign-in is not set up",
            "This server has no MentraOS app credentials (PACKAGE_NAME, MENTRAOS_API_KEY). Ask its operator.",
        ));
    };
    // Each attempt can cost a call to the MentraOS cloud: a per-IP budget applies.
    if let Err(refused) = limits::spend(&state, &client, Bucket::WebviewPerIp, &client.ip).await {
        if refused.code != ErrorCode::RateLimited {
            return Err(refused);
        }
        let mut page = message_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts",
            &refused.message,
        );
        if let Some(seconds) = refused.retry_after_seconds {
            page.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        return Ok(page);
    }
    // A signed token is good for 10 minutes and has no id of its own: it is used once, keyed
    // by its hash, so a leaked /webview address cannot be replayed into new sessions.
    let use_signed_once = async |token: &str| -> Result<bool, ApiError> {
        let key = format!(
            "mentra-signed:{}",
            qrlogin_auth::secret::public_id_of(token)
        );
        let lifetime_s =
            i64::try_from(qrlogin_mentra::USER_TOKEN_LEEWAY_SECONDS).unwrap_or(120) + 600;
        Ok(state
            .store
            .use_once(&key, state.now() + lifetime_s * 1000)
            .await?)
    };
    let verify_signed = async || -> Result<Result<String, MentraError>, ApiError> {
        let Some(token) = &signed else {
            return Ok(Err(MentraError::InvalidSignedToken("missing")));
        };
        let verified = client_for_mentra.verify_signed_user_token(token);
        if verified.is_ok() && !use_signed_once(token).await? {
            return Ok(Err(MentraError::TokenUsed));
        }
        Ok(verified)
    };
    let outcome = match temp {
        Some(temp) => match client_for_mentra
            .exchange_temp_token(&SecretString::from(temp))
            .await
        {
            Ok(user_id) => {
                // The signed token that came with it is spent with it.
                if let Some(token) = &signed {
                    use_signed_once(token).await?;
                }
                Ok(user_id)
            }
            // The temp token failed (not the cloud): the signed token may still prove who it is.
            Err(error) if !error.is_upstream() && signed.is_some() => verify_signed().await?,
            Err(error) => Err(error),
        },
        None => verify_signed().await?,
    };
    let mut audit = Audit::of(&state, &client, AuditEvent::PhoneSignIn);
    audit.detail("MentraOS");
    if let Ok(user_id) = &outcome {
        audit.user(&User::mentra(user_id).id);
    }
    match outcome {
        // A phone signed in as someone is never switched to another account by a link.
        Ok(user_id)
            if existing
                .as_ref()
                .is_some_and(|s| s.user.id != User::mentra(&user_id).id) =>
        {
            audit.record_as(&state, Some(ErrorCode::Conflict)).await;
            Ok(message_page(
                &state,
                StatusCode::CONFLICT,
                "Signed in as someone else",
                "This phone is already signed in with another account. Sign out first if you want to switch.",
            ))
        }
        Ok(user_id) => {
            let user = User::mentra(&user_id);
            let mut response = redirect(&next);
            response.cookie(state.mobile_cookies().removal(NEXT_COOKIE));
            let response = signed_in_response(&state, user, &client, response).await;
            audit.record(&state, &response).await;
            response
        }
        // The same page reloaded with its used token: the session we already gave continues.
        Err(error) if existing.is_some() && !error.is_upstream() => Ok(redirect(&next).finish()),
        Err(error) => {
            tracing::info!(%error, "MentraOS sign-in refused");
            if error.is_upstream() {
                audit
                    .record_as(&state, Some(ErrorCode::UpstreamError))
                    .await;
            } else {
                let mut rejected = Audit::of(&state, &client, AuditEvent::TokenRejected);
                rejected.detail(format!("MentraOS: {error}"));
                rejected
                    .record_as(&state, Some(ErrorCode::Unauthenticated))
                    .await;
            }
            Ok(message_page(
                &state,
                status_for(&error),
                "Sign-in did not work",
                &format!("{error}. Close this page and open the app again from MentraOS."),
            ))
        }
    }
}
