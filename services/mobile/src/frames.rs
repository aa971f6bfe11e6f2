//! Reading the code in a camera frame, for `POST /api/frames`: off the async executor, a few
//! at a time, each within the decoder's time budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use qrlogin_qr::decode::{DEFAULT_BUDGET, Luma, read_all};
use qrlogin_web::{ApiError, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Frames and photos refused before decoding, by reason (`one_at_a_time`, `resting`, `busy`).
pub const FRAMES_REFUSED: &str = "qrlogin_frames_refused_total";

/// The largest frame accepted: a 4096×4096 JPEG of a busy scene fits.
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;
/// How long a frame may wait for a free decoder before the phone is told to try again.
const QUEUE_WAIT: Duration = Duration::from_secs(2);
/// After a frame, its user rests this many times as long as it took to decode, so one user
/// holds at most a quarter of a decoder however fast they send. A camera frame decodes in
/// tens of milliseconds (the phone page sends one every third of a second and never
/// notices); a picture built to be slow makes its sender wait in proportion.
const REST_PER_DECODE: u32 = 3;
/// A frame that arrives during a rest this short waits it out on the server (it holds the
/// user's one turn meanwhile); during a longer one it is refused with `Retry-After`.
const LONGEST_WAITED_REST: Duration = Duration::from_secs(1);
/// Users remembered (reading or resting) before those done resting are forgotten.
const REMEMBERED_USERS: usize = 10_000;
const IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// Who a picture is read for: each has its own share of the decoders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reader {
    /// A signed-in phone's camera frame: one at a time per user.
    Phone(String),
    /// A photo the glasses took when asked (a token names each, so they cannot flood).
    Glasses,
}

/// One per instance: phones' frames are decoded on at most half the cores at once (at least
/// one), so a burst of frames queues (briefly) instead of starving every other request, the
/// health probes included, of CPU. (Where a container's CPU limit is below the node's core
/// count, the count still comes from the node: size replicas' CPU accordingly.)
///
/// Fair shares: a user has at most one frame reading or waiting (a second is refused at once:
/// a phone waits for each answer) and rests after each in proportion to its cost, both decided
/// before the body is read; the queue serves in order of arrival, so everyone else has their
/// turn between that user's frames. The glasses' photos have a decoder of their own, so no
/// number of phones can starve them.
pub struct FrameReader {
    phone_decoders: Arc<Semaphore>,
    glasses_decoder: Arc<Semaphore>,
    users: Arc<Mutex<HashMap<String, Share>>>,
}

/// A phone user's use of the decoders.
#[derive(Clone, Copy)]
enum Share {
    Reading,
    RestingUntil(Instant),
}

impl Default for FrameReader {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_decoders((cores / 2).max(1))
    }
}

/// A phone user's turn at the decoders: when dropped, the user rests in proportion to the
/// time their frame took to decode.
pub struct Turn {
    users: Arc<Mutex<HashMap<String, Share>>>,
    user: String,
    decoding: Duration,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let rest = self.decoding * REST_PER_DECODE;
        self.users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                self.user.clone(),
                Share::RestingUntil(Instant::now() + rest),
            );
    }
}

/// A picture accepted for reading: its reader's turn is held from before its body is read
/// until its answer.
pub struct Reading {
    pool: Arc<Semaphore>,
    turn: Option<Turn>,
}

impl FrameReader {
    pub fn with_decoders(phone_decoders: usize) -> Self {
        Self {
            phone_decoders: Arc::new(Semaphore::new(phone_decoders)),
            glasses_decoder: Arc::new(Semaphore::new(1)),
            users: Arc::default(),
        }
    }

    /// Accepts a picture of `content_type` for `reader`, or refuses it before its body is
    /// read: the wrong type, or a phone user still reading or with a long rest ahead (a short
    /// one is waited out here).
    pub async fn begin(
        &self,
        reader: &Reader,
        content_type: Option<&str>,
    ) -> Result<Reading, ApiError> {
        let essence = content_type
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        if !essence.is_some_and(|t| IMAGE_TYPES.contains(&t.as_str())) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the camera frame as image/jpeg, image/png or image/webp.",
            ));
        }
        let (pool, turn) = match reader {
            Reader::Phone(user) => {
                let (turn, rest) = self.turn(user)?;
                tokio::time::sleep(rest).await;
                (&self.phone_decoders, Some(turn))
            }
            Reader::Glasses => (&self.glasses_decoder, None),
        };
        Ok(Reading {
            pool: Arc::clone(pool),
            turn,
        })
    }

    /// The user's turn, and the rest still to wait before it starts.
    fn turn(&self, user: &str) -> Result<(Turn, Duration), ApiError> {
        let now = Instant::now();
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        if users.len() >= REMEMBERED_USERS {
            users.retain(|_, share| !matches!(share, Share::RestingUntil(until) if *until <= now));
        }
        let refused = |reason: &'static str, message: &'static str, wait: Option<Duration>| {
            metrics::counter!(FRAMES_REFUSED, "reason" => reason).increment(1);
            let mut error = ApiError::new(ErrorCode::RateLimited, message);
            error.retry_after_seconds =
                wait.map(|wait| u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX));
            error
        };
        match users.get(user) {
            Some(Share::Reading) => Err(refused(
                "one_at_a_time",
                "Your last picture is still being read: wait for its answer before sending another.",
                None,
            )),
            Some(Share::RestingUntil(until)) if *until > now + LONGEST_WAITED_REST => Err(refused(
                "resting",
                "Your last picture took long to read: send the next one in a moment.",
                Some(*until - now),
            )),
            resting => {
                let rest = match resting {
                    Some(Share::RestingUntil(until)) => until.saturating_duration_since(now),
                    _ => Duration::ZERO,
                };
                users.insert(user.to_owned(), Share::Reading);
                let turn = Turn {
                    users: Arc::clone(&self.users),
                    user: user.to_owned(),
                    decoding: Duration::ZERO,
                };
                Ok((turn, rest))
            }
        }
    }
}

impl Reading {
    /// Waits for a decoder (in order of arrival, at most `QUEUE_WAIT`) and reads every code in
    /// the picture.
    pub async fn decode(mut self, body: actix_web::web::Bytes) -> Result<Vec<String>, ApiError> {
        let busy = || {
            metrics::counter!(FRAMES_REFUSED, "reason" => "busy").increment(1);
            ApiError::new(
                ErrorCode::Unavailable,
                "The server is busy reading other pictures; try again in a moment.",
            )
        };
        let permit: OwnedSemaphorePermit =
            tokio::time::timeout(QUEUE_WAIT, Arc::clone(&self.pool).acquire_owned())
                .await
                .map_err(|_| busy())?
                .map_err(|_| busy())?;
        let started = Instant::now();
        let decoded = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            Luma::from_image(&body).map(|frame| read_all(&frame, DEFAULT_BUDGET))
        })
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the frame decoder stopped: {e}")))?;
        if let Some(turn) = &mut self.turn {
            turn.decoding = started.elapsed();
        }
        decoded.map_err(|e| ApiError::invalid(format!("The picture cannot be used: {e}.")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(user: &str) -> Reader {
        Reader::Phone(user.to_owned())
    }

    const PNG: Option<&str> = Some("image/png");

    #[tokio::test]
    async fn a_user_has_one_frame_at_a_time_and_others_are_not_held_up_by_it() {
        let frames = FrameReader::with_decoders(2);
        let mallory = frames.begin(&phone("mallory"), PNG).await.unwrap();
        let second = frames
            .begin(&phone("mallory"), PNG)
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            second.code,
            ErrorCode::RateLimited,
            "refused at once, not queued"
        );
        let _alice = frames
            .begin(&phone("alice"), PNG)
            .await
            .expect("alice is served meanwhile");
        drop(mallory);
        let _next = frames
            .begin(&phone("mallory"), PNG)
            .await
            .expect("her next frame, once the last is read quickly");
    }

    /// What a frame that took `decoding` to read leaves its user with.
    fn decoded_for(frames: &FrameReader, user: &str, decoding: Duration) {
        let (mut turn, _) = frames.turn(user).unwrap();
        turn.decoding = decoding;
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_picture_makes_its_sender_rest_three_times_as_long() {
        let frames = FrameReader::with_decoders(1);
        decoded_for(&frames, "mallory", Duration::from_secs(2));
        let resting = frames
            .begin(&phone("mallory"), PNG)
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(resting.code, ErrorCode::RateLimited);
        assert_eq!(
            resting.retry_after_seconds,
            Some(6),
            "twice three seconds, rounded up"
        );
        let _alice = frames
            .begin(&phone("alice"), PNG)
            .await
            .expect("only the slow sender rests");
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_rest_is_waited_out_instead_of_refused() {
        let frames = FrameReader::with_decoders(1);
        decoded_for(&frames, "alice", Duration::from_millis(200));
        let asked = Instant::now();
        let _next = frames
            .begin(&phone("alice"), PNG)
            .await
            .expect("a rest under a second is waited out");
        assert_eq!(asked.elapsed(), Duration::from_millis(600));
    }

    #[tokio::test]
    async fn the_wrong_type_is_refused_before_anything_is_read() {
        let frames = FrameReader::with_decoders(1);
        let refused = frames
            .begin(&phone("alice"), Some("text/plain"))
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::UnsupportedMediaType);
        let _next = frames
            .begin(&phone("alice"), PNG)
            .await
            .expect("a refused type takes no turn");
    }

    #[tokio::test]
    async fn the_glasses_read_while_phones_hold_every_decoder() {
        let frames = FrameReader::with_decoders(1);
        let _phone = Arc::clone(&frames.phone_decoders)
            .acquire_owned()
            .await
            .unwrap();
        let photo = frames
            .begin(&Reader::Glasses, Some("image/jpeg"))
            .await
            .unwrap();
        let read = photo
            .decode(actix_web::web::Bytes::from_static(b"not a jpeg"))
            .await
            .unwrap_err();
        assert_eq!(
            read.code,
            ErrorCode::InvalidRequest,
            "read at once by the glasses' own decoder, not refused as busy: {read}"
        );
    }
}
