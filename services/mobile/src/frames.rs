//! Reading the code in a camera frame, for `POST /api/frames`: off the async executor, a few
//! at a time, each within the decoder's time budget.

use std::sync::Arc;
use std::time::Duration;

use qrlogin_qr::decode::{DEFAULT_BUDGET, Luma, read_all};
use qrlogin_web::{ApiError, ErrorCode};
use tokio::sync::Semaphore;

/// The largest frame accepted: a 4096×4096 JPEG of a busy scene fits.
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024;
/// How long a frame may wait for a free decoder before the phone is told to try again.
const QUEUE_WAIT: Duration = Duration::from_secs(2);
const IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// One per instance: frames are decoded on at most half the cores at once (at least one), so
/// a burst of frames queues (briefly) instead of starving every other request, the health
/// probes included, of CPU. (Where a container's CPU limit is below the node's core count,
/// the count still comes from the node: size replicas' CPU accordingly.)
pub struct FrameReader {
    decoders: Arc<Semaphore>,
}

impl Default for FrameReader {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            decoders: Arc::new(Semaphore::new((cores / 2).max(1))),
        }
    }
}

impl FrameReader {
    /// Every QR text the decoder's whole ladder reads in the frame within its budget (empty
    /// when none could be read). The whole ladder, even once a code of ours is read: a
    /// second one that only a later pass reads must be seen too, or the easier code to read
    /// (an attacker's, say) would be the only one claimed.
    pub async fn read(
        &self,
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
        let busy = || {
            ApiError::new(
                ErrorCode::Unavailable,
                "The server is busy reading other pictures; try again in a moment.",
            )
        };
        let decoder = tokio::time::timeout(QUEUE_WAIT, Arc::clone(&self.decoders).acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let decoded = tokio::task::spawn_blocking(move || {
            let _decoder = decoder;
            Luma::from_image(&body).map(|frame| read_all(&frame, DEFAULT_BUDGET))
        })
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the frame decoder stopped: {e}")))?;
        decoded.map_err(|e| ApiError::invalid(format!("The picture cannot be used: {e}.")))
    }
}
