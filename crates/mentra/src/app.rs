//! The MentraOS app protocol (`shared/mentraos/app-protocol.md`), the part a camera-button
//! sign-in needs: the session webhook, the app WebSocket (init, button presses, photos,
//! speech, pings), and the allow-list that decides where our API key may be sent.
//!
//! We speak the v2 ("legacy") dialect, as the document recommends: no `sdkVersion`, re-init
//! after an abnormal close, a new webhook after a final one.

use std::time::{Duration, SystemTime};

use futures_util::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use url::{Host, Url};

/// From opening the socket to the cloud's acknowledgement (the cloud gives up on us after 6 s).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often we send the JSON `ping` both SDKs send.
pub const PING_INTERVAL: Duration = Duration::from_secs(15);

/// What the cloud POSTs to `/webhook`. It is unsigned: nothing in it is believed until the
/// cloud, reached on an allow-listed host with our API key, acknowledges the session.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Webhook {
    SessionRequest(SessionRequest),
    StopRequest(StopRequest),
}

impl Webhook {
    /// The session the call is about, whichever kind it is.
    pub fn session_id(&self) -> &str {
        match self {
            Self::SessionRequest(request) => &request.session_id,
            Self::StopRequest(stop) => &stop.session_id,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRequest {
    /// `<userId>-<packageName>`.
    pub session_id: String,
    /// The wearer's MentraOS user id (their lower-cased e-mail address).
    pub user_id: String,
    #[serde(default)]
    websocket_url: Option<String>,
    #[serde(default, rename = "mentraOSWebsocketUrl")]
    mentra_os_websocket_url: Option<String>,
    #[serde(default, rename = "augmentOSWebsocketUrl")]
    augment_os_websocket_url: Option<String>,
}

impl SessionRequest {
    /// The socket to open, in the SDK's order of preference.
    pub fn socket_url(&self) -> Option<&str> {
        [
            &self.websocket_url,
            &self.mentra_os_websocket_url,
            &self.augment_os_websocket_url,
        ]
        .into_iter()
        .find_map(|url| url.as_deref().filter(|url| !url.is_empty()))
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StopRequest {
    pub session_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The cloud hosts (`host`, or `host:port`) our API key may be sent to.
#[derive(Clone, Debug)]
pub struct CloudHosts(Vec<String>);

impl CloudHosts {
    /// Entries are normalised as a URL's host is (case, IDNA), so `Bücher.example` matches
    /// the `xn--bcher-kva.example` a parsed URL holds; an entry that is no host is dropped.
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Self {
        Self(
            hosts
                .into_iter()
                .filter_map(|entry| {
                    let url = Url::parse(&format!("wss://{}", entry.trim())).ok()?;
                    let host = url.host_str()?.to_owned();
                    Some(match url.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host,
                    })
                })
                .collect(),
        )
    }

    /// The socket URL, if it may be dialled: `wss://` to a listed host (`ws://` only to a
    /// listed loopback host: a cloud on this machine), on the port the entry names (the
    /// default one for an entry without a port).
    pub fn check(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("a socket URL with credentials in it".into());
        }
        let host = url.host_str().ok_or("a URL without a host")?.to_owned();
        let loopback = match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(name)) => name == "localhost",
            None => false,
        };
        match url.scheme() {
            "wss" => {}
            "ws" if loopback => {}
            scheme => return Err(format!("a `{scheme}://` socket (only wss:// is used)")),
        }
        let port = url.port_or_known_default();
        let listed = self.0.iter().any(|entry| match entry.rsplit_once(':') {
            Some((name, listed_port)) if listed_port.parse::<u16>().is_ok() => {
                name == host && listed_port.parse::<u16>().ok() == port
            }
            _ => *entry == host && url.port().is_none(),
        });
        if !listed {
            let authority = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            return Err(format!(
                "`{authority}` is not a MentraOS cloud host we trust (add it to MENTRAOS_CLOUD_HOSTS if it is one)"
            ));
        }
        Ok(url)
    }
}

/// The cloud's text-to-speech address for `text`, on the host of `socket` (absolute: the
/// phone fetches it itself).
pub fn speech_url(socket: &Url, text: &str) -> String {
    let mut url = socket.clone();
    // ws→http and wss→https are both changes between special schemes, which `Url` allows.
    let _ = url.set_scheme(if socket.scheme() == "ws" {
        "http"
    } else {
        "https"
    });
    url.set_path("/api/tts");
    url.set_query(None);
    url.set_fragment(None);
    url.query_pairs_mut().append_pair("text", text);
    url.into()
}

/// Our app as the developer console knows it.
#[derive(Clone)]
pub struct AppCredentials {
    pub package_name: String,
    pub api_key: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The cloud said no (a wrong key, the app not started, …): retrying will not help; a
    /// new webhook will come if the cloud wants us back.
    #[error("MentraOS refused the app connection: {code} ({message})")]
    Refused { code: String, message: String },
    /// The network or the cloud failed: worth another try.
    #[error("the MentraOS app connection failed: {0}")]
    Failed(String),
}

/// A press of the glasses' camera button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Press {
    Short,
    Long,
}

/// What arrives on the app socket, as far as we care.
#[derive(Debug, PartialEq, Eq)]
pub enum CloudEvent {
    Button(Press),
    /// The glasses could not take or deliver a photo we asked for.
    PhotoFailed {
        request_id: String,
        message: String,
    },
    /// The cloud refused something mid-session (it closes the socket next).
    Error {
        code: String,
        message: String,
    },
    /// The user stopped the app.
    Stopped,
    /// The socket is gone. `final` when the cloud meant it (stop, refusal): wait for a new
    /// webhook then; otherwise reconnect at once, within the cloud's grace period.
    Closed {
        code: Option<u16>,
        reason: String,
        r#final: bool,
    },
    Other,
}

/// One open, acknowledged app socket for one MentraOS session.
pub struct AppSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    package_name: String,
    session_id: String,
    /// When the cloud last sent anything (it pings every 10 s, and answers our pings).
    last_heard: tokio::time::Instant,
}

fn timestamp() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn header(value: &str) -> Result<HeaderValue, SocketError> {
    HeaderValue::from_str(value)
        .map_err(|_| SocketError::Failed("a header value that cannot be sent".into()))
}

impl AppSocket {
    /// Opens the socket, sends `tpa_connection_init`, waits for the acknowledgement and
    /// subscribes to the camera button. `url` must have passed [`CloudHosts::check`].
    pub async fn connect(
        url: &Url,
        credentials: &AppCredentials,
        user_id: &str,
        session_id: &str,
    ) -> Result<Self, SocketError> {
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            Self::handshake(url, credentials, user_id, session_id),
        )
        .await
        .map_err(|_| SocketError::Failed("no acknowledgement within 5 s".into()))?
    }

    async fn handshake(
        url: &Url,
        credentials: &AppCredentials,
        user_id: &str,
        session_id: &str,
    ) -> Result<Self, SocketError> {
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| SocketError::Failed(e.to_string()))?;
        let headers = request.headers_mut();
        headers.insert("x-user-id", header(user_id)?);
        headers.insert("x-session-id", header(session_id)?);
        headers.insert("x-package-name", header(&credentials.package_name)?);
        headers.insert("x-api-key", header(credentials.api_key.expose_secret())?);
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| match e {
                tungstenite::Error::Http(response)
                    if matches!(response.status().as_u16(), 401 | 403 | 404) =>
                {
                    SocketError::Refused {
                        code: format!("HTTP {}", response.status().as_u16()),
                        message: "the cloud refused the WebSocket upgrade".into(),
                    }
                }
                other => SocketError::Failed(other.to_string()),
            })?;
        let mut socket = Self {
            ws,
            package_name: credentials.package_name.clone(),
            session_id: session_id.to_owned(),
            last_heard: tokio::time::Instant::now(),
        };
        socket
            .send(json!({
                "type": "tpa_connection_init",
                "packageName": credentials.package_name,
                "sessionId": session_id,
                "apiKey": credentials.api_key.expose_secret(),
                "timestamp": timestamp(),
            }))
            .await?;
        loop {
            let message = match socket.ws.next().await {
                Some(Ok(message)) => message,
                Some(Err(error)) => return Err(SocketError::Failed(error.to_string())),
                None => {
                    return Err(SocketError::Failed(
                        "closed before the acknowledgement".into(),
                    ));
                }
            };
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    match value.get("type").and_then(Value::as_str) {
                        Some("tpa_connection_ack") => {
                            // The cloud says whose session this is (NEW clouds do): it must be
                            // the user the webhook named, or a claim would go to the wrong one.
                            match value.get("userId").and_then(Value::as_str) {
                                Some(acked) if !acked.eq_ignore_ascii_case(user_id) => {
                                    return Err(SocketError::Refused {
                                        code: "USER_MISMATCH".into(),
                                        message: "the cloud acknowledged another user".into(),
                                    });
                                }
                                _ => break,
                            }
                        }
                        Some("tpa_connection_error" | "connection_error") => {
                            let (code, message) = error_of(&value);
                            return Err(SocketError::Refused { code, message });
                        }
                        _ => {}
                    }
                }
                Message::Close(frame) => {
                    let (code, reason) = close_of(frame.as_ref());
                    let described = code.map_or_else(|| "closed".into(), |c| format!("close {c}"));
                    // 1008 is the cloud's "no" (§2.5); anything else may pass.
                    return Err(match code {
                        Some(1008) => SocketError::Refused {
                            code: described,
                            message: reason,
                        },
                        _ => SocketError::Failed(format!("{described} {reason}")),
                    });
                }
                _ => {}
            }
        }
        socket
            .send(json!({
                "type": "subscription_update",
                "packageName": socket.package_name,
                "sessionId": socket.session_id,
                "subscriptions": ["button_press"],
                "timestamp": timestamp(),
            }))
            .await?;
        Ok(socket)
    }

    /// Bounded, so a connection that stopped draining counts as dropped.
    async fn send(&mut self, message: Value) -> Result<(), SocketError> {
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.ws.send(Message::text(message.to_string())),
        )
        .await
        .map_err(|_| SocketError::Failed("the cloud stopped reading".into()))?
        .map_err(|e| SocketError::Failed(e.to_string()))
    }

    /// How long the cloud has been silent: far past its 10 s pings means a dead connection
    /// that TCP has not noticed.
    pub fn silent_for(&self) -> Duration {
        self.last_heard.elapsed()
    }

    pub async fn ping(&mut self) -> Result<(), SocketError> {
        self.send(json!({"type": "ping"})).await
    }

    /// Asks the glasses for a photo, uploaded to `upload_url` with `token` as its bearer.
    pub async fn request_photo(
        &mut self,
        request_id: &str,
        upload_url: &str,
        token: &SecretString,
    ) -> Result<(), SocketError> {
        let message = json!({
            "type": "photo_request",
            "packageName": self.package_name,
            "sessionId": self.session_id,
            "requestId": request_id,
            "timestamp": timestamp(),
            "saveToGallery": false,
            // 1920×1080: enough for a QR across a room, small enough to upload in a moment.
            "size": "large",
            "compress": "none",
            "customWebhookUrl": upload_url,
            "authToken": token.expose_secret(),
        });
        self.send(message).await
    }

    /// Speaks `text` through the cloud's text-to-speech, cutting off anything still playing.
    pub async fn speak(&mut self, socket_url: &Url, text: &str) -> Result<(), SocketError> {
        let message = json!({
            "type": "audio_play_request",
            "packageName": self.package_name,
            "sessionId": self.session_id,
            "requestId": format!("audio_req_{}", uuid::Uuid::new_v4().simple()),
            "timestamp": timestamp(),
            "audioUrl": speech_url(socket_url, text),
            "volume": 1.0,
            "stopOtherAudio": true,
            "trackId": 2,
        });
        self.send(message).await
    }

    /// The next thing the cloud says (pings are answered along the way). Cancel-safe.
    pub async fn next(&mut self) -> CloudEvent {
        loop {
            let message = match self.ws.next().await {
                Some(Ok(message)) => {
                    self.last_heard = tokio::time::Instant::now();
                    message
                }
                Some(Err(error)) => {
                    return CloudEvent::Closed {
                        code: None,
                        reason: error.to_string(),
                        r#final: false,
                    };
                }
                None => {
                    return CloudEvent::Closed {
                        code: None,
                        reason: "the connection ended".into(),
                        r#final: false,
                    };
                }
            };
            match message {
                Message::Text(text) => return parse_event(&text),
                Message::Close(frame) => {
                    let (code, reason) = close_of(frame.as_ref());
                    let r#final = matches!(code, Some(1000 | 1001 | 1008))
                        || reason.contains("App stopped")
                        || reason.contains("User session ended");
                    return CloudEvent::Closed {
                        code,
                        reason,
                        r#final,
                    };
                }
                _ => {}
            }
        }
    }

    /// Closes the socket. `GoingAway` (this instance is stopping) lets the cloud's grace
    /// period bring the session back through a new webhook, to a live instance.
    pub async fn close(mut self, code: CloseCode, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: reason.to_owned().into(),
        };
        // Best effort: the peer may be gone already.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(Some(frame))).await;
    }
}

fn error_of(value: &Value) -> (String, String) {
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("code"), text("message"))
}

fn close_of(frame: Option<&CloseFrame>) -> (Option<u16>, String) {
    match frame {
        Some(frame) => (Some(u16::from(frame.code)), frame.reason.to_string()),
        None => (None, String::new()),
    }
}

/// Reads one text message leniently, as the SDKs do.
fn parse_event(text: &str) -> CloudEvent {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return CloudEvent::Other;
    };
    let field = |value: &Value, names: &[&str]| {
        names
            .iter()
            .find_map(|name| value.get(*name).and_then(Value::as_str))
            .map(str::to_owned)
    };
    match value.get("type").and_then(Value::as_str) {
        Some("data_stream")
            if field(&value, &["streamType"]).as_deref() == Some("button_press") =>
        {
            let data = value.get("data").unwrap_or(&Value::Null);
            match field(data, &["pressType", "press_type"]).as_deref() {
                Some("long") => CloudEvent::Button(Press::Long),
                _ => CloudEvent::Button(Press::Short),
            }
        }
        Some("photo_response") if value.get("success").and_then(Value::as_bool) == Some(false) => {
            let error = value.get("error").unwrap_or(&Value::Null);
            CloudEvent::PhotoFailed {
                request_id: field(&value, &["requestId"]).unwrap_or_default(),
                message: field(error, &["message", "code"]).unwrap_or_default(),
            }
        }
        Some("tpa_connection_error" | "connection_error") => {
            let (code, message) = error_of(&value);
            CloudEvent::Error { code, message }
        }
        Some("app_stopped") => CloudEvent::Stopped,
        _ => CloudEvent::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> CloudHosts {
        CloudHosts::new(
            [
                "api.mentra.glass",
                "127.0.0.1:7000",
                "[::1]:7000",
                "Bücher.example",
            ]
            .into_iter()
            .map(str::to_owned),
        )
    }

    #[test]
    fn only_listed_hosts_on_wss_are_dialled() {
        let hosts = hosts();
        assert!(hosts.check("wss://api.mentra.glass/app-ws").is_ok());
        assert!(hosts.check("wss://API.mentra.glass/ws/miniapp").is_ok());
        assert!(hosts.check("ws://127.0.0.1:7000/app-ws").is_ok());
        assert!(hosts.check("ws://[::1]:7000/app-ws").is_ok());
        assert!(hosts.check("wss://xn--bcher-kva.example/app-ws").is_ok());
        assert!(hosts.check("wss://bücher.example/app-ws").is_ok());
        for refused in [
            "wss://user:pass@api.mentra.glass/app-ws",
            "wss://api.mentra.glass./app-ws",
            "wss://api.mentra.glass%2eevil.example/app-ws",
            "ws://[::1]:7001/app-ws",
            "ws://localhost:7000/app-ws",
            "ws://api.mentra.glass/app-ws",
            "https://api.mentra.glass/app-ws",
            "wss://api.mentra.glass:8443/app-ws",
            "wss://api.mentra.glass.evil.example/app-ws",
            "wss://evil.example/api.mentra.glass",
            "wss://api.mentra.glass@evil.example/app-ws",
            "ws://127.0.0.1:7001/app-ws",
            "ws://10.0.0.1:7000/app-ws",
            "not a url",
        ] {
            assert!(hosts.check(refused).is_err(), "{refused} was allowed");
        }
    }

    #[test]
    fn speech_comes_from_the_socket_host() -> Result<(), url::ParseError> {
        let url = speech_url(
            &Url::parse("wss://api.mentra.glass/app-ws")?,
            "Sign in to Space? Press again",
        );
        assert_eq!(
            url,
            "https://api.mentra.glass/api/tts?text=Sign+in+to+Space%3F+Press+again"
        );
        let local = speech_url(&Url::parse("ws://127.0.0.1:7000/ws/miniapp")?, "hi");
        assert_eq!(local, "http://127.0.0.1:7000/api/tts?text=hi");
        Ok(())
    }

    #[test]
    fn button_presses_are_read_leniently() {
        let press = |data: &str| {
            parse_event(&format!(
                r#"{{"type":"data_stream","streamType":"button_press","data":{data}}}"#
            ))
        };
        assert_eq!(
            press(r#"{"buttonId":"camera","pressType":"long"}"#),
            CloudEvent::Button(Press::Long)
        );
        assert_eq!(
            press(r#"{"press_type":"long"}"#),
            CloudEvent::Button(Press::Long)
        );
        assert_eq!(press(r#"{}"#), CloudEvent::Button(Press::Short));
        assert_eq!(parse_event("{not json"), CloudEvent::Other);
    }

    #[test]
    fn the_webhook_names_the_preferred_socket() -> Result<(), serde_json::Error> {
        let hook: Webhook = serde_json::from_str(
            r#"{"type":"session_request","sessionId":"a@b.c-pkg","userId":"a@b.c","timestamp":"x",
                "websocketUrl":"wss://h/ws/miniapp","mentraOSWebsocketUrl":"wss://h/app-ws"}"#,
        )?;
        let Webhook::SessionRequest(request) = hook else {
            panic!("not a session request");
        };
        assert_eq!(request.socket_url(), Some("wss://h/ws/miniapp"));
        let old: SessionRequest = serde_json::from_str(
            r#"{"sessionId":"s","userId":"u","augmentOSWebsocketUrl":"wss://h/app-ws"}"#,
        )?;
        assert_eq!(old.socket_url(), Some("wss://h/app-ws"));
        Ok(())
    }
}
