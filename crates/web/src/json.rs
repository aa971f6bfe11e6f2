//! JSON request bodies: always an object, read into a typed struct.

use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body that must be an object, read into `T` with the limits and errors of
/// [`crate::server::configure_extractors`]. serde alone would also read a struct from an
/// array (`[]`), which no client sends on purpose: that is refused like any other wrong shape.
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonObject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(request, payload);
        Box::pin(async move {
            let web::Json(value) = value.await?;
            if !value.is_object() {
                return Err(ApiError::invalid("The body must be a JSON object, like {}.").into());
            }
            serde_json::from_value(value)
                .map(Self)
                .map_err(|e| ApiError::invalid(format!("The JSON body is not valid: {e}")).into())
        })
    }
}

/// The body of an action that needs no input: `{}` (a JSON body is what makes a browser send
/// a preflight across sites, so every state change asks for one).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}
