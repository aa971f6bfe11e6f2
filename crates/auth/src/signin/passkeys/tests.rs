//! The approval rule with and without passkeys, at the use-case layer. (Real assertions are
//! made by a browser's authenticator: `tests/e2e/browser/passkeys.rs`.)

use crate::User;
use crate::client::ClientPasskey;
use crate::clock::Clock as _;
use crate::login_request::{LoginState, ScreenContext};
use crate::passkey::{self, StoredPasskey};
use crate::refusal::ErrorCode;
use crate::signin::policy::{ApprovalNeed, PasskeyApproval};
use crate::signin::testing::{MOBILE, World, caller, policy};
use crate::signin::{ApprovalProof, ClaimSource, Decision};

/// A passkey as a Chromium virtual authenticator made it.
fn stored_passkey(user: &User) -> StoredPasskey {
    let credential =
        serde_json::from_str(include_str!("../../../tests/fixtures/passkey.json")).unwrap();
    StoredPasskey::new(&user.id, "Pixel".into(), credential, 0)
}

fn approvals(world: &World) -> Vec<crate::audit::AuditRecord> {
    let records = world.records().into_iter();
    records
        .filter(|r| r.event == crate::audit::AuditEvent::Approve)
        .collect()
}

async fn world(approval: PasskeyApproval) -> World {
    let mut policy = policy();
    policy.passkeys.approval = approval;
    World::new(policy).await
}

/// A request of a client asking `passkey`, claimed by `user` on the phone: its id and what
/// the phone was told approving takes.
async fn claimed(
    world: &World,
    user: &User,
    passkey: ClientPasskey,
) -> (crate::RequestId, Option<ApprovalNeed>) {
    let screen = ScreenContext {
        client_name: "Space".into(),
        ip: "192.0.2.10".into(),
        passkey,
        ..ScreenContext::default()
    };
    let new = crate::flows::create_request(&*world.store, screen, world.clock.now(), 120_000)
        .await
        .unwrap();
    let qr = format!("{MOBILE}/s/{}", new.request.id);
    let claimed = world
        .signin
        .claim(&caller("192.0.2.20"), user.clone(), ClaimSource::QrText(qr))
        .await
        .unwrap();
    (new.request.id, claimed.prompt.approval)
}

async fn decide(
    world: &World,
    user: &User,
    id: &crate::RequestId,
    proof: ApprovalProof,
) -> Result<LoginState, ErrorCode> {
    world
        .signin
        .decide(
            &caller("192.0.2.20"),
            user.clone(),
            id,
            Decision::Approve(proof),
        )
        .await
        .map(|decided| decided.request.state)
        .map_err(|refused| refused.code)
}

#[tokio::test]
async fn an_account_with_a_passkey_cannot_approve_with_a_tap() {
    let world = world(PasskeyApproval::WhenRegistered).await;
    let (ann, bob) = (
        User::mentra("ann@example.com"),
        User::mentra("bob@example.com"),
    );
    assert!(
        passkey::add(&*world.store, &stored_passkey(&ann))
            .await
            .unwrap()
    );

    let (id, told) = claimed(&world, &ann, ClientPasskey::AsDeployment).await;
    assert_eq!(told, Some(ApprovalNeed::Passkey));
    assert_eq!(
        decide(&world, &ann, &id, ApprovalProof::Tap).await,
        Err(ErrorCode::PasskeyRequired)
    );
    // The refusal is audited as a refused approval.
    let refused = approvals(&world);
    assert_eq!(refused.last().unwrap().outcome, "passkey_required");

    // Without a passkey, a tap approves; the trail says how.
    let (id, told) = claimed(&world, &bob, ClientPasskey::AsDeployment).await;
    assert_eq!(told, Some(ApprovalNeed::Tap));
    assert_eq!(
        decide(&world, &bob, &id, ApprovalProof::Tap).await,
        Ok(LoginState::Approved)
    );
    let approved = approvals(&world);
    assert_eq!(
        approved.last().unwrap().detail.as_deref(),
        Some("approved with a tap")
    );
    let request = world.store.load_request(&id).await.unwrap().unwrap();
    assert_eq!(request.amr(), vec!["qr", "user"]);
}

#[tokio::test]
async fn a_passkey_that_answers_no_challenge_is_refused() {
    let world = world(PasskeyApproval::WhenRegistered).await;
    let ann = User::mentra("ann@example.com");
    assert!(
        passkey::add(&*world.store, &stored_passkey(&ann))
            .await
            .unwrap()
    );
    let (id, _) = claimed(&world, &ann, ClientPasskey::AsDeployment).await;
    // Shaped like an assertion, but answering no challenge this server gave.
    let forged = serde_json::from_value(serde_json::json!({
        "id": "f3wDtg-ekV0lg1llZM5OkOzdr3pkNiSM0rD9mht_a18",
        "rawId": "f3wDtg-ekV0lg1llZM5OkOzdr3pkNiSM0rD9mht_a18",
        "type": "public-key",
        "response": { "authenticatorData": "AA", "clientDataJSON": "AA", "signature": "AA" },
    }))
    .unwrap();
    let proof = ApprovalProof::Passkey(Box::new(forged));
    assert_eq!(
        decide(&world, &ann, &id, proof).await,
        Err(ErrorCode::PasskeyFailed)
    );
    assert_eq!(
        world.store.load_request(&id).await.unwrap().unwrap().state,
        LoginState::Claimed
    );
}

#[tokio::test]
async fn required_means_a_passkey_first_and_off_means_a_tap() {
    let ann = User::mentra("ann@example.com");
    let required = world(PasskeyApproval::Required).await;
    let (id, told) = claimed(&required, &ann, ClientPasskey::AsDeployment).await;
    assert_eq!(told, Some(ApprovalNeed::PasskeyFirst));
    assert_eq!(
        decide(&required, &ann, &id, ApprovalProof::Tap).await,
        Err(ErrorCode::PasskeyRequired)
    );

    let off = world(PasskeyApproval::Off).await;
    assert!(
        passkey::add(&*off.store, &stored_passkey(&ann))
            .await
            .unwrap()
    );
    let (id, told) = claimed(&off, &ann, ClientPasskey::AsDeployment).await;
    assert_eq!(told, Some(ApprovalNeed::Tap));
    assert_eq!(
        decide(&off, &ann, &id, ApprovalProof::Tap).await,
        Ok(LoginState::Approved)
    );
    // A client that asks for passkeys is asked for them, whatever the deployment says.
    let (id, told) = claimed(&off, &ann, ClientPasskey::Required).await;
    assert_eq!(told, Some(ApprovalNeed::Passkey));
    assert_eq!(
        decide(&off, &ann, &id, ApprovalProof::Tap).await,
        Err(ErrorCode::PasskeyRequired)
    );
}

#[tokio::test]
async fn glasses_keep_their_button_unless_the_client_asks_for_a_passkey() {
    let world = world(PasskeyApproval::Required).await;
    let ann = User::mentra("ann@example.com");
    assert!(
        passkey::add(&*world.store, &stored_passkey(&ann))
            .await
            .unwrap()
    );
    let (id, _) = claimed(&world, &ann, ClientPasskey::AsDeployment).await;
    assert_eq!(
        decide(&world, &ann, &id, ApprovalProof::GlassesButton).await,
        Ok(LoginState::Approved)
    );
    let request = world.store.load_request(&id).await.unwrap().unwrap();
    assert_eq!(request.amr(), vec!["qr", "user"]);
    let (id, _) = claimed(&world, &ann, ClientPasskey::Required).await;
    assert_eq!(
        decide(&world, &ann, &id, ApprovalProof::GlassesButton).await,
        Err(ErrorCode::PasskeyRequired)
    );
}

#[tokio::test]
async fn changing_the_passkeys_takes_a_check_by_one_of_them() {
    let world = world(PasskeyApproval::WhenRegistered).await;
    let ann = User::mentra("ann@example.com");
    let phone = caller("192.0.2.20");
    // The first passkey needs no check: there is nothing to check it with.
    assert!(
        world
            .signin
            .begin_passkey_registration(&phone, &ann, None)
            .await
            .is_ok()
    );
    let kept = stored_passkey(&ann);
    assert!(passkey::add(&*world.store, &kept).await.unwrap());
    // A phone left unlocked can neither add its holder's passkey nor remove the owner's.
    let adding = world
        .signin
        .begin_passkey_registration(&phone, &ann, None)
        .await;
    assert_eq!(
        adding.err().map(|r| r.code),
        Some(ErrorCode::PasskeyRequired)
    );
    let removing = world
        .signin
        .remove_passkey(&phone, &ann, &kept.id, None)
        .await;
    assert_eq!(
        removing.err().map(|r| r.code),
        Some(ErrorCode::PasskeyRequired)
    );
    assert!(passkey::any(&*world.store, &ann.id).await.unwrap());
    // Renaming proves nothing and needs nothing.
    let renamed = world
        .signin
        .rename_passkey(&ann, &kept.id, " Work phone ")
        .await
        .unwrap();
    assert_eq!(renamed.name, "Work phone");
}

#[tokio::test]
async fn an_operator_reset_removes_the_passkeys_and_ends_the_sessions() {
    let world = world(PasskeyApproval::Required).await;
    let ann = User::mentra("ann@example.com");
    assert!(
        passkey::add(&*world.store, &stored_passkey(&ann))
            .await
            .unwrap()
    );
    let now = world.clock.now();
    crate::flows::sign_in(
        &*world.store,
        &world.signin.keys,
        crate::session::SessionKind::Mobile,
        ann.clone(),
        caller("192.0.2.20").device(),
        now,
        &world.signin.policy.lifetimes,
    )
    .await
    .unwrap();
    world.clock.advance(std::time::Duration::from_secs(1));
    let removed = super::reset_passkeys(&*world.store, &ann.id, world.clock.now())
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!passkey::any(&*world.store, &ann.id).await.unwrap());
    assert!(world.store.list_sessions(&ann.id).await.unwrap().is_empty());
}
