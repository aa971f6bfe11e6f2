//! Reading the code in a camera frame, for `POST /api/frames`: off the async executor, a few
//! at a time, each within the decoder's time budget.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use qrlogin_qr::decode::{DEFAULT_BUDGET, Luma, read_all};
use qrlogin_web::{ApiError, ErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Frames and photos refused before decoding, by reason (`one_at_a_time`, `busy`).
pub const FRAMES_REFUSED: &str = "qrlogin_frames_refused_total";

/// The largest frame accepted: a 4096×4096 JPEG of a busy scene fits.
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;
/// How long a frame may wait for a free decoder before the phone is told to try again.
const QUEUE_WAIT: Duration = Duration::from_secs(2);
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
/// Fair shares: a user has at most one frame decoding or waiting (a second is refused at once:
/// a phone waits for each answer), so one user holds at most one decoder and the queue, which
/// serves in order of arrival, gives everyone else their turn between that user's frames. The
/// glasses' photos have a decoder of their own, so no number of phones can starve them.
pub struct FrameReader {
    phone_decoders: Arc<Semaphore>,
    glasses_decoder: Arc<Semaphore>,
    reading: Arc<Mutex<HashSet<String>>>,
}

impl Default for FrameReader {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_decoders((cores / 2).max(1))
    }
}

/// A phone user's turn at the decoders: given back when dropped.
struct Turn {
    reading: Arc<Mutex<HashSet<String>>>,
    user: String,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.reading
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.user);
    }
}

impl FrameReader {
    pub fn with_decoders(phone_decoders: usize) -> Self {
        Self {
            phone_decoders: Arc::new(Semaphore::new(phone_decoders)),
            glasses_decoder: Arc::new(Semaphore::new(1)),
            reading: Arc::default(),
        }
    }

    /// The phone user's turn (none for the glasses, whose photos come one per token).
    fn turn(&self, reader: &Reader) -> Result<Option<Turn>, ApiError> {
        let Reader::Phone(user) = reader else {
            return Ok(None);
        };
        let mut reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        if !reading.insert(user.clone()) {
            metrics::counter!(FRAMES_REFUSED, "reason" => "one_at_a_time").increment(1);
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                "Your last picture is still being read: wait for its answer before sending another.",
            ));
        }
        Ok(Some(Turn {
            reading: Arc::clone(&self.reading),
            user: user.clone(),
        }))
    }

    /// A decoder for `reader`, waited for in turn; what it holds is given back when dropped.
    async fn decoder(
        &self,
        reader: &Reader,
    ) -> Result<(Option<Turn>, OwnedSemaphorePermit), ApiError> {
        let turn = self.turn(reader)?;
        let pool = match reader {
            Reader::Phone(_) => &self.phone_decoders,
            Reader::Glasses => &self.glasses_decoder,
        };
        let busy = || {
            metrics::counter!(FRAMES_REFUSED, "reason" => "busy").increment(1);
            ApiError::new(
                ErrorCode::Unavailable,
                "The server is busy reading other pictures; try again in a moment.",
            )
        };
        let permit = tokio::time::timeout(QUEUE_WAIT, Arc::clone(pool).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        Ok((turn, permit))
    }

    pub async fn read(
        &self,
        reader: &Reader,
        content_type: Option<&str>,
        body: actix_web::web::Bytes,
    ) -> Result<Vec<String>, ApiError> {
        let essence = content_type
            .and_then(|t| t.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase());
        if !essence.is_some_and(|t| IMAGE_TYPES.contains(&t.as_str())) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "Send the camera frame as image/jpeg, image/png or image/webp.",
            ));
        }
        let decoder = self.decoder(reader).await?;
        let decoded = tokio::task::spawn_blocking(move || {
            let _decoder = decoder;
            Luma::from_image(&body).map(|frame| read_all(&frame, DEFAULT_BUDGET))
        })
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the frame decoder stopped: {e}")))?;
        decoded.map_err(|e| ApiError::invalid(format!("The picture cannot be used: {e}.")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phone(user: &str) -> Reader {
        Reader::Phone(user.to_owned())
    }

    #[tokio::test]
    async fn a_user_has_one_frame_at_a_time_and_others_are_not_held_up_by_it() {
        let frames = FrameReader::with_decoders(2);
        let mallory = frames.decoder(&phone("mallory")).await.unwrap();
        let second = frames
            .decoder(&phone("mallory"))
            .await
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            second.code,
            ErrorCode::RateLimited,
            "refused at once, not queued"
        );
        let _alice = frames
            .decoder(&phone("alice"))
            .await
            .expect("alice is served meanwhile");
        drop(mallory);
        let _next = frames
            .decoder(&phone("mallory"))
            .await
            .expect("her next frame, once the last is read");
    }

    #[tokio::test]
    async fn the_glasses_read_while_phones_hold_every_decoder() {
        let frames = FrameReader::with_decoders(1);
        let _phone = frames.decoder(&phone("mallory")).await.unwrap();
        let _photo = frames
            .decoder(&Reader::Glasses)
            .await
            .expect("the glasses' own decoder");
    }
}
