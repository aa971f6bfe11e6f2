//! Cookie names and attributes in one place. Over https every cookie is `__Host-` prefixed
//! and `Secure`; over plain http (a laptop demo) browsers refuse that prefix, so it is dropped.

use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Cookie, SameSite};

/// The desktop service's session cookie.
pub const DESKTOP_SESSION: &str = "qrlogin_desktop";
/// The mobile service's session cookie (a separate name: browsers share cookies across ports).
pub const MOBILE_SESSION: &str = "qrlogin_mobile";
/// Prefix of the cookie holding one login request's desktop secret (`qrl_{id}`).
pub const DESKTOP_SECRET_PREFIX: &str = "qrl_";

#[derive(Clone, Copy, Debug)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    pub fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// An HttpOnly cookie for the whole site, living `max_age`.
    pub fn build(
        &self,
        base: &str,
        value: String,
        max_age: std::time::Duration,
        same_site: SameSite,
    ) -> Cookie<'static> {
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        Cookie::build(self.name(base), value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(same_site)
            .max_age(CookieDuration::seconds(seconds))
            .finish()
    }

    /// A cookie that tells the browser to forget `base`.
    pub fn removal(&self, base: &str) -> Cookie<'static> {
        let mut cookie = self.build(
            base,
            String::new(),
            std::time::Duration::ZERO,
            SameSite::Lax,
        );
        cookie.make_removal();
        cookie
    }

    pub fn read(&self, request: &actix_web::HttpRequest, base: &str) -> Option<String> {
        request
            .cookie(&self.name(base))
            .map(|c| c.value().to_owned())
    }
}
