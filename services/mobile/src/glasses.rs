//! Mentra Live: the mobile service as the MentraOS app server for camera glasses without a
//! display (`shared/mentraos/app-protocol.md`).
//!
//! A session webhook makes this instance open the app socket for that wearer (to an
//! allow-listed cloud host only) and listen for the camera button. A short press asks the
//! glasses for a photo, uploaded to `/photo-upload` (on whichever instance the load balancer
//! picks: the pending photo and its outcome go through the store). A code of ours in it is
//! claimed as the wearer, who hears what would be signed in and where; a second short press
//! within [`CONFIRM_WINDOW`] approves, a long press or silence denies.
//!
//! One task per session holds its state; a new webhook for the session hands that task a new
//! socket, so nothing the wearer was doing is lost, and a forged one cannot end it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use qrlogin_auth::RequestId;
use qrlogin_auth::User;
use qrlogin_auth::events::PhotoWait;
use qrlogin_auth::glasses::{PendingPhoto, PhotoResult};
use qrlogin_auth::signin::{ApprovalProof, Caller, Decided, Decision};
use qrlogin_mentra::app::{
    AppCredentials, AppSocket, CloudEvent, CloudHosts, PING_INTERVAL, Press, SessionRequest,
    SocketError,
};
use qrlogin_web::client::ClientInfo;
use qrlogin_web::{AppState, ErrorCode};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use url::Url;

/// How long the wearer has to confirm with a second press after hearing the prompt.
pub const CONFIRM_WINDOW: Duration = Duration::from_secs(10);
/// How long we wait for a requested photo to arrive (the pending photo's lifetime).
const PHOTO_WAIT: Duration = Duration::from_millis(qrlogin_auth::glasses::PHOTO_TTL_MS as u64);
/// When an upload was accepted just as we gave up on it: how long its outcome may take
/// (a queue for a decoder, the decoding and the claim are each bounded well below this).
const LATE_OUTCOME_WAIT: Duration = Duration::from_secs(10);
/// Re-connecting after an abnormal close: at once, then after these pauses, all within the
/// cloud's 5 s grace period (after it, the cloud sends a new webhook instead).
const RECONNECT_AT: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(1000),
    Duration::from_millis(2500),
];
const GRACE_PERIOD: Duration = Duration::from_secs(5);
/// How long a session whose socket is gone waits for the cloud to hand it a new one (its
/// grace period, then a resurrection webhook) before it ends.
const ORPHAN_WAIT: Duration = Duration::from_secs(20);
/// The cloud pings every 10 s: this much silence is a dead connection TCP has not noticed.
const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// What the audit trail sees as the approving device.
const GLASSES_USER_AGENT: &str = "MentraOS (Mentra Live)";

/// The Mentra Live sessions this instance holds, by MentraOS session id.
pub struct Glasses {
    credentials: Option<AppCredentials>,
    hosts: CloudHosts,
    sessions: DashMap<String, Live>,
}

/// A running session: where a new socket for it goes.
struct Live {
    sockets: mpsc::Sender<AppSocket>,
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
    #[error("{0}")]
    NotTheWearers(&'static str),
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

    pub fn holds(&self, session_id: &str) -> bool {
        self.sessions.contains_key(&session_id.to_ascii_lowercase())
    }

    /// Connects for a `session_request` and runs the session in the background. Idempotent
    /// per session id: a repeated webhook (a retry, or the cloud resurrecting the session)
    /// gives the running session the new socket.
    pub async fn start(
        self: &Arc<Self>,
        state: Arc<AppState>,
        request: &SessionRequest,
        cloud_ip: &str,
    ) -> Result<(), StartError> {
        let credentials = self.credentials.clone().ok_or(StartError::Off)?;
        // The cloud names sessions `<userId>-<packageName>`; one that does not is not the
        // wearer's, whatever it claims (and would let a webhook pick another's session).
        let expected = format!("{}-{}", request.user_id, credentials.package_name);
        if request.user_id.is_empty() || !request.session_id.eq_ignore_ascii_case(&expected) {
            return Err(StartError::NotTheWearers(
                "The sessionId is not `<userId>-<packageName>` for this app.",
            ));
        }
        let raw = request.socket_url().ok_or(StartError::NoSocket)?;
        let url = self.hosts.check(raw).map_err(StartError::HostNotAllowed)?;
        let socket =
            AppSocket::connect(&url, &credentials, &request.user_id, &request.session_id).await?;
        let key = request.session_id.to_ascii_lowercase();
        let socket = match self.sessions.get(&key) {
            Some(live) => match live.sockets.try_send(socket) {
                Ok(()) => return Ok(()),
                // The task is ending (or swamped): start afresh.
                Err(refused) => refused.into_inner(),
            },
            None => socket,
        };
        let (sockets, receiver) = mpsc::channel(2);
        let generation = next_generation();
        self.sessions.insert(
            key.clone(),
            Live {
                sockets,
                generation,
            },
        );
        let session = Session {
            glasses: Arc::clone(self),
            state,
            credentials,
            url,
            user_id: request.user_id.to_ascii_lowercase(),
            session_id: request.session_id.clone(),
            key,
            generation,
            client: ClientInfo(Caller {
                ip: cloud_ip.to_owned(),
                user_agent: GLASSES_USER_AGENT.to_owned(),
                request_id: None,
            }),
        };
        tokio::spawn(session.run(socket, receiver));
        Ok(())
    }

    fn forget(&self, key: &str, generation: u64) {
        self.sessions
            .remove_if(key, |_, live| live.generation == generation);
    }
}

fn next_generation() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Where the wearer is in a sign-in.
enum Step {
    Idle,
    /// A photo was asked for; its upload's outcome is awaited. `late`: we gave up on it, but
    /// an upload got in first and its outcome is on the way.
    Photo {
        photo: PendingPhoto,
        wait: PhotoWait,
        until: Instant,
        late: bool,
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

/// What woke a session up.
enum Wake {
    Draining,
    Replaced(AppSocket),
    Ping,
    Deadline,
    Photo(PhotoResult),
    Cloud(CloudEvent),
    Reconnect,
    Reconnected(Result<AppSocket, SocketError>),
}

type Connecting = Pin<Box<dyn Future<Output = Result<AppSocket, SocketError>> + Send>>;

/// The socket, or how it is being brought back.
struct Link {
    socket: Option<AppSocket>,
    /// When the socket went, while it is gone.
    down_since: Option<Instant>,
    attempts: usize,
    connecting: Option<Connecting>,
}

impl Link {
    fn up(socket: AppSocket) -> Self {
        Self {
            socket: Some(socket),
            down_since: None,
            attempts: 0,
            connecting: None,
        }
    }

    /// When to try reconnecting next, if it is time to try at all.
    fn next_attempt(&self) -> Option<Instant> {
        match (self.down_since, &self.connecting) {
            (Some(since), None) => RECONNECT_AT.get(self.attempts).map(|pause| since + *pause),
            _ => None,
        }
    }

    /// When to stop waiting for the cloud to hand us a new socket.
    fn orphaned_at(&self) -> Option<Instant> {
        self.down_since.map(|since| since + ORPHAN_WAIT)
    }
}

struct Session {
    glasses: Arc<Glasses>,
    state: Arc<AppState>,
    credentials: AppCredentials,
    url: Url,
    user_id: String,
    session_id: String,
    /// The session id as the sessions map keys it.
    key: String,
    generation: u64,
    client: ClientInfo,
}

impl Session {
    fn wearer(&self) -> User {
        User::mentra(&self.user_id)
    }

    #[tracing::instrument(name = "glasses session", skip_all, fields(session = ?self.session_id))]
    async fn run(self, socket: AppSocket, mut sockets: mpsc::Receiver<AppSocket>) {
        tracing::info!("Mentra Live session connected");
        metrics::gauge!("qrlogin_glasses_sessions").increment(1.0);
        let mut link = Link::up(socket);
        let mut step = Step::Idle;
        let mut pings = tokio::time::interval_at(Instant::now() + PING_INTERVAL, PING_INTERVAL);
        loop {
            let deadline = step.deadline();
            let connected = link.socket.is_some();
            let next_attempt = link.next_attempt();
            let orphaned_at = link.orphaned_at();
            let wake = tokio::select! {
                () = self.state.shutdown.draining() => Wake::Draining,
                Some(socket) = sockets.recv() => Wake::Replaced(socket),
                _ = pings.tick(), if connected => Wake::Ping,
                () = sleep_until(deadline) => Wake::Deadline,
                result = photo_outcome(&mut step) => Wake::Photo(result),
                event = next_event(&mut link.socket) => Wake::Cloud(event),
                () = sleep_until(next_attempt) => Wake::Reconnect,
                result = finish_connecting(&mut link.connecting) => Wake::Reconnected(result),
                () = sleep_until(orphaned_at) => break,
            };
            match wake {
                Wake::Draining => {
                    // The cloud's grace period then brings the session back by webhook, to
                    // an instance that is not stopping.
                    if let Some(socket) = link.socket.take() {
                        socket.close(CloseCode::Away, "server restarting").await;
                    }
                    break;
                }
                Wake::Replaced(socket) => {
                    if let Some(old) = link.socket.take() {
                        old.close(CloseCode::Normal, "replaced by a new connection")
                            .await;
                    }
                    tracing::info!("the cloud handed this session a new socket");
                    link = Link::up(socket);
                }
                Wake::Ping => {
                    let silent = link
                        .socket
                        .as_ref()
                        .is_some_and(|socket| socket.silent_for() > SILENCE_LIMIT);
                    let sent = match link.socket.as_mut() {
                        Some(socket) if !silent => socket.ping().await.is_ok(),
                        _ => false,
                    };
                    if !sent {
                        tracing::warn!(silent, "the app socket is dead; reconnecting");
                        self.dropped(&mut link);
                    }
                }
                Wake::Deadline => step = self.time_out(&mut link, step).await,
                Wake::Photo(result) => step = self.photo_arrived(&mut link, result).await,
                Wake::Reconnect => {
                    link.attempts += 1;
                    let since = link.down_since.unwrap_or_else(Instant::now);
                    let budget = (since + GRACE_PERIOD).saturating_duration_since(Instant::now());
                    let (url, credentials) = (self.url.clone(), self.credentials.clone());
                    let (user_id, session_id) = (self.user_id.clone(), self.session_id.clone());
                    link.connecting = Some(Box::pin(async move {
                        tokio::time::timeout(
                            budget.max(Duration::from_millis(500)),
                            AppSocket::connect(&url, &credentials, &user_id, &session_id),
                        )
                        .await
                        .map_err(|_| SocketError::Failed("out of time".into()))?
                    }));
                }
                Wake::Reconnected(Ok(socket)) => {
                    tracing::info!("the app socket is back");
                    link = Link::up(socket);
                }
                Wake::Reconnected(Err(SocketError::Refused { code, message })) => {
                    // No more tries; the cloud may still hand us a socket by webhook.
                    tracing::warn!(%code, ?message, "MentraOS refused the reconnection");
                    link.attempts = RECONNECT_AT.len();
                }
                Wake::Reconnected(Err(SocketError::Failed(reason))) => {
                    tracing::warn!(?reason, "reconnecting failed");
                }
                Wake::Cloud(event) => match event {
                    CloudEvent::Button(press) => {
                        step = self.pressed(&mut link, step, press).await;
                    }
                    CloudEvent::PhotoFailed {
                        request_id,
                        message,
                    } => {
                        if matches!(&step, Step::Photo { photo, .. } if photo.id == request_id) {
                            tracing::warn!(?message, "the glasses could not take the photo");
                            step = self
                                .give_up_on_photo(
                                    &mut link,
                                    step,
                                    "The camera could not take a picture. Press again to try again.",
                                )
                                .await;
                        }
                    }
                    CloudEvent::Error { code, message } => {
                        if code == "PERMISSION_DENIED" {
                            tracing::error!(
                                ?message,
                                "MentraOS refused a photo: give the app the Camera permission in the MentraOS developer console"
                            );
                        } else {
                            tracing::warn!(%code, ?message, "MentraOS refused a request of this session");
                        }
                    }
                    CloudEvent::Stopped => {
                        tracing::info!("the wearer stopped the app");
                        break;
                    }
                    CloudEvent::Closed {
                        code,
                        reason,
                        r#final,
                    } => {
                        link.socket = None;
                        if r#final {
                            tracing::info!(?code, ?reason, "MentraOS closed the session");
                            break;
                        }
                        tracing::warn!(?code, ?reason, "the app socket dropped; reconnecting");
                        self.dropped(&mut link);
                    }
                    CloudEvent::Other => {}
                },
            }
        }
        self.glasses.forget(&self.key, self.generation);
        self.wind_up(step).await;
        metrics::gauge!("qrlogin_glasses_sessions").decrement(1.0);
        tracing::info!("Mentra Live session ended");
    }

    fn dropped(&self, link: &mut Link) {
        link.socket = None;
        link.connecting = None;
        link.down_since = Some(Instant::now());
        link.attempts = 0;
    }

    /// Nobody is left to confirm: nothing may stay claimed by the wearer.
    async fn wind_up(&self, step: Step) {
        match step {
            Step::Idle => {}
            Step::Confirm { request, .. } => self.deny(&request).await,
            Step::Photo {
                photo, mut wait, ..
            } => {
                if !self.claim_upload_slot(&photo).await {
                    // An upload got in first: its claim must not outlive us.
                    let heard = tokio::time::timeout(LATE_OUTCOME_WAIT, wait.outcome())
                        .await
                        .ok()
                        .map(|outcome| outcome.result);
                    let result = match heard {
                        Some(result) => Some(result),
                        None => self.stored_outcome(&photo).await,
                    };
                    if let Some(PhotoResult::Claimed { request }) = result {
                        self.deny(&request).await;
                    }
                }
            }
        }
    }

    /// Takes the photo's single upload for ourselves, so no upload can claim anything after
    /// we stopped waiting. `false` when an upload already took it.
    async fn claim_upload_slot(&self, photo: &PendingPhoto) -> bool {
        match self.state.signin.take_photo_upload(photo).await {
            Ok(()) => true,
            Err(taken) if taken.code == ErrorCode::Conflict => false,
            Err(error) => {
                // The upload needs the same store, so it cannot get in either.
                tracing::warn!(?error, "cannot close the photo's upload");
                true
            }
        }
    }

    /// Stops waiting for a photo (telling the wearer `why`), unless an upload already got in:
    /// then its outcome is waited for a little longer.
    async fn give_up_on_photo(&self, link: &mut Link, step: Step, why: &str) -> Step {
        let Step::Photo {
            photo, wait, late, ..
        } = step
        else {
            return step;
        };
        if !late && !self.claim_upload_slot(&photo).await {
            // An upload got in first. Its event may have been lost (a subscription that was
            // reconnecting): the stored outcome says; else it is still on its way.
            if let Some(result) = self.stored_outcome(&photo).await {
                return self.photo_arrived(link, result).await;
            }
            return Step::Photo {
                photo,
                wait,
                until: Instant::now() + LATE_OUTCOME_WAIT,
                late: true,
            };
        }
        if late && let Some(PhotoResult::Claimed { request }) = self.stored_outcome(&photo).await {
            // Too late to ask the wearer now: what the upload claimed is let go.
            self.deny(&request).await;
        }
        self.say(link, why).await;
        Step::Idle
    }

    /// What the upload of `photo` led to, as the store kept it.
    async fn stored_outcome(&self, photo: &PendingPhoto) -> Option<PhotoResult> {
        match self.state.signin.stored_photo_outcome(photo).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::warn!(?error, "cannot read a photo's outcome");
                None
            }
        }
    }

    /// Speaks to the wearer, if the socket is there (a failure to send is noticed by the
    /// socket's next read).
    async fn say(&self, link: &mut Link, text: &str) {
        match link.socket.as_mut() {
            Some(socket) => {
                if let Err(error) = socket.speak(&self.url, text).await {
                    tracing::warn!(%error, "could not send speech");
                }
            }
            None => tracing::warn!(text, "nothing spoken: the app socket is down"),
        }
    }

    async fn pressed(&self, link: &mut Link, step: Step, press: Press) -> Step {
        match (step, press) {
            (Step::Idle, Press::Short) => self.ask_for_photo(link).await,
            (Step::Idle, Press::Long) => Step::Idle,
            (photo @ Step::Photo { .. }, _) => photo,
            (Step::Confirm { request, .. }, Press::Short) => {
                self.approve(link, &request).await;
                Step::Idle
            }
            (Step::Confirm { request, .. }, Press::Long) => {
                self.deny(&request).await;
                self.say(link, "Cancelled. Nothing was signed in.").await;
                Step::Idle
            }
        }
    }

    async fn ask_for_photo(&self, link: &mut Link) -> Step {
        let (photo, token, wait) = match self.state.signin.ask_for_photo(self.wearer()).await {
            Ok(asked) => asked,
            Err(error) => {
                tracing::warn!(?error, "cannot keep a pending photo");
                self.say(
                    link,
                    "Sign-in is unavailable right now. Try again in a moment.",
                )
                .await;
                return Step::Idle;
            }
        };
        let upload_url = format!(
            "{}/photo-upload",
            self.state
                .settings
                .mobile_public_url
                .as_str()
                .trim_end_matches('/')
        );
        let Some(socket) = link.socket.as_mut() else {
            return Step::Idle;
        };
        if let Err(error) = socket.request_photo(&photo.id, &upload_url, &token).await {
            tracing::warn!(%error, "could not ask for a photo");
            return Step::Idle;
        }
        Step::Photo {
            photo,
            wait,
            until: Instant::now() + PHOTO_WAIT,
            late: false,
        }
    }

    async fn photo_arrived(&self, link: &mut Link, result: PhotoResult) -> Step {
        let refusal = match result {
            PhotoResult::Claimed { request } => {
                match self
                    .state
                    .signin
                    .claimant_prompt(&self.wearer(), &request)
                    .await
                {
                    Ok(prompt) => {
                        self.say(link, &prompt.spoken()).await;
                        return Step::Confirm {
                            request,
                            until: Instant::now() + CONFIRM_WINDOW,
                        };
                    }
                    Err(error) => {
                        tracing::warn!(?error, "cannot read the claimed request");
                        self.deny(&request).await;
                        "That sign-in cannot be completed. Start again on the screen.".to_owned()
                    }
                }
            }
            PhotoResult::NoCode => {
                "No sign-in code in view. Look at the code on the screen and press again."
                    .to_owned()
            }
            PhotoResult::Refused { error, message } => spoken_refusal(&error, message),
        };
        self.say(link, &refusal).await;
        Step::Idle
    }

    async fn time_out(&self, link: &mut Link, step: Step) -> Step {
        match step {
            photo @ Step::Photo { .. } => {
                self.give_up_on_photo(link, photo, "No picture arrived. Press again to try again.")
                    .await
            }
            Step::Confirm { request, .. } => {
                self.deny(&request).await;
                self.say(link, "Not confirmed, so nothing was signed in.")
                    .await;
                Step::Idle
            }
            Step::Idle => Step::Idle,
        }
    }

    async fn approve(&self, link: &mut Link, request: &RequestId) {
        let approved = self
            .state
            .signin
            .decide(
                &self.client,
                self.wearer(),
                request,
                Decision::Approve(ApprovalProof::GlassesButton),
            )
            .await;
        match approved {
            Ok(Decided { pin: Some(pin), .. }) => {
                let digits: Vec<String> = pin.chars().map(String::from).collect();
                let text = format!("Approved. Type the PIN {} on the screen.", digits.join(" "));
                self.say(link, &text).await;
            }
            Ok(Decided { pin: None, .. }) => {
                self.say(link, "Approved. The screen is signing in.").await;
            }
            Err(error) => {
                tracing::warn!(code = error.code.as_str(), "the approval was refused");
                let text = spoken_refusal(error.code.as_str(), Some(error.message.into_owned()));
                self.say(link, &text).await;
            }
        }
    }

    async fn deny(&self, request: &RequestId) {
        let denied = self
            .state
            .signin
            .decide(&self.client, self.wearer(), request, Decision::Deny)
            .await;
        if let Err(error) = denied {
            tracing::info!(code = error.code.as_str(), "the denial was refused");
        }
    }
}

/// What the wearer hears when a code of ours could not be used. Refusals the use-case layer
/// words for the wearer (several codes in view, a screen on another network) are spoken as
/// they are; the others by their code.
pub fn spoken_refusal(error: &str, message: Option<String>) -> String {
    let spoken = match error {
        e if e == ErrorCode::SeveralCodes.as_str() || e == ErrorCode::Forbidden.as_str() => {
            if let Some(message) = message {
                return message;
            }
            "That sign-in is not allowed from your glasses. Nothing was signed in."
        }
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
        e if e == ErrorCode::UpstreamError.as_str() => {
            "The camera could not take a picture. Press again to try again."
        }
        _ => "That sign-in cannot be completed. Start again on the screen.",
    };
    spoken.to_owned()
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

async fn next_event(socket: &mut Option<AppSocket>) -> CloudEvent {
    match socket {
        Some(socket) => socket.next().await,
        None => std::future::pending().await,
    }
}

async fn finish_connecting(connecting: &mut Option<Connecting>) -> Result<AppSocket, SocketError> {
    match connecting {
        Some(future) => {
            let result = future.as_mut().await;
            *connecting = None;
            result
        }
        None => std::future::pending().await,
    }
}
