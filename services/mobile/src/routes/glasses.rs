//! The MentraOS cloud's calls: `POST /webhook` (a wearer's session starts or stops) and
//! `POST /photo-upload` (the photo the glasses took when asked).

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use qrlogin_auth::refusal::Refusal;
use qrlogin_mentra::app::Webhook;
use qrlogin_web::auth::bearer_token;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::{ApiError, AppState, ErrorCode};

use crate::frames::{FrameReader, MAX_FRAME_BYTES, Reader};
use crate::glasses::{Glasses, StartError};

/// What the MentraOS SDK answers; the cloud only looks at the status.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Acknowledged {
    #[schema(examples("success"))]
    status: &'static str,
}

fn success() -> HttpResponse {
    HttpResponse::Ok().json(Acknowledged { status: "success" })
}

/// `POST /webhook`. Unsigned, so it can only make us dial an allow-listed cloud, where our
/// API key and the cloud's acknowledgement decide whether the session is real. Answered once
/// the socket is acknowledged (the cloud retries a failure once, a second later).
#[utoipa::path(post, path = "/webhook", tag = "MentraOS",
    request_body(content = Webhook, description = "What the MentraOS cloud posts when a wearer starts or stops this app."),
    responses(
        (status = 200, description = "Acknowledged: for a session, once the cloud acknowledged our socket.", body = Acknowledged),
        (status = 400, description = "Not a MentraOS webhook."),
        (status = 429, description = "Too many webhooks from this network."),
        (status = 502, description = "The cloud did not acknowledge the session."),
        (status = 404, description = "Mentra Live sign-in is off on this server."),
        (status = 503, description = "This instance is shutting down: the cloud's retry goes to another."),
    ))]
#[tracing::instrument(name = "MentraOS webhook", skip_all)]
pub async fn webhook(
    state: web::Data<AppState>,
    glasses: web::Data<Glasses>,
    client: ClientInfo,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // Every call spends, whatever it says: an unsigned endpoint is a flooding point.
    state.signin.admit_webhook(&client).await?;
    let hook: Webhook = serde_json::from_slice(&body).map_err(|_| {
        ApiError::invalid(
            "Expected a MentraOS webhook: a session_request or stop_request with its sessionId.",
        )
    })?;
    refuse_odd_session_ids(&hook)?;
    match hook {
        Webhook::StopRequest(stop) => {
            // Nothing is stopped on the word of an unsigned request: the cloud follows it
            // with `app_stopped` and a close on the session's own socket, which ends it.
            tracing::info!(session = ?stop.session_id, reason = ?stop.reason, held = glasses.holds(&stop.session_id), "MentraOS says a session stops");
            Ok(success())
        }
        Webhook::SessionRequest(_) if state.shutdown.is_draining() => {
            // The cloud retries a second later, and the load balancer, seeing `/readyz`
            // fail, sends that retry to an instance that is staying.
            Err(ApiError::new(
                ErrorCode::Unavailable,
                "This instance is shutting down; another will take the session.",
            ))
        }
        Webhook::SessionRequest(request) => {
            let started = glasses
                .clone()
                .into_inner()
                .start(state.clone().into_inner(), &request, &client.ip)
                .await;
            match started {
                Ok(()) => Ok(success()),
                // Not served here, for good: a 5xx would have the cloud retry in vain.
                Err(StartError::Off) => Err(ApiError::new(
                    ErrorCode::NotFound,
                    "Mentra Live sign-in is off on this server: set PACKAGE_NAME and MENTRAOS_API_KEY.",
                )),
                Err(StartError::NoSocket) => Err(ApiError::invalid(
                    "The session_request names no websocketUrl.",
                )),
                Err(StartError::HostNotAllowed(why)) => {
                    tracing::warn!(session = ?request.session_id, %why, "webhook refused");
                    Err(ApiError::new(
                        ErrorCode::Forbidden,
                        format!("Refused: {why}."),
                    ))
                }
                Err(StartError::Socket(error)) => {
                    // What the cloud said stays in our log: repeated to the caller, it would
                    // tell anyone whether an address has a live MentraOS session.
                    tracing::warn!(session = ?request.session_id, %error, "cannot open the app socket");
                    Err(ApiError::new(
                        ErrorCode::UpstreamError,
                        "The MentraOS app socket could not be opened.",
                    ))
                }
                Err(StartError::NotTheWearers(why)) => Err(ApiError::invalid(why)),
            }
        }
    }
}

/// MentraOS names a session `{userId}-{packageName}`: anything longer, or with control
/// characters (a newline would forge a log line), is not from the cloud.
fn refuse_odd_session_ids(hook: &Webhook) -> Result<(), ApiError> {
    const LONGEST: usize = 320;
    let session_id = hook.session_id();
    if session_id.is_empty()
        || session_id.len() > LONGEST
        || session_id.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "The sessionId is not one MentraOS makes: 1 to 320 printable characters.",
        ));
    }
    Ok(())
}

/// The parts of an upload we use.
#[derive(Default)]
struct Upload {
    request_id: Option<String>,
    photo: Option<(Option<String>, web::Bytes)>,
    /// `type=photo_error` or `success=false`: the glasses report a failure instead.
    failed: bool,
}

/// The longest text part read (ids, flags, error messages).
const MAX_TEXT_PART: usize = 1024;
/// The glasses send four parts, the phone's Bluetooth fallback three.
const MAX_PARTS: usize = 16;

async fn read_upload(mut payload: Multipart) -> Result<Upload, ApiError> {
    let bad = |what: &str| ApiError::invalid(format!("The upload could not be read: {what}."));
    let mut upload = Upload::default();
    let mut parts = 0;
    while let Some(mut field) = payload.try_next().await.map_err(|e| bad(&e.to_string()))? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(bad("too many parts"));
        }
        let name = field.name().unwrap_or_default().to_owned();
        if name == "photo" && upload.photo.is_some() {
            return Err(bad("more than one photo"));
        }
        let limit = if name == "photo" {
            MAX_FRAME_BYTES
        } else {
            MAX_TEXT_PART
        };
        let content_type = field.content_type().map(ToString::to_string);
        let mut bytes = web::BytesMut::new();
        while let Some(chunk) = field.try_next().await.map_err(|e| bad(&e.to_string()))? {
            if bytes.len() + chunk.len() > limit {
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    format!("The `{name}` part is larger than {limit} bytes."),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&bytes).trim().to_owned();
        match name.as_str() {
            "requestId" => upload.request_id = Some(text()),
            "photo" => upload.photo = Some((content_type, bytes.freeze())),
            "type" if text() == "photo_error" => upload.failed = true,
            "success" if text() == "false" => upload.failed = true,
            _ => {}
        }
    }
    Ok(upload)
}

/// The glasses' upload, as the MentraOS SDK sends it.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)] // Read part by part (`read_upload`); this names the parts for the document.
struct PhotoUploadForm {
    /// The id the photo was asked for with.
    request_id: String,
    /// The picture (JPEG).
    #[schema(value_type = Option<String>, format = Binary)]
    photo: Option<Vec<u8>>,
    /// `photo_error` when the glasses could not take the picture.
    r#type: Option<String>,
    /// `false` when the glasses could not take the picture.
    success: Option<String>,
}

/// What the SDK answers an upload with.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct PhotoReceived {
    success: bool,
    request_id: String,
    message: &'static str,
}

/// `POST /photo-upload`: only for a photo we asked for, with its bearer token, within 30 s,
/// once. The token names its photo, so nothing is read before it checks out. The code of
/// ours in the photo is claimed as the wearer; the instance holding the wearer's session hears
/// the outcome through the store and speaks it.
#[utoipa::path(post, path = "/photo-upload", tag = "MentraOS",
    request_body(content = PhotoUploadForm, content_type = "multipart/form-data",
        description = "What the glasses upload for a photo we asked for."),
    security(("photo_token" = [])),
    responses(
        (status = 200, description = "Received; the outcome is spoken on the glasses.", body = PhotoReceived),
        (status = 400, description = "The parts do not name the photo the token was issued for."),
        (status = 401, description = "Not a token for a photo we are waiting for."),
        (status = 404, description = "The 30 s the photo was awaited for have passed."),
        (status = 409, description = "This photo was already uploaded."),
    ))]
#[tracing::instrument(name = "photo upload", skip_all)]
pub async fn photo_upload(
    state: web::Data<AppState>,
    reader: web::Data<FrameReader>,
    client: ClientInfo,
    request: HttpRequest,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    // No token at all is refused like a wrong one.
    let token = bearer_token(&request).unwrap_or_default();
    let photo = state.signin.awaited_photo(&client, &token).await?;
    let upload = read_upload(payload).await?;
    if upload.request_id.as_deref() != Some(photo.id.as_str()) {
        return Err(ApiError::invalid(
            "The requestId part does not name the photo this token was issued for.",
        ));
    }
    state.signin.take_photo_upload(&photo).await?;
    let read = match (upload.failed, upload.photo) {
        (true, _) | (false, None) => Err(Refusal::new(
            ErrorCode::UpstreamError,
            "The glasses could not take the picture.",
        )),
        (false, Some((content_type, bytes))) => {
            // The glasses send JPEG; an unnamed part is read as one.
            let content_type = content_type.unwrap_or_else(|| "image/jpeg".into());
            let reading = async {
                let reading = reader.begin(&Reader::Glasses, Some(&content_type)).await?;
                reading.decode(bytes).await
            };
            reading.await.map_err(Refusal::from)
        }
    };
    state.signin.photo_read(&client, &photo, read).await?;
    Ok(HttpResponse::Ok().json(PhotoReceived {
        success: true,
        request_id: photo.id,
        message: "Photo received successfully",
    }))
}
