//! Mentra Live: the mobile service as the MentraOS app server for camera glasses without a
//! display (`shared/mentraos/app-protocol.md`).
//!
//! A session webhook makes this instance open the app socket for that wearer (to an
//! allow-listed cloud host only) and listen for the camera button. A short press asks the
//! glasses for a photo, uploaded to `/photo-upload` (on whichever instance the load balancer
//! picks: the pending photo and its outcome go through the store). A code of ours in it is
//! claimed as the wearer, who hears what would be signed in and where; a second short press
//! within [`CONFIRM_WINDOW`] approves, a long press or silence denies.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use qrlogin_auth::RequestId;
use qrlogin_auth::User;
use qrlogin_auth::events::PhotoWait;
use qrlogin_auth::flows;
use qrlogin_auth::glasses::{PendingPhoto, PhotoResult};
use qrlogin_mentra::app::{
    AppCredentials, AppSocket, CloudEvent, CloudHosts, PING_INTERVAL, Press, SocketError,
};
use qrlogin_web::client::{ClientInfo, describe_user_agent};
use qrlogin_web::{AppState, ErrorCode};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use url::Url;

use crate::routes::scan::decide_as;

/// How long the wearer has to confirm with a second press after hearing the prompt.
pub const CONFIRM_WINDOW: Duration = Duration::from_secs(10);
/// How long we wait for a requested photo to arrive (the pending photo's lifetime).
const PHOTO_WAIT: Duration = Duration::from_millis(qrlogin_auth::glasses::PHOTO_TTL_MS as u64);
/// Re-connecting after an abnormal close: at once, then after these pauses; all within the
/// cloud's 5 s grace period, after which it sends a new webhook instead.
const RECONNECT_PAUSES: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(1000),
    Duration::from_millis(2000),
];
/// What the audit trail and the rate limits see as the approving device.
const GLASSES_USER_AGENT: &str = "MentraOS (Mentra Live)";

/// The Mentra Live sessions this instance holds, by MentraOS session id.
pub struct Glasses {
    credentials: Option<AppCredentials>,
    hosts: CloudHosts,
    sessions: DashMap<String, Live>,
}

/// A running session: how to end it.
struct Live {
    stop: oneshot::Sender<()>,
    generation: u64,
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Mentra Live is off: set PACKAGE_NAME and MENTRAOS_API_KEY")]
    Off,
    #[error("the webhook names no WebSocket URL")]
    NoSocket,
    #[error("the webhook names a socket that is not ours to open: {0}")]
    HostNotAllowed(String),
    #[error(transparent)]
    Socket(#[from] SocketError),
}

impl Glasses {
    pub fn new(credentials: Option<AppCredentials>, hosts: CloudHosts) -> Self {
        Self {
            credentials,
            hosts,
            sessions: DashMap::new(),
        }
    }

    /// From `PACKAGE_NAME`, `MENTRAOS_API_KEY` and the allow-listed cloud hosts.
    pub fn from_settings(settings: &qrlogin_web::config::Settings) -> Self {
        let mentra = &settings.mentra;
        let credentials = match (&mentra.package_name, &mentra.api_key) {
            (Some(package_name), Some(api_key)) => Some(AppCredentials {
                package_name: package_name.clone(),
                api_key: api_key.clone(),
            }),
            _ => None,
        };
        Self::new(credentials, CloudHosts::new(mentra.cloud_hosts.clone()))
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Connects for a `session_request` and runs the session in the background. Idempotent
    /// per session id: a repeated webhook (a retry, or the cloud resurrecting the session)
    /// replaces the running session's socket with the new one.
    pub async fn start(
        self: &Arc<Self>,
        state: Arc<AppState>,
        request: &qrlogin_mentra::app::SessionRequest,
        cloud_ip: &str,
    ) -> Result<(), StartError> {
        let credentials = self.credentials.clone().ok_or(StartError::Off)?;
        let raw = request.socket_url().ok_or(StartError::NoSocket)?;
        let url = self.hosts.check(raw).map_err(StartError::HostNotAllowed)?;
        let socket =
            AppSocket::connect(&url, &credentials, &request.user_id, &request.session_id).await?;
        let (stop, stopped) = oneshot::channel();
        let generation = next_generation();
        if let Some(previous) = self
            .sessions
            .insert(request.session_id.clone(), Live { stop, generation })
        {
            let _ = previous.stop.send(());
        }
        let session = Session {
            glasses: Arc::clone(self),
            state,
            credentials,
            url,
            user_id: request.user_id.clone(),
            session_id: request.session_id.clone(),
            generation,
            client: ClientInfo {
                ip: cloud_ip.to_owned(),
                user_agent: GLASSES_USER_AGENT.to_owned(),
                request_id: None,
            },
        };
        tokio::spawn(session.run(socket, stopped));
        Ok(())
    }

    /// Ends the session (a `stop_request`); nothing to do for one we do not hold.
    pub fn stop(&self, session_id: &str) -> bool {
        match self.sessions.remove(session_id) {
            Some((_, live)) => {
                let _ = live.stop.send(());
                true
            }
            None => false,
        }
    }

    fn forget(&self, session_id: &str, generation: u64) {
        self.sessions
            .remove_if(session_id, |_, live| live.generation == generation);
    }
}

fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Where the wearer is in a sign-in.
enum Step {
    Idle,
    /// A photo was asked for; its upload's outcome is awaited.
    Photo {
        wait: PhotoWait,
        until: Instant,
    },
    /// The wearer heard the prompt for this request; a second press approves.
    Confirm {
        request: RequestId,
        until: Instant,
    },
}

impl Step {
    fn deadline(&self) -> Option<Instant> {
        match self {
            Self::Idle => None,
            Self::Photo { until, .. } | Self::Confirm { until, .. } => Some(*until),
        }
    }
}

struct Session {
    glasses: Arc<Glasses>,
    state: Arc<AppState>,
    credentials: AppCredentials,
    url: Url,
    user_id: String,
    session_id: String,
    generation: u64,
    client: ClientInfo,
}

/// What woke a session up.
enum Wake {
    Stop,
    Draining,
    Ping,
    Deadline,
    Photo(PhotoResult),
    Cloud(CloudEvent),
}

/// Why a session's loop ended.
enum End {
    /// Stopped by a webhook, a replacement, or this instance shutting down.
    Closed,
    /// The socket is gone and could not be brought back.
    Lost,
}

impl Session {
    fn wearer(&self) -> User {
        User::mentra(&self.user_id)
    }

    #[tracing::instrument(name = "glasses session", skip_all, fields(session = %self.session_id))]
    async fn run(self, mut socket: AppSocket, mut stopped: oneshot::Receiver<()>) {
        tracing::info!("Mentra Live session connected");
        metrics::gauge!("qrlogin_glasses_sessions").increment(1.0);
        let mut step = Step::Idle;
        let mut pings = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
        let end = loop {
            let deadline = step.deadline();
            let wake = tokio::select! {
                _ = &mut stopped => Wake::Stop,
                () = self.state.shutdown.draining() => Wake::Draining,
                _ = pings.tick() => Wake::Ping,
                () = sleep_until(deadline) => Wake::Deadline,
                result = photo_outcome(&mut step) => Wake::Photo(result),
                event = socket.next() => Wake::Cloud(event),
            };
            let event = match wake {
                Wake::Stop => {
                    socket.close(CloseCode::Normal, "session stopped").await;
                    break End::Closed;
                }
                Wake::Draining => {
                    // The cloud's grace period then brings the session back by webhook, to
                    // an instance that is not stopping.
                    socket.close(CloseCode::Away, "server restarting").await;
                    break End::Closed;
                }
                Wake::Ping => match socket.ping().await {
                    Ok(()) => continue,
                    Err(error) => CloudEvent::Closed {
                        code: None,
                        reason: error.to_string(),
                        r#final: false,
                    },
                },
                Wake::Deadline => {
                    step = self.time_out(&mut socket, step).await;
                    continue;
                }
                Wake::Photo(result) => {
                    step = self.photo_arrived(&mut socket, result).await;
                    continue;
                }
                Wake::Cloud(event) => event,
            };
            match event {
                CloudEvent::Button(press) => step = self.pressed(&mut socket, step, press).await,
                CloudEvent::PhotoFailed {
                    request_id,
                    message,
                } => {
                    if matches!(&step, Step::Photo { wait, .. } if wait.photo_id() == request_id) {
                        tracing::warn!(%message, "the glasses could not take the photo");
                        self.say(
                            &mut socket,
                            "The camera could not take a picture. Press again to try again.",
                        )
                        .await;
                        step = Step::Idle;
                    }
                }
                CloudEvent::Error { code, message } => {
                    tracing::warn!(%code, %message, "MentraOS refused a request of this session");
                }
                CloudEvent::Stopped => {
                    tracing::info!("the wearer stopped the app");
                    break End::Closed;
                }
                CloudEvent::Closed {
                    code,
                    reason,
                    r#final,
                } => {
                    if r#final {
                        tracing::info!(?code, %reason, "MentraOS closed the session");
                        break End::Closed;
                    }
                    tracing::warn!(?code, %reason, "the app socket dropped; reconnecting");
                    match self.reconnect().await {
                        Some(again) => socket = again,
                        None => break End::Lost,
                    }
                }
                CloudEvent::Other => {}
            }
        };
        if let Step::Confirm { request, .. } = &step {
            // Nobody is left to confirm: the request must not stay claimed by the wearer.
            self.deny(request).await;
        }
        if matches!(end, End::Lost) {
            tracing::warn!("the app socket could not be re-opened; waiting for a new webhook");
        }
        self.glasses.forget(&self.session_id, self.generation);
        metrics::gauge!("qrlogin_glasses_sessions").decrement(1.0);
    }

    async fn reconnect(&self) -> Option<AppSocket> {
        for pause in RECONNECT_PAUSES {
            tokio::time::sleep(pause).await;
            match AppSocket::connect(
                &self.url,
                &self.credentials,
                &self.user_id,
                &self.session_id,
            )
            .await
            {
                Ok(socket) => {
                    tracing::info!("the app socket is back");
                    return Some(socket);
                }
                Err(SocketError::Refused { code, message }) => {
                    tracing::warn!(%code, %message, "MentraOS refused the reconnection");
                    return None;
                }
                Err(SocketError::Failed(reason)) => {
                    tracing::warn!(%reason, "reconnecting failed");
                }
            }
        }
        None
    }

    /// Speaks to the wearer; a failure to send is left to the socket's next read to notice.
    async fn say(&self, socket: &mut AppSocket, text: &str) {
        if let Err(error) = socket.speak(&self.url, text).await {
            tracing::warn!(%error, "could not send speech");
        }
    }

    async fn pressed(&self, socket: &mut AppSocket, step: Step, press: Press) -> Step {
        match (step, press) {
            (Step::Idle, Press::Short) => self.ask_for_photo(socket).await,
            (Step::Idle, Press::Long) => Step::Idle,
            (photo @ Step::Photo { .. }, _) => photo,
            (Step::Confirm { request, .. }, Press::Short) => {
                self.approve(socket, &request).await;
                Step::Idle
            }
            (Step::Confirm { request, .. }, Press::Long) => {
                self.deny(&request).await;
                self.say(socket, "Cancelled. Nothing was signed in.").await;
                Step::Idle
            }
        }
    }

    async fn ask_for_photo(&self, socket: &mut AppSocket) -> Step {
        let (photo, token) = PendingPhoto::new(self.wearer(), self.state.now());
        if let Err(error) = self.state.store.insert_photo(&photo).await {
            tracing::warn!(%error, "cannot keep a pending photo");
            self.say(
                socket,
                "Sign-in is unavailable right now. Try again in a moment.",
            )
            .await;
            return Step::Idle;
        }
        let wait = self.state.store.events().expect_photo(&photo.id);
        let upload_url = format!(
            "{}/photo-upload",
            self.state
                .settings
                .mobile_public_url
                .as_str()
                .trim_end_matches('/')
        );
        if let Err(error) = socket.request_photo(&photo.id, &upload_url, &token).await {
            tracing::warn!(%error, "could not ask for a photo");
            return Step::Idle;
        }
        Step::Photo {
            wait,
            until: Instant::now() + PHOTO_WAIT,
        }
    }

    async fn photo_arrived(&self, socket: &mut AppSocket, result: PhotoResult) -> Step {
        let refusal = match result {
            PhotoResult::Claimed { request } => {
                match flows::load(&*self.state.store, &request, self.state.now()).await {
                    Ok(claimed) => {
                        let prompt = format!(
                            "Sign in to {} on {}? Press again to confirm.",
                            claimed.screen.client_name,
                            describe_user_agent(&claimed.screen.user_agent).replace(" on ", ", ")
                        );
                        self.say(socket, &prompt).await;
                        return Step::Confirm {
                            request,
                            until: Instant::now() + CONFIRM_WINDOW,
                        };
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot read the claimed request");
                        "That sign-in cannot be found any more. Start again on the screen."
                    }
                }
            }
            PhotoResult::NoCode => {
                "No sign-in code in view. Look at the code on the screen and press again."
            }
            PhotoResult::Refused { error } => spoken_refusal(&error),
        };
        self.say(socket, refusal).await;
        Step::Idle
    }

    async fn time_out(&self, socket: &mut AppSocket, step: Step) -> Step {
        match step {
            Step::Photo { .. } => {
                self.say(socket, "No picture arrived. Press again to try again.")
                    .await;
            }
            Step::Confirm { request, .. } => {
                self.deny(&request).await;
                self.say(socket, "Not confirmed, so nothing was signed in.")
                    .await;
            }
            Step::Idle => {}
        }
        Step::Idle
    }

    async fn approve(&self, socket: &mut AppSocket, request: &RequestId) {
        match decide_as(&self.state, self.wearer(), &self.client, request, true).await {
            Ok((_, Some(pin))) => {
                let digits: Vec<String> = pin.chars().map(String::from).collect();
                let text = format!("Approved. Type the PIN {} on the screen.", digits.join(" "));
                self.say(socket, &text).await;
            }
            Ok((_, None)) => {
                self.say(socket, "Approved. The screen is signing in.")
                    .await
            }
            Err(error) => {
                tracing::warn!(code = error.code.as_str(), "the approval was refused");
                self.say(socket, spoken_refusal(error.code.as_str())).await;
            }
        }
    }

    async fn deny(&self, request: &RequestId) {
        if let Err(error) =
            decide_as(&self.state, self.wearer(), &self.client, request, false).await
        {
            tracing::info!(code = error.code.as_str(), "the denial was refused");
        }
    }
}

/// What the wearer hears when a code of ours could not be used.
pub fn spoken_refusal(error: &str) -> &'static str {
    match error {
        e if e == ErrorCode::Expired.as_str() => {
            "That code has expired. Start again on the screen."
        }
        e if e == ErrorCode::Conflict.as_str() => {
            "Someone else already scanned that code. Nothing was signed in."
        }
        e if e == ErrorCode::NotFound.as_str() => {
            "No sign-in is waiting for that code. Start again on the screen."
        }
        e if e == ErrorCode::RateLimited.as_str() => {
            "Too many tries. Wait a minute, then try again."
        }
        e if e == ErrorCode::Forbidden.as_str() => {
            "That screen is on a different network, so it cannot be signed in from here."
        }
        _ => "That sign-in cannot be completed. Start again on the screen.",
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn photo_outcome(step: &mut Step) -> PhotoResult {
    match step {
        Step::Photo { wait, .. } => wait.outcome().await.result,
        _ => std::future::pending().await,
    }
}
