//! What both services' OpenAPI documents share: the error shape every operation may answer
//! with, the security schemes, and the route that serves a document (`/api/openapi.json`).
//!
//! Each service derives its document from its handlers' `#[utoipa::path]` attributes and
//! its wire types' `ToSchema`; nothing here is kept by hand beside the code it describes.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, RefOr, Response, ResponseBuilder};

/// Where each service serves its document.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";

/// The `{id}` in a path: a sign-in request's, a device link's or a session's.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Handlers read it as `web::Path<String>`; this names it for the document.
pub struct IdPath {
    /// The id the call that made it answered with.
    id: String,
}

/// A body of raw bytes (an image), as the document names one.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // Read by the handler as a byte stream; this names it for the document.
pub struct BinaryBody(Vec<u8>);

/// The document of one service, serialized once at start.
#[derive(Clone)]
pub struct ApiDocument(web::Bytes);

impl ApiDocument {
    /// `document` with the error shape as every operation's `default` answer (where the
    /// operation does not name its own), serialized.
    pub fn new(mut document: OpenApi) -> anyhow::Result<Self> {
        answer_errors_in_one_shape(&mut document);
        name_each_method_apart(&mut document);
        Ok(Self(serde_json::to_vec(&document)?.into()))
    }
}

/// `GET /api/openapi.json`: this service's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "service",
    responses((status = 200, description = "This service's OpenAPI 3.1 document.", content_type = "application/json", body = Object))
)]
pub async fn document(document: web::Data<ApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(document.0.clone())
}

/// qrlogin's error shape, as [`crate::error`] writes it.
fn error_response() -> RefOr<Response> {
    ResponseBuilder::new()
        .description(
            "Refused, in qrlogin's one error shape: a stable `error` code, a sentence for \
             people, and the request id to quote.",
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(utoipa::openapi::Ref::from_schema_name(
                    <crate::error::ErrorBody as utoipa::ToSchema>::name(),
                )))
                .build(),
        )
        .build()
        .into()
}

/// Every operation that does not say otherwise may be refused in the one error shape, with
/// any of its statuses (404 for an unknown id, 429 for a spent budget, 503 when the store
/// is away…): the answers an operation names are the ones worth naming, `default` the rest.
/// A refusal it names without a body has its `default`'s body (so a `wrong_pin`'s
/// `attempts_left` is documented, and checked, where it comes).
fn answer_errors_in_one_shape(document: &mut OpenApi) {
    use crate::error::ErrorBody;
    use utoipa::{PartialSchema, ToSchema};
    let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    ErrorBody::schemas(&mut schemas);
    let components = document.components.get_or_insert_with(Default::default);
    components.schemas.extend(schemas);
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            let answers = &mut operation.responses.responses;
            let default = answers
                .entry("default".into())
                .or_insert_with(error_response)
                .clone();
            let RefOr::T(default) = default else {
                continue;
            };
            for (status, answer) in answers.iter_mut() {
                let refused = status.starts_with('4') || status.starts_with('5');
                if let RefOr::T(answer) = answer
                    && refused
                    && answer.content.is_empty()
                {
                    answer.content = default.content.clone();
                }
            }
        }
    }
}

/// One handler serving two methods (`GET|POST /oauth/userinfo`) is one operation id in
/// utoipa's eyes; a client generator needs one per method: the second is suffixed with it.
fn name_each_method_apart(document: &mut OpenApi) {
    for item in document.paths.paths.values_mut() {
        let Some(get_id) = item.get.as_ref().and_then(|get| get.operation_id.clone()) else {
            continue;
        };
        for (method, operation) in [("post", &mut item.post), ("delete", &mut item.delete)] {
            if let Some(operation) = operation
                && operation.operation_id.as_ref() == Some(&get_id)
            {
                operation.operation_id = Some(format!("{get_id}_{method}"));
            }
        }
    }
}

/// An HTTP authentication scheme (`Authorization: Bearer|Basic`).
fn http(scheme: HttpAuthScheme, description: &str) -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(scheme)
            .description(Some(description))
            .build(),
    )
}

/// A session cookie.
fn cookie(name: &str, description: &str) -> SecurityScheme {
    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
        name,
        description,
    )))
}

/// The desktop service's ways to say who is calling.
pub struct DesktopSecurity;

impl utoipa::Modify for DesktopSecurity {
    fn modify(&self, document: &mut OpenApi) {
        desktop_security(document);
    }
}

/// The mobile service's ways to say who is calling.
pub struct MobileSecurity;

impl utoipa::Modify for MobileSecurity {
    fn modify(&self, document: &mut OpenApi) {
        mobile_security(document);
    }
}

fn desktop_security(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    let bearer = |description: &str| http(HttpAuthScheme::Bearer, description);
    components.add_security_scheme(
        "desktop_session",
        cookie(
            crate::cookies::DESKTOP_SESSION,
            "The signed-in screen's session cookie (set by a redeem).",
        ),
    );
    components.add_security_scheme(
        "access_token",
        bearer("The access token a redeem or a device link answered with."),
    );
    components.add_security_scheme(
        "api_key",
        bearer("A registered client's API key (`qrlogin clients add`)."),
    );
    components.add_security_scheme(
        "client_secret_basic",
        http(
            HttpAuthScheme::Basic,
            "A web app's client id and secret (RFC 6749 §2.3.1).",
        ),
    );
    components.add_security_scheme(
        "desktop_secret",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-Desktop-Secret",
            "The secret a sign-in request was created with (browsers send its cookie).",
        ))),
    );
}

fn mobile_security(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "mobile_session",
        cookie(
            crate::cookies::MOBILE_SESSION,
            "The phone's session cookie (set by a sign-in on the phone).",
        ),
    );
    components.add_security_scheme(
        "photo_token",
        http(
            HttpAuthScheme::Bearer,
            "The token sent with a request for a photo: good for that photo, once.",
        ),
    );
}

/// For each service's test that its document leaves no route out: every path `routes`
/// (the source of its route table) registers is documented, unless `not_json` names it,
/// and nothing `not_json` names is documented.
#[doc(hidden)]
#[allow(clippy::unwrap_used)] // test support: a panic is a failed test
pub fn assert_documents_every_route(document: &OpenApi, routes: &str, not_json: &[&str]) {
    let documented = &document.paths.paths;
    let after = |opening: &'static str| routes.split(opening).skip(1);
    let registered: Vec<&str> = after("resource(\"")
        .chain(after("form_post(\""))
        .filter_map(|rest| rest.split_once('"').map(|(path, _)| path))
        .collect();
    assert!(
        registered.len() > not_json.len(),
        "no routes found in {routes}"
    );
    for path in registered {
        assert!(
            not_json.contains(&path) || documented.contains_key(path),
            "{path} is registered but not in the OpenAPI document"
        );
    }
    for path in not_json {
        assert!(!documented.contains_key(*path), "{path} answers no JSON");
    }
}

#[cfg(test)]
mod tests {
    use crate::ErrorCode;

    #[test]
    fn the_error_schema_names_every_error_code_as_the_body_spells_it() {
        let schema = serde_json::to_value(<ErrorCode as utoipa::PartialSchema>::schema())
            .unwrap_or_default();
        let named: Vec<&str> = schema["enum"]
            .as_array()
            .map(|values| values.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let spelled: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(named, spelled);
    }
}
