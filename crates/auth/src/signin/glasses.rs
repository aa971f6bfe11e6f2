//! Camera glasses: the photo they were asked for arrives as an upload; the code of ours in it
//! is claimed as the wearer, by the same rules as a phone's camera frame.

use secrecy::SecretString;

use crate::User;
use crate::audit::AuditEvent;
use crate::events::PhotoWait;
use crate::glasses::{PendingPhoto, PhotoOutcome, PhotoResult};
use crate::refusal::{ErrorCode, Refusal};
use crate::signin::{Bucket, Caller, ClaimSource, SignIn};

fn not_its_token() -> Refusal {
    Refusal::new(
        ErrorCode::Unauthenticated,
        "This upload does not carry the token its photo was asked with.",
    )
}

impl SignIn {
    /// A MentraOS session webhook makes us dial the cloud with our API key: a per-IP budget
    /// applies (the cloud's few addresses carry every wearer's webhooks).
    pub async fn admit_webhook(&self, caller: &Caller) -> Result<(), Refusal> {
        self.spend(caller, Bucket::WebhooksPerIp, &self.network_of(caller))
            .await
    }

    /// The pending photo an upload's bearer token names, if the token is its own and the
    /// photo is still awaited. A wrong token for a real photo is audited against its wearer.
    pub async fn awaited_photo(
        &self,
        caller: &Caller,
        token: &str,
    ) -> Result<PendingPhoto, Refusal> {
        let id = PendingPhoto::id_in_token(token).ok_or_else(not_its_token)?;
        let photo = PendingPhoto::load(self.store(), id).await?.ok_or_else(|| {
            Refusal::new(
                ErrorCode::NotFound,
                "No such photo is awaited (never asked for, or more than 30 s ago).",
            )
        })?;
        if !photo.accepts(token, self.now()) {
            tracing::warn!("a photo upload with a wrong token was refused");
            let mut draft = self.draft(AuditEvent::TokenRejected, caller);
            draft
                .user(&photo.wearer.id)
                .detail("photo upload without its token");
            draft.record_as(&*self.audit, Some(ErrorCode::Unauthenticated));
            return Err(not_its_token());
        }
        Ok(photo)
    }

    /// A photo asked of `wearer`'s glasses: kept in the store until its upload is due (any
    /// instance may receive it), with its upload token, and the wait for its outcome.
    pub async fn ask_for_photo(
        &self,
        wearer: User,
    ) -> Result<(PendingPhoto, SecretString, PhotoWait), Refusal> {
        let (photo, token) = PendingPhoto::new(wearer, self.now());
        photo.save(self.store()).await?;
        let wait = self.store().events().expect_photo(&photo.id);
        Ok((photo, token, wait))
    }

    /// What the upload of `photo` led to, as the store kept it (for a waiter whose event was
    /// lost while its subscription reconnected).
    pub async fn stored_photo_outcome(
        &self,
        photo: &PendingPhoto,
    ) -> Result<Option<PhotoResult>, Refusal> {
        Ok(PhotoOutcome::load(self.store(), &photo.id)
            .await?
            .map(|outcome| outcome.result))
    }

    /// Takes the photo's single upload: a second upload, or one after the glasses session
    /// stopped waiting, is refused. The glasses session takes it too when it stops waiting,
    /// so that no upload can claim anything afterwards.
    pub async fn take_photo_upload(&self, photo: &PendingPhoto) -> Result<(), Refusal> {
        match self
            .store()
            .use_once(&photo.use_once_key(), photo.expires_at)
            .await?
        {
            true => Ok(()),
            false => Err(Refusal::new(
                ErrorCode::Conflict,
                "This photo was already uploaded, or is no longer awaited.",
            )),
        }
    }

    /// What the uploaded photo leads to, given what was read in it: the code of ours in it is
    /// claimed as the wearer. The outcome is kept and told to the instance that holds the
    /// wearer's session, wherever that is.
    pub async fn photo_read(
        &self,
        caller: &Caller,
        photo: &PendingPhoto,
        read: Result<Vec<String>, Refusal>,
    ) -> Result<PhotoResult, Refusal> {
        let refused = |refusal: Refusal| PhotoResult::Refused {
            error: refusal.code.as_str().into(),
            message: Some(refusal.message.into_owned()),
        };
        let result = match read {
            Err(refusal) => refused(refusal),
            Ok(texts) => match self
                .claim(
                    caller,
                    photo.wearer.clone(),
                    ClaimSource::GlassesPhoto(texts),
                )
                .await
            {
                Ok(claimed) => PhotoResult::Claimed {
                    request: claimed.request.id,
                },
                Err(refusal) if refusal.code == ErrorCode::NoCodeFound => PhotoResult::NoCode,
                Err(refusal) => refused(refusal),
            },
        };
        tracing::info!(?result, "photo read");
        let outcome = PhotoOutcome {
            photo_id: photo.id.clone(),
            result: result.clone(),
        };
        outcome.save(self.store(), self.now()).await?;
        self.store().announce_photo(&outcome).await?;
        Ok(result)
    }
}
