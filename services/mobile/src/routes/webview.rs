//! `GET /webview`: the MentraOS entry point. The phone app opens it with `aos_temp_token`
//! (and usually `aos_signed_user_token`) in the query. We exchange or verify them, start our
//! own session, and redirect to an address without the tokens.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use qrlogin_auth::flows;
use qrlogin_auth::session::SessionKind;
use qrlogin_auth::signin::{MentraFailure, MentraProof, MentraSignIn, SignedToken};
use qrlogin_mentra::MentraError;
use qrlogin_web::ErrorCode;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::cookies::MOBILE_SESSION;
use qrlogin_web::{ApiError, AppState};
use secrecy::SecretString;
use serde::Deserialize;

use crate::pages::{NEXT_COOKIE, message, next_path};
use crate::signed_in::signed_in_response;
use crate::startup::MentraLogin;
use qrlogin_web::i18n::Text;
use qrlogin_web::pages::message_page;

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
    t: Text,
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
                None => message(&state, &t, StatusCode::OK, "open-from-mentra"),
            });
        }
        tokens => tokens,
    };
    let Some(client_for_mentra) = mentra.0.as_ref() else {
        return Ok(message(
            &state,
            &t,
            StatusCode::SERVICE_UNAVAILABLE,
            "mentra-unset",
        ));
    };
    if let Err(refused) = state.signin.admit_webview(&client).await {
        return match refused.code {
            ErrorCode::RateLimited => Ok(rate_limited_page(&state, &t, refused.into())),
            _ => Err(refused.into()),
        };
    }
    let proof = prove(client_for_mentra, temp, signed).await;
    let page_status = proof.as_ref().err().map(status_for);
    let proof = proof.map_err(|error| MentraFailure {
        upstream: error.is_upstream(),
        reason: error.to_string(),
    });
    let existing_user = existing.as_ref().map(|session| &session.user);
    let signed_in = state
        .signin
        .mentra_sign_in(&client, existing_user, proof)
        .await;
    answer(&state, &t, &next, signed_in, page_status)
}

/// The page (or redirect) a MentraOS sign-in ends with.
fn answer(
    state: &AppState,
    t: &Text,
    next: &str,
    signed_in: Result<MentraSignIn, qrlogin_auth::refusal::Refusal>,
    page_status: Option<StatusCode>,
) -> Result<HttpResponse, ApiError> {
    match signed_in {
        Ok(MentraSignIn::SignedIn(signed_in)) => {
            let mut response = redirect(next);
            response.cookie(state.mobile_cookies().removal(NEXT_COOKIE));
            Ok(signed_in_response(state, *signed_in, response))
        }
        Ok(MentraSignIn::AlreadySignedIn) => Ok(redirect(next).finish()),
        Err(refused) => match refused.code {
            ErrorCode::Conflict => Ok(message(state, t, StatusCode::CONFLICT, "someone-else")),
            ErrorCode::Unavailable | ErrorCode::InternalError => Err(refused.into()),
            // Worded for the reader by kind (MentraOS silent, or the proof refused); the
            // use-case layer's precise English reason goes to the log for whoever runs this.
            code => {
                tracing::info!(reason = %refused.message, "MentraOS sign-in refused");
                let detail = match code {
                    ErrorCode::UpstreamError => "message-signin-failed-upstream",
                    _ => "message-signin-failed-detail",
                };
                Ok(message_page(
                    state,
                    t,
                    page_status.unwrap_or(StatusCode::UNAUTHORIZED),
                    &t.get("message-signin-failed-title"),
                    &t.get(detail),
                    None,
                ))
            }
        },
    }
}

fn rate_limited_page(state: &AppState, t: &Text, refused: ApiError) -> HttpResponse {
    let mut page = message_page(
        state,
        t,
        StatusCode::TOO_MANY_REQUESTS,
        &t.get("message-rate-limited-title"),
        &t.error(ErrorCode::RateLimited),
        None,
    );
    if let Some(seconds) = refused.retry_after_seconds {
        page.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
    }
    page
}

/// Who MentraOS says the phone is: the temporary token exchanged with the cloud, else the
/// signed user token verified offline. (Spending the signed token is the use-case layer's.)
async fn prove(
    mentra: &qrlogin_mentra::MentraClient,
    temp: Option<String>,
    signed: Option<String>,
) -> Result<MentraProof, MentraError> {
    let verify_signed = |token: &str| {
        mentra
            .verify_signed_user_token(token)
            .map(|verified| SignedToken {
                token: token.to_owned(),
                user_id: verified.user_id,
                accepted_until_s: verified.accepted_until_s,
            })
    };
    let Some(temp) = temp else {
        let token = signed.ok_or(MentraError::InvalidSignedToken("missing"))?;
        return verify_signed(&token).map(MentraProof::Signed);
    };
    match (
        mentra.exchange_temp_token(&SecretString::from(temp)).await,
        signed,
    ) {
        (Ok(user_id), signed) => Ok(MentraProof::Exchanged {
            user_id,
            signed: signed.and_then(|token| verify_signed(&token).ok()),
        }),
        // The temp token failed (not the cloud): the signed token may still prove who it is.
        (Err(error), Some(token)) if !error.is_upstream() => {
            verify_signed(&token).map(MentraProof::Signed)
        }
        (Err(error), _) => Err(error),
    }
}
