//! The words people read, one Fluent catalogue per language (`locales/*.ftl`, edited by
//! translators without touching code), and the language each browser gets: the best match of
//! its `Accept-Language` among the catalogues, English otherwise.
//!
//! Pages are rendered in that language on the server. A page script gets the few messages it
//! shows later as JSON, each with its variables left as `{name}` for the script to fill in, so
//! those messages are written without plural forms.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

use crate::AppState;
use crate::error::{ApiError, ErrorCode};

/// The catalogues compiled in, English first: it is the fallback for a message another
/// catalogue lacks, and the language of a browser that asks for none of these.
const CATALOGUES: [(&str, &str); 3] = [
    ("en", include_str!("../locales/en.ftl")),
    ("ko", include_str!("../locales/ko.ftl")),
    ("th", include_str!("../locales/th.ftl")),
];

/// Every language's messages, parsed once at start.
pub struct Catalogues {
    bundles: Vec<(LanguageIdentifier, FluentBundle<FluentResource>)>,
}

impl Catalogues {
    /// Parses the compiled-in catalogues. A syntax error or a message defined twice is a bug
    /// of this build, caught by the tests below, so it fails loudly.
    pub fn load() -> anyhow::Result<Self> {
        let mut bundles = Vec::with_capacity(CATALOGUES.len());
        for (tag, source) in CATALOGUES {
            let language: LanguageIdentifier = tag.parse()?;
            let resource = FluentResource::try_new(source.to_owned())
                .map_err(|(_, errors)| anyhow::anyhow!("locales/{tag}.ftl: {errors:?}"))?;
            let mut bundle = FluentBundle::new_concurrent(vec![language.clone()]);
            // Isolation marks around variables help mixed-direction text; ours is all
            // left-to-right, and the marks would end up inside codes people copy.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .map_err(|errors| anyhow::anyhow!("locales/{tag}.ftl: {errors:?}"))?;
            bundles.push((language, bundle));
        }
        Ok(Self { bundles })
    }

    /// The catalogue index that best serves an `Accept-Language` header.
    fn negotiate(&self, accept_language: &str) -> Language {
        let requested = requested(accept_language);
        let available: Vec<&LanguageIdentifier> =
            self.bundles.iter().map(|(language, _)| language).collect();
        let chosen = fluent_langneg::negotiate_languages(
            &requested,
            &available,
            None,
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        let index = chosen
            .first()
            .and_then(|best| available.iter().position(|language| language == *best))
            .unwrap_or(0);
        Language(index)
    }

    fn format(&self, language: Language, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        // The reader's catalogue, else English, else the key itself (a test keeps every key
        // in every catalogue, so the last is a bug made visible rather than a blank).
        for (_, bundle) in [&self.bundles[language.0], &self.bundles[0]] {
            let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, args, &mut errors);
            if !errors.is_empty() {
                tracing::warn!(key, ?errors, "a message was formatted with errors");
            }
            return text.into_owned();
        }
        tracing::warn!(key, "no catalogue has this message");
        key.to_owned()
    }
}

/// The languages an `Accept-Language` header asks for, the most wanted first (by `q`, then
/// by order); `q=0` ("not this one") and what is not a language tag are left out.
fn requested(header: &str) -> Vec<LanguageIdentifier> {
    let mut weighted: Vec<(f32, usize, LanguageIdentifier)> = header
        .split(',')
        .enumerate()
        .filter_map(|(order, item)| {
            let mut parts = item.split(';');
            let language = parts.next()?.trim().parse::<LanguageIdentifier>().ok()?;
            let weight = match parts.find_map(|p| p.trim().strip_prefix("q=")) {
                Some(q) => q.trim().parse::<f32>().ok()?,
                None => 1.0,
            };
            (weight > 0.0).then_some((weight, order, language))
        })
        .collect();
    weighted.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    weighted
        .into_iter()
        .map(|(_, _, language)| language)
        .collect()
}

/// Which catalogue: an index into [`Catalogues`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Language(usize);

/// The messages in one reader's language: what pages are rendered with. Also an extractor,
/// negotiated from the request's `Accept-Language`.
#[derive(Clone)]
pub struct Text {
    catalogues: Arc<Catalogues>,
    language: Language,
}

impl Text {
    pub fn negotiated(catalogues: &Arc<Catalogues>, accept_language: Option<&str>) -> Self {
        let language = accept_language.map_or(Language(0), |header| catalogues.negotiate(header));
        Self {
            catalogues: Arc::clone(catalogues),
            language,
        }
    }

    pub fn of_request(state: &AppState, request: &HttpRequest) -> Self {
        let header = request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok());
        Self::negotiated(&state.text, header)
    }

    /// The BCP 47 tag of this language, for `<html lang>`.
    pub fn lang(&self) -> String {
        self.catalogues.bundles[self.language.0].0.to_string()
    }

    /// A message without variables.
    pub fn get(&self, key: &str) -> String {
        self.catalogues.format(self.language, key, None)
    }

    /// A message with variables, given as `(name, value)`.
    pub fn with<'a, V>(&self, key: &str, args: &[(&'a str, V)]) -> String
    where
        V: Into<FluentValue<'a>> + Clone,
    {
        let mut fluent = FluentArgs::new();
        for (name, value) in args {
            fluent.set(*name, value.clone());
        }
        self.catalogues.format(self.language, key, Some(&fluent))
    }

    /// The messages a page script shows, as a JSON object from key to text, for the page's
    /// `data-text` attribute: `messages` (each key with its variables, which stay in the text
    /// as `{name}` for the script's `text()` to fill in), every error code's message
    /// (`error-rate-limited`), `network-failed`, and the words for a device (`device-on`).
    pub fn for_script(&self, messages: &[(&str, &[&str])]) -> String {
        let mut texts: serde_json::Map<String, serde_json::Value> = messages
            .iter()
            .map(|(key, variables)| {
                let placeholders: Vec<(&str, String)> = variables
                    .iter()
                    .map(|name| (*name, format!("{{{name}}}")))
                    .collect();
                ((*key).to_owned(), self.with(key, &placeholders).into())
            })
            .collect();
        for code in ErrorCode::ALL {
            texts.insert(error_key(code), self.error(code).into());
        }
        texts.insert("network-failed".into(), self.get("network-failed").into());
        let device = [("browser", "{browser}"), ("system", "{system}")];
        texts.insert("device-on".into(), self.with("device-on", &device).into());
        texts.insert("device-unknown".into(), self.get("device-unknown").into());
        serde_json::Value::Object(texts).to_string()
    }

    /// The message people read for an error code (the API's own `message` is for developers).
    pub fn error(&self, code: ErrorCode) -> String {
        self.get(&error_key(code))
    }
}

/// `error-rate-limited` for `rate_limited`.
fn error_key(code: ErrorCode) -> String {
    format!("error-{}", code.as_str().replace('_', "-"))
}

impl FromRequest for Text {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match request.app_data::<web::Data<AppState>>() {
            Some(state) => Ok(Self::of_request(state, request)),
            None => Err(ApiError::internal(anyhow::anyhow!("no AppState"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluent_syntax::ast;

    fn catalogues() -> Arc<Catalogues> {
        Arc::new(Catalogues::load().expect("the catalogues parse"))
    }

    /// Every message id in one catalogue, with the variables it uses, sorted.
    fn messages(source: &str) -> Vec<(String, Vec<String>)> {
        let resource = fluent_syntax::parser::parse(source).expect("parses");
        let mut found: Vec<(String, Vec<String>)> = resource
            .body
            .iter()
            .filter_map(|entry| match entry {
                ast::Entry::Message(message) => {
                    let mut variables = Vec::new();
                    if let Some(pattern) = &message.value {
                        variables_of(pattern, &mut variables);
                    }
                    variables.sort();
                    variables.dedup();
                    Some((message.id.name.to_owned(), variables))
                }
                _ => None,
            })
            .collect();
        found.sort();
        found
    }

    fn variables_of(pattern: &ast::Pattern<&str>, into: &mut Vec<String>) {
        for element in &pattern.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                match expression {
                    ast::Expression::Inline(inline) => inline_variable(inline, into),
                    ast::Expression::Select { selector, variants } => {
                        inline_variable(selector, into);
                        for variant in variants {
                            variables_of(&variant.value, into);
                        }
                    }
                }
            }
        }
    }

    fn inline_variable(inline: &ast::InlineExpression<&str>, into: &mut Vec<String>) {
        if let ast::InlineExpression::VariableReference { id } = inline {
            into.push(id.name.to_owned());
        }
    }

    #[test]
    fn every_catalogue_has_every_message_with_the_same_variables() {
        let english = messages(CATALOGUES[0].1);
        assert!(english.len() > 50, "the English catalogue is the full set");
        for (tag, source) in &CATALOGUES[1..] {
            assert_eq!(
                messages(source),
                english,
                "locales/{tag}.ftl must define exactly the English messages, with the same variables"
            );
        }
    }

    #[test]
    fn every_error_code_has_a_message_for_people() {
        let english: Vec<String> = messages(CATALOGUES[0].1)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        for code in ErrorCode::ALL {
            let key = error_key(code);
            assert!(english.contains(&key), "{key} is missing from en.ftl");
        }
    }

    #[test]
    fn the_browser_s_preferred_language_wins_and_english_is_the_fallback() {
        let catalogues = catalogues();
        let lang = |header: Option<&str>| Text::negotiated(&catalogues, header).lang();
        assert_eq!(lang(Some("ko-KR,ko;q=0.9,en-US;q=0.8")), "ko");
        assert_eq!(lang(Some("th-TH")), "th");
        assert_eq!(lang(Some("fr-FR,th;q=0.5,en;q=0.3")), "th");
        assert_eq!(lang(Some("de-DE")), "en");
        assert_eq!(lang(Some("")), "en");
        assert_eq!(lang(Some("garbage;;q=x")), "en");
        assert_eq!(lang(None), "en");
        assert_eq!(lang(Some("ko;q=0.2, th;q=0.9")), "th", "the weights decide");
        assert_eq!(
            lang(Some("ko;q=0, en;q=0.5")),
            "en",
            "q=0 means not this one"
        );
        assert_eq!(lang(Some("*, ko;q=0.5")), "ko");
    }

    #[test]
    fn script_messages_keep_their_variables_for_the_script() {
        let text = Text::negotiated(&catalogues(), Some("en"));
        let json: serde_json::Value =
            serde_json::from_str(&text.for_script(&[("screen-expires-in", &["seconds"])])).unwrap();
        let message = json["screen-expires-in"].as_str().unwrap();
        assert!(message.contains("{seconds}"), "{message}");
        // Every page script can word a device, in its reader's language.
        let korean = Text::negotiated(&catalogues(), Some("ko"));
        let json: serde_json::Value = serde_json::from_str(&korean.for_script(&[])).unwrap();
        assert_eq!(json["device-on"], "{system}의 {browser}");
        assert_eq!(
            json["error-rate-limited"],
            korean.error(ErrorCode::RateLimited)
        );
    }
}
