//! Registered clients: third-party apps (the "Space" app's use) that create login requests
//! server to server with an API key, and receive an identity token whose audience is them.
//! A client registered for it may also sign devices in through the OAuth device
//! authorization grant, by its public id alone; no other client may.
//!
//! An API key is `qrk_{client id}.{secret}`: it names its client, so it is checked against
//! one stored hash. The secret is 256 random bits, so a fast hash (SHA-256, compared in
//! constant time) is as good as a slow one, and costs nothing per request.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::login_request::UnixMillis;
use crate::secret::{SecretHash, random_token};

/// How a client's users confirm on the phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmationMode {
    /// The tap on the phone signs the screen in.
    Tap,
    /// The phone shows a PIN the screen must type.
    Pin,
}

impl ConfirmationMode {
    pub fn parse(input: &str) -> Result<Self, String> {
        match input {
            "tap" => Ok(Self::Tap),
            "pin" => Ok(Self::Pin),
            other => Err(format!("`{other}`: expected `tap` or `pin`")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tap => "tap",
            Self::Pin => "pin",
        }
    }
}

/// Whether a client can keep a secret (OAuth's client types, RFC 6749 §2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// A server: it authenticates with its API key (`client_secret_basic` or `_post`).
    #[default]
    Confidential,
    /// A single-page or native app: no secret it could keep; PKCE alone binds its codes.
    Public,
}

/// Whether an app asks for the owner's passkey at every approval of its sign-ins
/// (`clients add --passkey`), whatever the deployment's `PASSKEY_APPROVAL` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientPasskey {
    #[default]
    AsDeployment,
    Required,
}

impl ClientPasskey {
    pub fn is_as_deployment(&self) -> bool {
        *self == Self::AsDeployment
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClient {
    /// `cl_…`: public; the `aud` of its identity tokens and the OAuth `client_id`.
    pub id: String,
    /// What the phone's confirmation names ("Sign in to Space").
    pub name: String,
    pub key: SecretHash,
    pub redirect_uris: Vec<String>,
    /// Browser origins that may follow this client's requests (poll, events).
    pub origins: Vec<String>,
    pub confirmation: ConfirmationMode,
    /// Whether devices may sign in through the OAuth device authorization grant with this
    /// client's id. Off unless registered with it: the id is public, so the grant would let
    /// anyone start sign-ins in the client's name. Clients stored before it existed are off.
    #[serde(default)]
    pub device_grant: bool,
    /// Clients stored before client types existed are confidential.
    #[serde(default)]
    pub client_type: ClientType,
    /// Where OpenID Connect logout may send the browser back to (exact match).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Clients stored before passkeys existed follow the deployment.
    #[serde(default, skip_serializing_if = "ClientPasskey::is_as_deployment")]
    pub passkey: ClientPasskey,
    pub created_at: UnixMillis,
    pub key_rotated_at: UnixMillis,
}

/// The store's directory kind clients live under.
pub const CLIENTS: &str = "client";

const KEY_PREFIX: &str = "qrk_";

/// A new random API key for client `id`.
pub fn new_api_key(id: &str) -> SecretString {
    format!("{KEY_PREFIX}{id}.{}", random_token::<32>()).into()
}

/// The client an API key names (nothing is known to be true of it until its hash matches).
pub fn client_in_key(key: &str) -> Option<&str> {
    key.strip_prefix(KEY_PREFIX)?
        .split_once('.')
        .map(|(id, _)| id)
        .filter(|id| is_client_id(id))
}

pub fn is_client_id(id: &str) -> bool {
    id.strip_prefix("cl_").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 32
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

impl RegisteredClient {
    /// A new client and its API key (shown once; only its hash is kept). With
    /// `device_grant`, devices may sign in through the OAuth device grant by its id.
    pub fn register(
        name: &str,
        redirect_uris: Vec<String>,
        origins: Vec<String>,
        confirmation: ConfirmationMode,
        device_grant: bool,
        now: UnixMillis,
    ) -> Result<(Self, SecretString), String> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err("a client name has 1 to 64 characters".into());
        }
        if device_grant && confirmation == ConfirmationMode::Pin {
            return Err(
                "the device grant needs tap confirmation: a device cannot type the PIN the phone shows"
                    .into(),
            );
        }
        for uri in &redirect_uris {
            check_url(uri, "redirect URI")?;
        }
        for origin in &origins {
            check_origin(origin)?;
        }
        let id = format!("cl_{}", random_token::<12>());
        let key = new_api_key(&id);
        let client = Self {
            id,
            name: name.to_owned(),
            key: SecretHash::of(secrecy::ExposeSecret::expose_secret(&key)),
            redirect_uris,
            origins,
            confirmation,
            device_grant,
            client_type: ClientType::Confidential,
            post_logout_redirect_uris: Vec::new(),
            passkey: ClientPasskey::AsDeployment,
            created_at: now,
            key_rotated_at: now,
        };
        Ok((client, key))
    }

    /// Makes the client public: its API key is never accepted at the token endpoint, and
    /// PKCE alone binds its codes.
    pub fn make_public(&mut self) {
        self.client_type = ClientType::Public;
    }

    /// Sets where OpenID Connect logout may send the browser back to.
    pub fn set_post_logout_redirect_uris(&mut self, uris: Vec<String>) -> Result<(), String> {
        for uri in &uris {
            check_url(uri, "post-logout redirect URI")?;
        }
        self.post_logout_redirect_uris = uris;
        Ok(())
    }

    /// Whether a page at `origin` may read this client's answers (CORS): one it registered.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.iter().any(|allowed| allowed == origin)
    }

    /// Whether `redirect_uri` is one this client registered: exactly, except that on a
    /// loopback address the port may be any (RFC 8252 §7.3: a native app listens on whatever
    /// port the system gives it).
    pub fn redirects_to(&self, redirect_uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|uri| uri == redirect_uri || same_but_loopback_port(uri, redirect_uri))
    }

    /// Whether `secret` authenticates this client at the token endpoint: a confidential
    /// client's API key; for a public client, no secret at all.
    pub fn authenticates(&self, secret: Option<&str>) -> bool {
        match (self.client_type, secret) {
            (ClientType::Confidential, Some(secret)) => self.accepts(secret),
            (ClientType::Public, None) => true,
            _ => false,
        }
    }

    /// Replaces the API key: the old one stops working at once.
    pub fn rotate_key(&mut self, now: UnixMillis) -> SecretString {
        let key = new_api_key(&self.id);
        self.key = SecretHash::of(secrecy::ExposeSecret::expose_secret(&key));
        self.key_rotated_at = now;
        key
    }

    /// Turns the device grant on or off; never on for a client that confirms with a PIN.
    pub fn allow_device_grant(&mut self, on: bool) -> Result<(), String> {
        if on && self.confirmation == ConfirmationMode::Pin {
            return Err("a client that confirms with a PIN cannot have the device grant: a device cannot type the phone's PIN".into());
        }
        self.device_grant = on;
        Ok(())
    }

    /// Constant-time.
    pub fn accepts(&self, key: &str) -> bool {
        self.key.matches(key)
    }

    /// Why devices may not sign in through the OAuth device grant with this client's id, if
    /// they may not: the sentence for `unauthorized_client`.
    pub fn device_grant_refusal(&self) -> Option<&'static str> {
        if !self.device_grant {
            return Some(
                "This client is not registered for the device authorization grant: its operator can allow it with `qrlogin clients device-grant CLIENT_ID on`.",
            );
        }
        if self.confirmation == ConfirmationMode::Pin {
            // A device cannot type the phone's PIN, and silently tapping instead would weaken
            // what the client asked for.
            return Some(
                "This client confirms sign-ins with a PIN typed on its screen, which the device flow cannot do.",
            );
        }
        None
    }
}

/// The registered clients, kept in the store's directory.
pub mod registry {
    use super::{CLIENTS, RegisteredClient};
    use crate::store::{Store, StoreError};

    fn decode(text: &str) -> Result<RegisteredClient, StoreError> {
        serde_json::from_str(text).map_err(|e| StoreError::Unexpected(e.into()))
    }

    fn encode(client: &RegisteredClient) -> Result<String, StoreError> {
        serde_json::to_string(client).map_err(|e| StoreError::Unexpected(e.into()))
    }

    pub async fn add(store: &dyn Store, client: &RegisteredClient) -> Result<bool, StoreError> {
        store
            .insert_entry(CLIENTS, &client.id, &encode(client)?)
            .await
    }

    pub async fn save(store: &dyn Store, client: &RegisteredClient) -> Result<bool, StoreError> {
        store
            .update_entry(CLIENTS, &client.id, &encode(client)?)
            .await
    }

    pub async fn load(store: &dyn Store, id: &str) -> Result<Option<RegisteredClient>, StoreError> {
        store
            .load_entry(CLIENTS, id)
            .await?
            .as_deref()
            .map(decode)
            .transpose()
    }

    pub async fn list(store: &dyn Store) -> Result<Vec<RegisteredClient>, StoreError> {
        store
            .list_entries(CLIENTS)
            .await?
            .iter()
            .map(|text| decode(text))
            .collect()
    }

    pub async fn remove(store: &dyn Store, id: &str) -> Result<bool, StoreError> {
        store.delete_entry(CLIENTS, id).await
    }
}

fn check_url(text: &str, what: &str) -> Result<(), String> {
    let url = url::Url::parse(text).map_err(|e| format!("{what} `{text}`: {e}"))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        _ => Err(format!("{what} `{text}`: https only (http for localhost)")),
    }
}

/// `https://app.example` (scheme, host, optional port; nothing else).
fn check_origin(text: &str) -> Result<(), String> {
    check_url(text, "origin")?;
    let url = url::Url::parse(text).map_err(|e| e.to_string())?;
    if url.origin().ascii_serialization() != text.trim_end_matches('/') || url.path() != "/" {
        return Err(format!(
            "origin `{text}`: scheme, host and port only, like https://app.example"
        ));
    }
    Ok(())
}

/// Whether `asked` is `registered` on another port, `registered` being plain HTTP to a
/// loopback IP literal (`127.0.0.1`, `[::1]`; not `localhost`, which a resolver could send
/// elsewhere).
fn same_but_loopback_port(registered: &str, asked: &str) -> bool {
    let (Ok(mut registered), Ok(mut asked)) = (url::Url::parse(registered), url::Url::parse(asked))
    else {
        return false;
    };
    let loopback = match registered.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if registered.scheme() != "http" || !loopback {
        return false;
    }
    // Both are http URLs with a host: their ports can always be cleared.
    let (_, _) = (registered.set_port(None), asked.set_port(None));
    registered == asked
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_loopback_redirect_may_come_back_on_any_port_and_nothing_else_may() {
        let native = |redirect: &str| {
            RegisteredClient::register(
                "Cli",
                vec![redirect.into()],
                vec![],
                ConfirmationMode::Tap,
                false,
                0,
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .0
        };
        let v4 = native("http://127.0.0.1/callback");
        assert!(v4.redirects_to("http://127.0.0.1:51234/callback"));
        assert!(v4.redirects_to("http://127.0.0.1/callback"));
        assert!(!v4.redirects_to("http://127.0.0.1:51234/other"));
        assert!(!v4.redirects_to("http://127.0.0.1:51234/callback?next=x"));
        assert!(!v4.redirects_to("http://localhost:51234/callback"));
        assert!(!v4.redirects_to("https://127.0.0.1:51234/callback"));
        assert!(!v4.redirects_to("http://127.0.0.2.evil.example:51234/callback"));
        let v6 = native("http://[::1]:8080/cb");
        assert!(v6.redirects_to("http://[::1]:9999/cb"));
        let localhost = native("http://localhost:8080/cb");
        assert!(!localhost.redirects_to("http://localhost:9999/cb"));
        let web = native("https://space.example/cb");
        assert!(!web.redirects_to("https://space.example:8443/cb"));
    }

    #[test]
    fn a_key_names_its_client_and_only_the_current_key_is_accepted() {
        let (mut client, key) = RegisteredClient::register(
            "Space",
            vec!["https://space.example/callback".into()],
            vec!["https://space.example".into()],
            ConfirmationMode::Tap,
            false,
            0,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client_in_key(key.expose_secret()), Some(client.id.as_str()));
        assert!(client.accepts(key.expose_secret()));
        let rotated = client.rotate_key(1);
        assert!(!client.accepts(key.expose_secret()));
        assert!(client.accepts(rotated.expose_secret()));
        assert_eq!(client_in_key("qrk_nope"), None);
        assert_eq!(client_in_key("Bearer x"), None);
    }

    #[test]
    fn origins_and_redirects_are_checked() {
        let register = |redirect: &str, origin: &str| {
            RegisteredClient::register(
                "Space",
                vec![redirect.into()],
                vec![origin.into()],
                ConfirmationMode::Pin,
                false,
                0,
            )
        };
        assert!(register("https://a.example/cb", "https://a.example").is_ok());
        assert!(register("http://localhost:3000/cb", "http://localhost:3000").is_ok());
        assert!(register("http://a.example/cb", "https://a.example").is_err());
        assert!(register("https://a.example/cb", "https://a.example/path").is_err());
        assert!(register("javascript:alert(1)", "https://a.example").is_err());
    }

    #[test]
    fn the_device_grant_is_off_unless_registered_with_it_and_never_with_a_pin() {
        let register = |confirmation, device_grant| {
            RegisteredClient::register("Space", vec![], vec![], confirmation, device_grant, 0)
        };
        let (off, _) = register(ConfirmationMode::Tap, false).unwrap_or_else(|e| panic!("{e}"));
        assert!(!off.device_grant);
        assert!(
            off.device_grant_refusal()
                .unwrap()
                .contains("clients device-grant")
        );
        let (on, _) = register(ConfirmationMode::Tap, true).unwrap_or_else(|e| panic!("{e}"));
        assert!(on.device_grant);
        assert_eq!(on.device_grant_refusal(), None);
        assert!(register(ConfirmationMode::Pin, true).is_err());
        // One stored with both anyway (by hand) is still refused the grant.
        let pin = RegisteredClient {
            confirmation: ConfirmationMode::Pin,
            ..on
        };
        assert!(pin.device_grant_refusal().unwrap().contains("PIN"));
    }

    #[test]
    fn clients_stored_before_the_device_grant_permission_are_off() {
        let (client, _) =
            RegisteredClient::register("Space", vec![], vec![], ConfirmationMode::Tap, true, 0)
                .unwrap_or_else(|e| panic!("{e}"));
        let mut stored = serde_json::to_value(&client).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stored["device_grant"], true);
        stored
            .as_object_mut()
            .map(|fields| fields.remove("device_grant"));
        let old: RegisteredClient =
            serde_json::from_value(stored).unwrap_or_else(|e| panic!("{e}"));
        assert!(!old.device_grant);
        assert_eq!(old.id, client.id);
    }
}
