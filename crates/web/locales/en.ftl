# qrlogin: what people read, in English.
# One message per id. Variables are written { $name }. Messages that page scripts fill in
# while the page is open (marked "script") must not choose words by number: they are sent
# to the browser with their variables still in place.

## Shared

network-failed = The server could not be reached. Check the connection and try again.
time-just-now = just now
# script
time-seconds-ago = { $seconds } s ago
# script
time-minutes-ago = { $minutes } min ago
session-kind-desktop = Screen
session-kind-mobile = Phone
session-kind-app = App { $app }
# script
device-on = { $browser } on { $system }
device-unknown = an unknown browser

## Errors, as people read them (the API's own message is for developers)

error-invalid-request = Something in that request was not right. Check it and try again.
error-unauthenticated = You are signed out. Sign in again to continue.
error-forbidden = That is not allowed from here.
error-not-found = This no longer exists: it may have ended already. Start again.
error-method-not-allowed = That cannot be done here.
error-conflict = This has already been answered or has finished, or someone else has it. Start again.
error-expired = This has expired. Start again with a new one.
error-payload-too-large = That is too large to send.
error-unsupported-media-type = That kind of file cannot be used here.
error-no-code-found = No sign-in code could be seen. Hold the camera steady in front of the QR code.
error-several-codes = More than one sign-in code is in view. Point the camera at one screen only.
error-invalid-qr-code = That is not one of our sign-in codes.
error-request-timeout = That took too long. Try again.
error-locked = Too many wrong codes were typed, so this is locked. Start again with a new one.
error-wrong-pin = That PIN is not the one the phone shows.
error-pin-required = First type the PIN the phone shows.
error-rate-limited = Too many tries in a short time. Wait a few minutes, then try again.
error-internal-error = Something went wrong on our side. Try again.
error-upstream-error = A service we rely on did not answer. Try again shortly.
error-unavailable = The service is busy for a moment. Try again shortly.
error-passkey-required = This needs your passkey (fingerprint, face or screen lock).
error-passkey-failed = Your passkey could not be checked. Try again.

## Error pages

page-not-found-title = Nothing here
page-not-found-detail = There is no page at this address. Check the link, or start again from the sign-in page.
page-error-title = Something went wrong
page-go-home = Go to the sign-in page
page-reference = Reference:

## The screen: its QR page

screen-title = Sign in to { $app }
screen-lead = Scan this code with the { $app } app in MentraOS, with your glasses, or with your phone's camera.
screen-qr-label = QR code to scan with your phone or glasses
screen-preparing = Preparing a sign-in code…
screen-or-type = Or type this code on your phone:
screen-scan-now = Scan the code to sign in.
# script
screen-expires-in = A new code comes in { $seconds } s.
# script
screen-claimed = Scanned. Confirm on your phone, and check that it shows { $code }.
screen-pin-label = PIN shown on your phone
screen-pin-submit = Sign in
# script
screen-pin-ask = Approved on the phone. Type the 6-digit PIN your phone shows. Tries left: { $left }.
# script
screen-pin-wrong = That PIN is not the one on the phone. Tries left: { $left }.
screen-signing-in = Approved. Signing in…
screen-new-code = Show a new code
screen-back-to-app = Back to { $app }
screen-denied-title = Sign-in refused
screen-denied-detail = The phone refused this sign-in. Nothing was signed in.
screen-cancelled-title = Sign-in stopped
screen-cancelled-detail = This sign-in was stopped before it finished. Nothing was signed in.
screen-locked-title = Sign-in locked
screen-locked-detail = Too many wrong PINs were typed, so this sign-in is locked. Nothing was signed in.
screen-failed-title = Could not sign in
screen-failed-detail = Something went wrong. Try again with a new code.
screen-one-computer = Trying it on one computer?
screen-open-phone-page = Open the phone page in another window

## The screen: signed in

dashboard-title = { $app }: signed in
dashboard-heading = Signed in
dashboard-signed-in-as = This screen is signed in as
dashboard-account = Account
account-local = { $username } (local account)
account-mentra = Mentra account
dashboard-since = Since
dashboard-from = From
dashboard-sign-out = Sign out
dashboard-sign-out-everywhere = Sign out everywhere
dashboard-everywhere-question = Sign out on every device, this screen and your phone included?
dashboard-everywhere-yes = Yes, sign out everywhere
dashboard-everywhere-no = Cancel
dashboard-signing-out = Signing out…
dashboard-link-heading = Sign in on another device
dashboard-link-make = Show a code for another device
dashboard-link-qr-label = QR code for the other device to scan
dashboard-link-or-open = Or open this address on the other device (it works once):
# script
dashboard-link-question = A device opened your link: { $device } ({ $ip }). Allow it to sign in as you?
dashboard-link-look = Look at the new device: it shows a 6-digit code. If it shows none, or it is not your device, refuse.
dashboard-link-code-label = Code shown on the new device
dashboard-link-allow = Allow
dashboard-link-refuse = Refuse
dashboard-link-allowed = Allowed: the other device is signing in.
dashboard-link-refused = Refused: that device gets nothing.
dashboard-link-wrong-code = That is not the code the new device shows. Tries left: { $left }.
dashboard-link-type-code = Type the 6-digit code the new device shows.
dashboard-sessions-heading = Your sessions
# script
dashboard-session-row = { $kind }: { $device } · { $ip } · signed in { $since } · last seen { $seen }
dashboard-session-current = (this screen)
dashboard-revoke = Revoke
# script
dashboard-revoke-label = Revoke { $device } at { $ip }
dashboard-revoked = That session is ended.
dashboard-activity-heading = Recent activity
activity-refused = (refused)
# script
dashboard-new-sign-in = New sign-in to your account: { $device }, { $ip }, { $when }. Not you?
dashboard-revoke-that = Revoke that session
# script
dashboard-linked-device-in = Your other device is signed in: { $device }.
# script
dashboard-kiosk-idle = This shared screen signs out after { $total } s without use. Time left: { $left } s.
dashboard-kiosk-signing-out = Signing out: nobody used this screen.
event-redeem = Screen signed in
event-phone-sign-in = Phone signed in
event-claim = Code scanned
event-approve = Sign-in approved
event-deny = Sign-in refused
event-pin = PIN typed
event-lock = Sign-in locked
event-logout = Signed out
event-logout-everywhere = Signed out everywhere
event-revoke = Session revoked
event-cancel = Sign-in stopped
event-create = Code shown
event-rate-limited = Too many tries
event-token-rejected = Sign-in token refused
event-account-created = Account created
event-account-disabled = Account disabled
event-account-enabled = Account enabled
event-account-password-changed = Password changed
event-account-removed = Account removed
event-passkey-added = Passkey added
event-passkey-removed = Passkey removed
event-passkeys-reset = Passkeys reset by an operator

## A device opening a sign-in link

link-title = Sign in to { $app } on this device
link-gone-heading = This sign-in link cannot be used
link-gone-lead = This link is unknown, already used or expired. Make a new one on your signed-in screen.
link-other-heading = This browser is signed in as someone else
link-other-lead = This browser is signed in as { $current }. Sign out here first to sign in as { $account }.
link-other-go = Go to the signed-in account
link-same-heading = Already signed in
link-same-lead = This browser is already signed in as { $account }. Nothing to do here.
link-same-continue = Continue
link-ask-heading = Sign in as { $account }?
link-ask-lead = This device will be signed in to { $app } as { $account }, with a session of its own.
link-ask-warning = Continue only if you made this link yourself, on a screen signed in as { $account }. If someone sent it to you, close this page.
link-ask-button = Sign in as { $account }
link-code-label = Type this code on your signed-in screen to allow this device:
link-code-note = Nobody else is shown this code. If your signed-in screen asks about a device that does not show it, refuse there.
link-asking = Asking…
link-waiting = Waiting for your signed-in screen…
link-allowed = Allowed: signing in…
link-denied = Your signed-in screen refused this device.
link-spent = A wrong code was typed too often on your signed-in screen, so this link is spent. Make a new one there.
link-unusable = This link can no longer be used.

## The phone: signing in

signin-title = Sign in to approve: { $app }
signin-heading = Sign in to approve
signin-lead = To sign a screen in to { $app }, first sign in on this phone.
signin-with-mentra = Sign in with Mentra
signin-or-open = Or open { $app } from the MentraOS app.
signin-open-from-mentra = With a Mentra account: open { $app } from the MentraOS app.
signin-local = Or with a local account:
signin-username = Username
signin-password = Password
signin-submit = Sign in
signin-signing-in = Signing in…
signin-wrong = That username and password do not match an account.

## The phone: approving a screen

scan-title = { $app }: approve a sign-in
scan-signed-in-as = Signed in as
scan-sign-out = sign out
scan-heading = Sign a screen in
scan-lead = Scan the QR code on the screen with your camera, or type the code shown under it.
scan-camera-start = Scan with the camera
scan-camera-view = Camera view
scan-camera-stop = Stop the camera
scan-camera-point = Point the camera at the QR code on the screen.
scan-camera-unsupported = This browser cannot use the camera here. Type the code shown under the QR code instead.
scan-camera-denied = The camera was not allowed. Allow it in the browser's settings, or type the code shown under the QR code.
scan-camera-missing = No camera was found. Type the code shown under the QR code.
scan-camera-failed = The camera could not be started. Type the code shown under the QR code.
scan-code-label = Code shown on the screen
scan-code-hint = 8 letters, as the screen shows them (the dash is optional).
scan-code-invalid = That is not a code a screen shows. Check the letters and try again.
scan-continue = Continue
scan-checking = Checking the code…
confirm-heading = Sign in on this screen?
confirm-lead = Only continue if you started this yourself on a screen in front of you.
confirm-app = App
confirm-screen = Screen
confirm-address = Address
confirm-network = Network
confirm-same-network = Same network as this phone
confirm-different-network = A different network
confirm-started = Started
confirm-code = Code
confirm-other-network = This screen is on a different network from your phone. If you are not in front of it, deny.
confirm-check = Check that the screen shows the same code. If you did not just start this on a screen in front of you, deny.
confirm-deny = Deny
confirm-approve = Approve
pin-heading = Type this PIN on the screen
# script
pin-wrong-typed = Wrong PINs typed on the screen: { $count }. Tries left: { $left }.
outcome-approved-title = Approved
outcome-approved-detail = The screen is signing in…
outcome-signed-in-title = Signed in
outcome-signed-in-detail = The screen is signed in as you. You can put your phone away.
outcome-denied-title = Denied
outcome-denied-detail = Nothing was signed in. If you did not start this, someone may have tried to sign in as you: the code stays useless to them.
outcome-expired-title = This sign-in ended
outcome-expired-detail = The code expired before the sign-in finished. Nothing was signed in.
outcome-cancelled-title = This sign-in ended
outcome-cancelled-detail = The screen stopped waiting (it was closed or shows a new code). Nothing was signed in.
outcome-locked-title = Sign-in locked
outcome-locked-detail = Too many wrong PINs were typed on the screen, so nothing was signed in. If that was not you, someone else may be trying to sign in.
outcome-scan-another = Scan another code
scan-passkeys = passkeys
scan-passkeys-add = Add a passkey
# script
passkey-asking = Confirm with your fingerprint, face or screen lock…
# script
passkey-unsupported = This browser cannot use passkeys, which this approval needs. Open this page in the phone's own browser (Chrome, Safari) and approve there.
# script
passkey-cancelled = The passkey was not used. Try again when you are ready.
passkey-first = Approving needs a passkey, and this account has none yet. Add one, then scan the code again.

## The phone: its passkeys

passkeys-title = { $app }: passkeys
passkeys-heading = Passkeys
passkeys-lead = With a passkey, this phone asks for your fingerprint, face or screen lock before it approves a sign-in, so a phone someone else picks up cannot approve one.
passkeys-unavailable = Passkeys cannot be used on this server: its phone pages are on an IP address, where browsers refuse them. Ask the people who run it.
passkeys-back = back to scanning
passkeys-name-label = Name for a new passkey (this phone, for example)
passkeys-add = Add a passkey
# script
passkeys-none = No passkeys yet.
# script
passkeys-added-on = added { $date }
# script
passkeys-last-used = last used { $date }
# script
passkeys-never-used = not used yet
# script
passkeys-rename = Rename
# script
passkeys-remove = Remove
# script
passkeys-rename-label = New name for { $name }
# script
passkeys-rename-button-label = Rename { $name }
# script
passkeys-remove-label = Remove { $name }
# script
passkeys-save = Save
# script
passkeys-added = Passkey added.
# script
passkeys-removed = Passkey removed.
# script
passkeys-renamed = Passkey renamed.

## The phone: pages that only say something

message-unknown-code-title = Unknown code
message-unknown-code-detail = This is not a sign-in code of ours. Scan the QR code on the screen again.
message-mentra-off-title = Sign in with Mentra is off
message-mentra-off-detail = This server has no MentraOS app set up. Sign in with a local account instead.
message-open-from-mentra-title = Open this from MentraOS
message-open-from-mentra-detail = Open this app from the MentraOS app on your phone to sign in with your Mentra account.
message-mentra-unset-title = MentraOS sign-in is not set up
message-mentra-unset-detail = This server has no MentraOS app credentials. Ask the people who run it.
message-someone-else-title = Signed in as someone else
message-someone-else-detail = This phone is signed in with another account. Sign out first, then try again.
message-signin-failed-title = Sign-in did not work
message-signin-failed-detail = MentraOS could not confirm who you are: this sign-in was already used, has expired or is not for this app. Open the app again from MentraOS.
message-signin-failed-upstream = MentraOS did not answer. Wait a moment, then open the app again from MentraOS.
message-app-signin-refused-title = This sign-in cannot go on
message-app-signed-out-title = Signed out
message-app-signed-out-detail = You are signed out of { $app }.
message-rate-limited-title = Too many sign-in attempts
