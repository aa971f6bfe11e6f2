//! Claiming a request (from a QR's text, an id, a typed code, a camera frame or a glasses
//! photo), what the claimant is shown, and the claimant's decision.

use crate::audit::AuditEvent;
use crate::flows::{self, FlowError, ScanTarget};
use crate::login_request::ApprovedWith;
use crate::login_request::{
    Claim, LoginRequest, RequestId, Transition, TransitionError, UnixMillis,
};
use crate::passkey;
use crate::refusal::{ErrorCode, Refusal};
use crate::signin::audit::Draft;
use crate::signin::passkeys::{ProofPurpose, without_passkey};
use crate::signin::policy::ApprovalNeed;
use crate::signin::policy::{Entry, NetworkVerdict, network_mismatch_detail};
use crate::signin::{Bucket, Caller, Prompt, SignIn};
use crate::user_code::UserCode;
use crate::{LoginState, User};
use webauthn_rs::prelude::PublicKeyCredential;

/// What names the request to claim.
pub enum ClaimSource {
    /// The text of the QR, as the phone's own scanner read it.
    QrText(String),
    Id(String),
    /// The code typed on the phone (`WDJB-MJHT`).
    UserCode(String),
    /// Every code the server read in a camera frame the phone sent.
    Frame(Vec<String>),
    /// Every code the server read in a photo taken by camera glasses.
    GlassesPhoto(Vec<String>),
    /// The phone named no request, or named one in more than one way: refused, but as an
    /// attempt all the same (it spends the budgets and is audited).
    Unclear,
}

impl ClaimSource {
    fn entry(&self) -> Entry {
        match self {
            Self::GlassesPhoto(_) => Entry::Glasses,
            _ => Entry::Phone,
        }
    }

    fn detail(&self) -> Option<&'static str> {
        match self {
            Self::Frame(_) => Some("read from a camera frame"),
            Self::GlassesPhoto(_) => Some("read from a Mentra Live photo"),
            _ => None,
        }
    }

    /// The requests this source names (more than one only for a picture), or why none.
    fn targets(self, mobile_public_url: &str) -> Result<Vec<ScanTarget>, Refusal> {
        let unknown = || {
            Refusal::new(
                ErrorCode::NotFound,
                "That is not a sign-in code of ours. Scan the QR code on the screen, or type the code shown under it.",
            )
        };
        match self {
            Self::QrText(text) => ScanTarget::from_qr_text(&text, mobile_public_url)
                .map(|target| vec![target])
                .ok_or_else(unknown),
            Self::Id(id) => RequestId::parse(&id)
                .map(|id| vec![ScanTarget::Id(id)])
                .ok_or_else(unknown),
            Self::UserCode(code) => UserCode::parse(&code)
                .map(|code| vec![ScanTarget::UserCode(code)])
                .ok_or_else(|| Refusal::invalid("A code has 8 letters, like WDJB-MJHT.")),
            Self::Frame(texts) | Self::GlassesPhoto(texts) => Ok(texts
                .iter()
                .filter_map(|text| ScanTarget::from_frame_text(text, mobile_public_url))
                .collect()),
            Self::Unclear => Err(Refusal::invalid(
                "Send exactly one of qr_text, id or user_code.",
            )),
        }
    }
}

/// A claimed request and what its claimant is shown.
pub struct Claimed {
    pub request: LoginRequest,
    pub prompt: Prompt,
}

/// What backs an approval, as the approver sent it.
#[derive(Clone, Debug)]
pub enum ApprovalProof {
    /// A tap on the phone page (or a call of the phone's API).
    Tap,
    /// Camera glasses' button, pressed twice: a wearer has no WebAuthn.
    GlassesButton,
    /// An assertion by one of the account's passkeys, made for this request's challenge.
    Passkey(Box<PublicKeyCredential>),
}

/// The claimant's answer.
#[derive(Clone, Debug)]
pub enum Decision {
    Approve(ApprovalProof),
    Deny,
}

/// Who decides: the user, and since when their sign-in is known to stand (the session they
/// came with began then and was just checked against "sign out everywhere").
pub struct Approver {
    pub user: User,
    pub standing_since: Option<UnixMillis>,
}

impl From<User> for Approver {
    /// A user whose sign-in was not checked just now (glasses, a test).
    fn from(user: User) -> Self {
        Self {
            user,
            standing_since: None,
        }
    }
}

/// A decided request; in PIN mode an approval carries the PIN for the claimant to show.
pub struct Decided {
    pub request: LoginRequest,
    pub pin: Option<String>,
}

fn no_code_found() -> Refusal {
    Refusal::new(
        ErrorCode::NoCodeFound,
        "No sign-in code of ours is in that picture. Hold the phone so the whole QR code on the screen is in view, or type the code shown under it.",
    )
}

fn several_codes() -> Refusal {
    Refusal::new(
        ErrorCode::SeveralCodes,
        "More than one sign-in code is in view, so none was used: someone may be showing you theirs. Point the camera at the one screen you want to sign in.",
    )
}

fn mismatch_refused(entry: Entry) -> Refusal {
    let message = match entry {
        Entry::Phone => {
            "This screen is on a different network from your phone, and this server refuses such sign-ins. Scan a screen you are in front of, on the same network."
        }
        Entry::Glasses => {
            "That screen is on a different network from your glasses, and glasses cannot show you a warning, so it cannot be signed in from them. Use the phone, or a screen on your network."
        }
    };
    Refusal::new(ErrorCode::Forbidden, message)
}

fn claimed_by_someone_else(error: FlowError) -> Refusal {
    match error {
        FlowError::Transition(TransitionError::WrongState(LoginState::Claimed)) => Refusal::new(
            ErrorCode::Conflict,
            "Someone else already scanned this code. If that was not you, do not approve anything; start again on the screen.",
        ),
        other => other.into(),
    }
}

fn no_such_request() -> Refusal {
    Refusal::new(ErrorCode::NotFound, "No such sign-in request.")
}

impl SignIn {
    /// Spends the user's budget for camera frames: before a frame is decoded, which is the
    /// costly part.
    pub async fn admit_frame(&self, caller: &Caller, user: &User) -> Result<(), Refusal> {
        self.spend(caller, Bucket::FramesPerUser, &user.id).await
    }

    /// Claims the request `source` names for `user`: exactly one user can; the same user
    /// claiming again sees the same prompt. A picture with no code of ours is refused
    /// unaudited (a scanning phone sends a few a second); with several, none is claimed.
    pub async fn claim(
        &self,
        caller: &Caller,
        user: User,
        source: ClaimSource,
    ) -> Result<Claimed, Refusal> {
        let entry = source.entry();
        let mut draft = self.draft(AuditEvent::Claim, caller);
        draft.user(&user.id);
        if let Some(detail) = source.detail() {
            draft.detail(detail);
        }
        let is_picture = matches!(source, ClaimSource::Frame(_) | ClaimSource::GlassesPhoto(_));
        let targets = source.targets(&self.policy.mobile_public_url);
        if is_picture && targets.as_ref().is_ok_and(Vec::is_empty) {
            return Err(no_code_found());
        }
        let claimed = self
            .claim_target(caller, user, entry, targets, &mut draft)
            .await;
        self.record(draft, &claimed);
        claimed
    }

    async fn claim_target(
        &self,
        caller: &Caller,
        user: User,
        entry: Entry,
        targets: Result<Vec<ScanTarget>, Refusal>,
        draft: &mut Draft,
    ) -> Result<Claimed, Refusal> {
        // Guessing codes is what the per-IP budget stops. Every attempt spends it up front,
        // so parallel guesses cannot outrun the count and a hit refunds nothing. Both budgets
        // are spent at once (one round trip); the user's refusal is the one shown.
        let network = self.network_of(caller);
        let scan = [
            (Bucket::ScanPerUser, user.id.as_str()),
            (Bucket::ScanPerIp, network.as_str()),
        ];
        self.spend_all(caller, &scan).await?;
        let id = self.only_request(targets?).await?;
        draft.login_request(&id);
        let now = self.now();
        // The request and whether the claimant has passkeys are read together.
        let (request, had_passkeys) = tokio::join!(
            flows::known_or_read(self.store(), &id),
            passkey::any(self.store(), &user.id)
        );
        let (request, had_passkeys) = (request?, had_passkeys?);
        // Where a mismatch would be refused, the screen's address is looked at before the
        // claim; where it is only flagged, the claimed request says it.
        if self.policy.refuses_mismatch(entry) {
            draft.client(&request.screen.client_name);
            let screen_ip = &request.screen.ip;
            if self.policy.network_verdict(entry, screen_ip, &caller.ip) == NetworkVerdict::Refused
            {
                draft.detail(network_mismatch_detail(screen_ip, &caller.ip));
                tracing::warn!(request = %id, "claim refused: the claimant is on another network than the screen");
                return Err(mismatch_refused(entry));
            }
        }
        let claim = Transition::Claim(Claim {
            user,
            ip: caller.ip.clone(),
            at: now,
            had_passkeys,
        });
        let claimed = flows::transition_known(self.store(), request, &claim, now)
            .await
            .map_err(claimed_by_someone_else)?;
        draft.client(&claimed.screen.client_name);
        let screen_ip = &claimed.screen.ip;
        if self.policy.network_verdict(entry, screen_ip, &caller.ip) == NetworkVerdict::Flagged {
            draft.detail(network_mismatch_detail(screen_ip, &caller.ip));
        }
        let mut prompt = Prompt::of(&claimed, &caller.ip, &self.policy.networks, now);
        prompt.approval = self.approval_need(&claimed);
        Ok(Claimed {
            prompt,
            request: claimed,
        })
    }

    /// The one request the targets name. Two different requests in one picture are refused:
    /// which screen the person means cannot be told, and an attacker's code shown beside the
    /// real one is exactly that picture. Codes that name no live request are not counted.
    async fn only_request(&self, targets: Vec<ScanTarget>) -> Result<RequestId, Refusal> {
        let single = targets.len() == 1;
        let mut found: Vec<RequestId> = Vec::new();
        for target in targets {
            match target.resolve(self.store()).await {
                Ok(id) if !found.contains(&id) => found.push(id),
                Ok(_) => {}
                Err(FlowError::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
        }
        match found.len() {
            0 if single => Err(Refusal::new(
                ErrorCode::NotFound,
                "No sign-in is waiting for that code. It may have expired: check the screen.",
            )),
            0 => Err(Refusal::new(
                ErrorCode::NotFound,
                "No sign-in is waiting for the code in that picture. It may have expired: check the screen.",
            )),
            1 => Ok(found.remove(0)),
            _ => Err(several_codes()),
        }
    }

    /// What the claimant of `id` is shown now (the phone polls it while it shows a PIN). To
    /// anyone but the claimant the request does not exist.
    pub async fn claimant_view(
        &self,
        caller: &Caller,
        user: &User,
        id: &RequestId,
    ) -> Result<Prompt, Refusal> {
        let prompt = self.claimant_prompt(user, id).await?;
        self.spend(caller, Bucket::PollPerRequest, &format!("phone:{id}"))
            .await?;
        Ok(prompt)
    }

    /// [`claimant_view`](Self::claimant_view) without spending a budget: for the glasses,
    /// which ask once per claim.
    pub async fn claimant_prompt(&self, user: &User, id: &RequestId) -> Result<Prompt, Refusal> {
        let now = self.now();
        let request = flows::load(self.store(), id, now)
            .await
            .map_err(|e| match e {
                FlowError::NotFound => no_such_request(),
                other => other.into(),
            })?;
        self.prompt_for(&request, user, now)
            .ok_or_else(no_such_request)
    }

    /// What `user` is shown of `request` at `now`, if they are its claimant (for a socket that
    /// follows the request after [`claimant_view`](Self::claimant_view) let it in).
    pub fn prompt_for(
        &self,
        request: &LoginRequest,
        user: &User,
        now: UnixMillis,
    ) -> Option<Prompt> {
        let claim = request.claim.as_ref().filter(|c| c.user.id == user.id)?;
        let mut prompt = Prompt::of(request, &claim.ip, &self.policy.networks, now);
        prompt.approval = self.approval_need(request);
        Some(prompt)
    }

    /// The claimant approves or denies. An approval must carry the proof the policy asks of
    /// this account and this request's client ([`Self::approval_need`]); in PIN mode (the
    /// client's, else the deployment's) it carries the PIN the screen must type.
    pub async fn decide(
        &self,
        caller: &Caller,
        approver: impl Into<Approver>,
        id: &RequestId,
        decision: Decision,
    ) -> Result<Decided, Refusal> {
        let approver = approver.into();
        let user = approver.user.clone();
        let event = match decision {
            Decision::Approve(_) => AuditEvent::Approve,
            Decision::Deny => AuditEvent::Deny,
        };
        let mut draft = self.draft(event, caller);
        draft.user(&user.id).login_request(id);
        let decided = match decision {
            Decision::Approve(proof) => self.approve(approver, id, proof, &mut draft).await,
            Decision::Deny => {
                let now = self.now();
                flows::transition(self.store(), id, &Transition::Deny { user }, now)
                    .await
                    .map(|request| Decided { request, pin: None })
                    .map_err(Refusal::from)
            }
        };
        if let Ok(decided) = &decided {
            draft.client(&decided.request.screen.client_name);
        }
        self.record(draft, &decided);
        decided
    }

    async fn approve(
        &self,
        approver: Approver,
        id: &RequestId,
        proof: ApprovalProof,
        draft: &mut Draft,
    ) -> Result<Decided, Refusal> {
        let user = &approver.user;
        // What needs the store is learnt first; the rule is then checked against the request
        // as the approval's own compare-and-set reads it, in the same round trip.
        let proven = match proof {
            ApprovalProof::Passkey(credential) => {
                self.check_passkey(user, ProofPurpose::Approve(id), &credential)
                    .await?;
                ApprovedWith::Passkey
            }
            ApprovalProof::Tap => ApprovedWith::Tap,
            ApprovalProof::GlassesButton => ApprovedWith::GlassesButton,
        };
        let rule = |current: &LoginRequest| {
            self.approval_rule(current, &user.id, proven)
                .map_err(FlowError::Refused)
        };
        let confirmation = self.policy.confirmation;
        let (request, pin) = flows::approve(
            self.store(),
            id,
            user,
            approver.standing_since,
            confirmation,
            rule,
            self.now(),
        )
        .await?;
        let with = request.approved_with.unwrap_or(ApprovedWith::Tap);
        draft.detail(with.describe());
        Ok(Decided { request, pin })
    }

    /// How an approval of `current` by `user_id`, `proven` so far (a passkey already
    /// checked), counts, or why the policy refuses it.
    fn approval_rule(
        &self,
        current: &LoginRequest,
        user_id: &str,
        proven: ApprovedWith,
    ) -> Result<ApprovedWith, Refusal> {
        if current
            .claim
            .as_ref()
            .is_none_or(|claim| claim.user.id != user_id)
        {
            // Not the claimant's: the transition refuses it, with the reason.
            return Ok(ApprovedWith::Tap);
        }
        let client = current.screen.passkey;
        match proven {
            ApprovedWith::Passkey => Ok(ApprovedWith::Passkey),
            ApprovedWith::GlassesButton if client.is_as_deployment() => {
                Ok(ApprovedWith::GlassesButton)
            }
            ApprovedWith::GlassesButton => Err(Refusal::new(
                ErrorCode::PasskeyRequired,
                "This app asks for your passkey at every sign-in, which glasses cannot give. Scan the code with your phone instead.",
            )),
            ApprovedWith::Tap => without_passkey(
                self.approval_need(current).unwrap_or(ApprovalNeed::Tap),
                ApprovedWith::Tap,
            ),
        }
    }

    /// What approving `request` takes from its claimant: from its client's rule and whether
    /// the claimant had a passkey when it claimed.
    pub fn approval_need(&self, request: &LoginRequest) -> Option<ApprovalNeed> {
        let claim = request.claim.as_ref()?;
        Some(
            self.policy
                .approval_need(request.screen.passkey, claim.had_passkeys),
        )
    }
}
