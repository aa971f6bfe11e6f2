//! The phone's passkeys: listed, added, named and removed by the signed-in owner, and the
//! challenges an approval or a change answers. The WebAuthn wire forms pass through as the
//! browser's JSON (`PublicKeyCredential.toJSON()`, and the options `parse…FromJSON` takes).

use actix_web::{HttpResponse, web};
use qrlogin_auth::passkey::{
    PasskeyCheck, PasskeyCreation, PasskeyId, PasskeySummary, PublicKeyCredential,
    RegisterPublicKeyCredential,
};
use qrlogin_auth::signin::passkeys::ProofPurpose;
use qrlogin_web::auth::MobileUser;
use qrlogin_web::client::ClientInfo;
use qrlogin_web::http::no_store;
use qrlogin_web::json::{EmptyBody, JsonObject};
use qrlogin_web::openapi::IdPath;
use qrlogin_web::{ApiError, AppState, ErrorCode};
use serde::{Deserialize, Serialize};

use super::scan::parse_id;

/// The account's passkeys, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyList {
    passkeys: Vec<PasskeySummary>,
}

/// A change to the passkeys when the account has some: a check by one of them, answering
/// `POST /api/passkeys/check`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvenChange {
    /// `PublicKeyCredential.toJSON()` of the assertion.
    #[schema(value_type = Object)]
    proof: Option<PublicKeyCredential>,
}

/// A new passkey: the browser's answer to the creation options, and its name.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPasskey {
    /// 1 to 64 characters ("Pixel 9").
    name: String,
    /// `PublicKeyCredential.toJSON()` of the new credential.
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyName {
    name: String,
}

fn passkey_id(raw: &str) -> Result<PasskeyId, ApiError> {
    PasskeyId::parse(raw)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "No such passkey on this account."))
}

/// `GET /api/passkeys`: the signed-in account's passkeys.
#[utoipa::path(get, path = "/api/passkeys", tag = "passkeys", security(("mobile_session" = [])),
    responses(
        (status = 200, description = "The account's passkeys, oldest first.", body = PasskeyList),
        (status = 401, description = "Not signed in."),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
) -> Result<HttpResponse, ApiError> {
    let passkeys = state.signin.passkeys(&caller.user).await?;
    Ok(no_store(HttpResponse::Ok()).json(PasskeyList { passkeys }))
}

/// `POST /api/passkeys/check`: a challenge for one of the account's passkeys, to add or
/// remove one.
#[utoipa::path(post, path = "/api/passkeys/check", tag = "passkeys",
    request_body = EmptyBody, security(("mobile_session" = [])),
    responses(
        (status = 200, description = "Options for `navigator.credentials.get`.", body = PasskeyCheck),
        (status = 401, description = "Not signed in."),
        (status = 403, description = "`passkey_required`: the account has no passkey (or passkeys cannot be used on this server)."),
    ))]
pub async fn manage_check(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let check = (state.signin)
        .begin_passkey_check(&caller.user, ProofPurpose::Manage)
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(PasskeyCheck(check)))
}

/// `POST /api/login-requests/{id}/passkey-check`: the challenge that approving request `id`
/// answers: an assertion made for it is refused for any other request.
#[utoipa::path(post, path = "/api/login-requests/{id}/passkey-check", tag = "passkeys",
    params(IdPath), request_body = EmptyBody, security(("mobile_session" = [])),
    responses(
        (status = 200, description = "Options for `navigator.credentials.get`.", body = PasskeyCheck),
        (status = 401, description = "Not signed in."),
        (status = 403, description = "`passkey_required`: the account has no passkey."),
        (status = 404, description = "No such request of the caller's."),
        (status = 409, description = "It is not waiting for the caller's approval."),
    ))]
pub async fn approval_check(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    id: web::Path<String>,
    _body: JsonObject<EmptyBody>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let check = (state.signin)
        .begin_passkey_check(&caller.user, ProofPurpose::Approve(&id))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(PasskeyCheck(check)))
}

/// `POST /api/passkeys/registration`: options to make a new passkey. An account that has
/// passkeys sends a check by one of them.
#[utoipa::path(post, path = "/api/passkeys/registration", tag = "passkeys",
    request_body = ProvenChange, security(("mobile_session" = [])),
    responses(
        (status = 200, description = "Options for `navigator.credentials.create`.", body = PasskeyCreation),
        (status = 400, description = "Not a JSON object of that shape."),
        (status = 401, description = "Not signed in."),
        (status = 403, description = "`passkey_required`: a check by an existing passkey is missing; `passkey_failed`: it failed."),
    ))]
pub async fn begin_registration(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    body: JsonObject<ProvenChange>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let creation = (state.signin)
        .begin_passkey_registration(&client, &caller.user, body.proof.as_ref())
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(PasskeyCreation(creation)))
}

/// `POST /api/passkeys`: the new passkey joins the account.
#[utoipa::path(post, path = "/api/passkeys", tag = "passkeys",
    request_body = NewPasskey, security(("mobile_session" = [])),
    responses(
        (status = 201, description = "Added.", body = PasskeySummary),
        (status = 400, description = "No name, a name too long, or not a credential."),
        (status = 401, description = "Not signed in."),
        (status = 403, description = "`passkey_failed`: not an answer to this account's registration options, or they are used or too old."),
        (status = 409, description = "That credential is on an account already."),
    ))]
pub async fn finish_registration(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    body: JsonObject<NewPasskey>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let added = (state.signin)
        .finish_passkey_registration(&client, &caller.user, &body.name, &body.credential)
        .await?;
    Ok(no_store(HttpResponse::Created()).json(added))
}

/// `PATCH /api/passkeys/{id}`: renames a passkey.
#[utoipa::path(patch, path = "/api/passkeys/{id}", operation_id = "rename_passkey", tag = "passkeys",
    params(IdPath), request_body = PasskeyName, security(("mobile_session" = [])),
    responses(
        (status = 200, description = "Renamed.", body = PasskeySummary),
        (status = 400, description = "No name, or one too long."),
        (status = 401, description = "Not signed in."),
        (status = 404, description = "No such passkey on this account."),
    ))]
pub async fn rename(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    id: web::Path<String>,
    body: JsonObject<PasskeyName>,
) -> Result<HttpResponse, ApiError> {
    let id = passkey_id(&id)?;
    let renamed = (state.signin)
        .rename_passkey(&caller.user, &id, &body.into_inner().name)
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(renamed))
}

/// `POST /api/passkeys/{id}/remove`: removes a passkey, with a check by one of the account's
/// passkeys (this one too).
#[utoipa::path(post, path = "/api/passkeys/{id}/remove", operation_id = "remove_passkey", tag = "passkeys",
    params(IdPath), request_body = ProvenChange, security(("mobile_session" = [])),
    responses(
        (status = 204, description = "Removed."),
        (status = 400, description = "Not a JSON object of that shape."),
        (status = 401, description = "Not signed in."),
        (status = 403, description = "`passkey_required`: the check is missing; `passkey_failed`: it failed."),
        (status = 404, description = "No such passkey on this account."),
    ))]
pub async fn remove(
    state: web::Data<AppState>,
    MobileUser(caller): MobileUser,
    client: ClientInfo,
    id: web::Path<String>,
    body: JsonObject<ProvenChange>,
) -> Result<HttpResponse, ApiError> {
    let id = passkey_id(&id)?;
    let body = body.into_inner();
    (state.signin)
        .remove_passkey(&client, &caller.user, &id, body.proof.as_ref())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
