# qrlogin: 사용자에게 보이는 문구, 한국어.
# 메시지 하나에 id 하나. 변수는 { $name } 형식으로 씁니다. 페이지 스크립트가 채우는 메시지("script" 표시)는
# 숫자에 따라 단어를 고르지 않습니다: 변수가 그대로 남은 채 브라우저로 전송됩니다.

## 공통

network-failed = 서버에 연결할 수 없습니다. 연결 상태를 확인하고 다시 시도하세요.
time-just-now = 방금
# script
time-seconds-ago = { $seconds }초 전
# script
time-minutes-ago = { $minutes }분 전
session-kind-desktop = 화면
session-kind-mobile = 휴대폰
session-kind-app = 앱 { $app }
# script
device-on = { $system }의 { $browser }
device-unknown = 알 수 없는 브라우저

## 오류 (사용자에게 보이는 문구; API 자체 메시지는 개발자용)

error-invalid-request = 요청에 올바르지 않은 부분이 있습니다. 확인하고 다시 시도하세요.
error-unauthenticated = 로그아웃되었습니다. 계속하려면 다시 로그인하세요.
error-forbidden = 여기에서는 허용되지 않는 작업입니다.
error-not-found = 더 이상 존재하지 않습니다. 이미 끝났을 수 있습니다. 다시 시작하세요.
error-method-not-allowed = 여기에서는 할 수 없는 작업입니다.
error-conflict = 이미 응답되었거나 끝났거나, 다른 사람이 사용 중입니다. 다시 시작하세요.
error-expired = 만료되었습니다. 새로 다시 시작하세요.
error-payload-too-large = 크기가 너무 커서 보낼 수 없습니다.
error-unsupported-media-type = 여기에서는 사용할 수 없는 파일 형식입니다.
error-no-code-found = 로그인 코드를 인식하지 못했습니다. QR 코드 앞에서 카메라를 흔들리지 않게 들고 계세요.
error-several-codes = 로그인 코드가 두 개 이상 보입니다. 카메라를 화면 하나에만 향하게 하세요.
error-invalid-qr-code = 이 서비스의 로그인 코드가 아닙니다.
error-request-timeout = 시간이 너무 오래 걸렸습니다. 다시 시도하세요.
error-locked = 잘못된 코드를 너무 많이 입력하여 잠겼습니다. 새로 다시 시작하세요.
error-wrong-pin = 휴대폰에 표시된 PIN이 아닙니다.
error-pin-required = 먼저 휴대폰에 표시된 PIN을 입력하세요.
error-rate-limited = 짧은 시간에 너무 많이 시도했습니다. 몇 분 후에 다시 시도하세요.
error-internal-error = 서버에서 문제가 발생했습니다. 다시 시도하세요.
error-upstream-error = 연동된 외부 서비스가 응답하지 않았습니다. 잠시 후 다시 시도하세요.
error-unavailable = 서비스가 일시적으로 혼잡합니다. 잠시 후 다시 시도하세요.
error-passkey-required = 패스키(지문, 얼굴 또는 화면 잠금)가 필요합니다.
error-passkey-failed = 패스키를 확인하지 못했습니다. 다시 시도하세요.

## 오류 페이지

page-not-found-title = 페이지를 찾을 수 없습니다
page-not-found-detail = 이 주소에는 페이지가 없습니다. 링크를 확인하거나 로그인 페이지에서 다시 시작하세요.
page-error-title = 문제가 발생했습니다
page-go-home = 로그인 페이지로 이동
page-reference = 참조 번호:

## 화면: QR 페이지

screen-title = { $app }에 로그인
screen-lead = MentraOS의 { $app } 앱, 스마트 글라스 또는 휴대폰 카메라로 이 코드를 스캔하세요.
screen-qr-label = 휴대폰이나 글라스로 스캔할 QR 코드
screen-preparing = 로그인 코드를 준비하는 중…
screen-or-type = 또는 휴대폰에 이 코드를 입력하세요:
screen-scan-now = 코드를 스캔하여 로그인하세요.
# script
screen-expires-in = { $seconds }초 후 새 코드가 표시됩니다.
# script
screen-claimed = 스캔되었습니다. 휴대폰에 { $code } 코드가 표시되는지 확인하고 휴대폰에서 승인하세요.
screen-pin-label = 휴대폰에 표시된 PIN
screen-pin-submit = 로그인
# script
screen-pin-ask = 휴대폰에서 승인되었습니다. 휴대폰에 표시된 6자리 PIN을 입력하세요. 남은 시도 횟수: { $left }회.
# script
screen-pin-wrong = 휴대폰에 표시된 PIN이 아닙니다. 남은 시도 횟수: { $left }회.
screen-signing-in = 승인되었습니다. 로그인하는 중…
screen-new-code = 새 코드 표시
screen-back-to-app = { $app }(으)로 돌아가기
screen-denied-title = 로그인 거부됨
screen-denied-detail = 휴대폰에서 이 로그인을 거부했습니다. 로그인되지 않았습니다.
screen-cancelled-title = 로그인 중단됨
screen-cancelled-detail = 이 로그인은 완료되기 전에 중단되었습니다. 로그인되지 않았습니다.
screen-locked-title = 로그인 잠김
screen-locked-detail = 잘못된 PIN을 너무 많이 입력하여 이 로그인이 잠겼습니다. 로그인되지 않았습니다.
screen-failed-title = 로그인할 수 없음
screen-failed-detail = 문제가 발생했습니다. 새 코드로 다시 시도하세요.
screen-one-computer = 컴퓨터 한 대로 시험해 보시나요?
screen-open-phone-page = 다른 창에서 휴대폰 페이지 열기

## 화면: 로그인됨

dashboard-title = { $app }: 로그인됨
dashboard-heading = 로그인됨
dashboard-signed-in-as = 이 화면에 로그인된 계정
dashboard-account = 계정
account-local = { $username } (로컬 계정)
account-mentra = Mentra 계정
dashboard-since = 로그인 시각
dashboard-from = 접속 위치
dashboard-sign-out = 로그아웃
dashboard-sign-out-everywhere = 모든 기기에서 로그아웃
dashboard-everywhere-question = 이 화면과 휴대폰을 포함한 모든 기기에서 로그아웃하시겠습니까?
dashboard-everywhere-yes = 예, 모든 기기에서 로그아웃
dashboard-everywhere-no = 취소
dashboard-signing-out = 로그아웃하는 중…
dashboard-link-heading = 다른 기기에서 로그인
dashboard-link-make = 다른 기기용 코드 표시
dashboard-link-qr-label = 다른 기기로 스캔할 QR 코드
dashboard-link-or-open = 또는 다른 기기에서 이 주소를 여세요(한 번만 사용 가능):
# script
dashboard-link-question = 어떤 기기가 내 링크를 열었습니다: { $device } ({ $ip }). 이 기기가 내 계정으로 로그인하도록 허용하시겠습니까?
dashboard-link-look = 새 기기를 확인하세요. 6자리 코드가 표시되어 있어야 합니다. 코드가 없거나 내 기기가 아니면 거부하세요.
dashboard-link-code-label = 새 기기에 표시된 코드
dashboard-link-allow = 허용
dashboard-link-refuse = 거부
dashboard-link-allowed = 허용됨: 다른 기기가 로그인하는 중입니다.
dashboard-link-refused = 거부됨: 해당 기기는 아무것도 받지 못합니다.
dashboard-link-wrong-code = 새 기기에 표시된 코드가 아닙니다. 남은 시도 횟수: { $left }회.
dashboard-link-type-code = 새 기기에 표시된 6자리 코드를 입력하세요.
dashboard-sessions-heading = 내 세션
# script
dashboard-session-row = { $kind }: { $device } · { $ip } · 로그인: { $since } · 최근 접속: { $seen }
dashboard-session-current = (이 화면)
dashboard-revoke = 세션 종료
# script
dashboard-revoke-label = { $ip }의 { $device } 세션 종료
dashboard-revoked = 해당 세션이 종료되었습니다.
dashboard-activity-heading = 최근 활동
activity-refused = (거부됨)
# script
dashboard-new-sign-in = 내 계정에 새로 로그인되었습니다: { $device }, { $ip }, { $when }. 본인이 아닌가요?
dashboard-revoke-that = 해당 세션 종료
# script
dashboard-linked-device-in = 다른 기기가 로그인되었습니다: { $device }.
# script
dashboard-kiosk-idle = 이 공용 화면은 { $total }초 동안 사용하지 않으면 로그아웃됩니다. 남은 시간: { $left }초.
dashboard-kiosk-signing-out = 로그아웃하는 중: 이 화면을 사용하는 사람이 없습니다.
event-redeem = 화면 로그인됨
event-phone-sign-in = 휴대폰 로그인됨
event-claim = 코드 스캔됨
event-approve = 로그인 승인됨
event-deny = 로그인 거부됨
event-pin = PIN 입력됨
event-lock = 로그인 잠김
event-logout = 로그아웃됨
event-logout-everywhere = 모든 기기에서 로그아웃됨
event-revoke = 세션 종료됨
event-cancel = 로그인 중단됨
event-create = 코드 표시됨
event-rate-limited = 시도 횟수 초과
event-token-rejected = 로그인 토큰 거부됨
event-account-created = 계정 생성됨
event-account-disabled = 계정 비활성화됨
event-account-enabled = 계정 활성화됨
event-account-password-changed = 비밀번호 변경됨
event-account-removed = 계정 삭제됨
event-passkey-added = 패스키 추가됨
event-passkey-removed = 패스키 삭제됨
event-passkeys-reset = 운영자가 패스키를 초기화함

## 로그인 링크를 연 기기

link-title = 이 기기에서 { $app }에 로그인
link-gone-heading = 이 로그인 링크는 사용할 수 없습니다
link-gone-lead = 알 수 없거나 이미 사용되었거나 만료된 링크입니다. 로그인된 화면에서 새 링크를 만드세요.
link-other-heading = 이 브라우저는 다른 사용자로 로그인되어 있습니다
link-other-lead = 이 브라우저는 { $current } 계정으로 로그인되어 있습니다. { $account } 계정으로 로그인하려면 먼저 여기서 로그아웃하세요.
link-other-go = 로그인된 계정으로 이동
link-same-heading = 이미 로그인되어 있습니다
link-same-lead = 이 브라우저는 이미 { $account } 계정으로 로그인되어 있습니다. 더 할 일이 없습니다.
link-same-continue = 계속
link-ask-heading = { $account } 계정으로 로그인하시겠습니까?
link-ask-lead = 이 기기는 별도의 세션으로 { $app }에 { $account } 계정으로 로그인됩니다.
link-ask-warning = { $account } 계정으로 로그인된 화면에서 직접 이 링크를 만든 경우에만 계속하세요. 누군가 이 링크를 보내 준 것이라면 이 페이지를 닫으세요.
link-ask-button = { $account } 계정으로 로그인
link-code-label = 이 기기를 허용하려면 로그인된 화면에 이 코드를 입력하세요:
link-code-note = 이 코드는 이 기기에만 표시됩니다. 로그인된 화면에서 이 코드가 표시되지 않는 기기에 대해 묻는다면, 그 화면에서 거부하세요.
link-asking = 요청하는 중…
link-waiting = 로그인된 화면의 응답을 기다리는 중…
link-allowed = 허용됨: 로그인하는 중…
link-denied = 로그인된 화면에서 이 기기를 거부했습니다.
link-spent = 로그인된 화면에서 잘못된 코드가 너무 많이 입력되어 이 링크는 더 이상 쓸 수 없습니다. 그 화면에서 새 링크를 만드세요.
link-unusable = 이 링크는 더 이상 사용할 수 없습니다.

## 휴대폰: 로그인

signin-title = 승인하려면 로그인하세요: { $app }
signin-heading = 승인하려면 로그인하세요
signin-lead = 화면을 { $app }에 로그인시키려면 먼저 이 휴대폰에서 로그인하세요.
signin-with-mentra = Mentra로 로그인
signin-or-open = 또는 MentraOS 앱에서 { $app } 앱을 여세요.
signin-open-from-mentra = Mentra 계정으로 로그인하려면 MentraOS 앱에서 { $app } 앱을 여세요.
signin-local = 또는 로컬 계정으로 로그인:
signin-username = 사용자 이름
signin-password = 비밀번호
signin-submit = 로그인
signin-signing-in = 로그인하는 중…
signin-wrong = 사용자 이름과 비밀번호가 일치하는 계정이 없습니다.

## 휴대폰: 화면 로그인 승인

scan-title = { $app }: 로그인 승인
scan-signed-in-as = 로그인된 계정
scan-sign-out = 로그아웃
scan-heading = 화면 로그인
scan-lead = 카메라로 화면의 QR 코드를 스캔하거나, 그 아래에 표시된 코드를 입력하세요.
scan-camera-start = 카메라로 스캔
scan-camera-view = 카메라 화면
scan-camera-stop = 카메라 끄기
scan-camera-point = 카메라를 화면의 QR 코드에 맞추세요.
scan-camera-unsupported = 이 브라우저에서는 카메라를 사용할 수 없습니다. 대신 QR 코드 아래에 표시된 코드를 입력하세요.
scan-camera-denied = 카메라 사용이 허용되지 않았습니다. 브라우저 설정에서 허용하거나 QR 코드 아래에 표시된 코드를 입력하세요.
scan-camera-missing = 카메라를 찾을 수 없습니다. QR 코드 아래에 표시된 코드를 입력하세요.
scan-camera-failed = 카메라를 시작할 수 없습니다. QR 코드 아래에 표시된 코드를 입력하세요.
scan-code-label = 화면에 표시된 코드
scan-code-hint = 화면에 표시된 영문자 8자(하이픈은 생략 가능).
scan-code-invalid = 화면에 표시되는 코드가 아닙니다. 글자를 확인하고 다시 시도하세요.
scan-continue = 계속
scan-checking = 코드를 확인하는 중…
confirm-heading = 이 화면에 로그인하시겠습니까?
confirm-lead = 눈앞에 있는 화면에서 직접 시작한 경우에만 계속하세요.
confirm-app = 앱
confirm-screen = 화면
confirm-address = 주소
confirm-network = 네트워크
confirm-same-network = 이 휴대폰과 같은 네트워크
confirm-different-network = 다른 네트워크
confirm-started = 시작 시각
confirm-code = 코드
confirm-other-network = 이 화면은 휴대폰과 다른 네트워크에 있습니다. 화면 앞에 있지 않다면 거부하세요.
confirm-check = 화면에 같은 코드가 표시되는지 확인하세요. 방금 눈앞의 화면에서 직접 시작한 것이 아니라면 거부하세요.
confirm-deny = 거부
confirm-approve = 승인
pin-heading = 화면에 이 PIN을 입력하세요
# script
pin-wrong-typed = 화면에 잘못 입력된 PIN: { $count }회. 남은 시도 횟수: { $left }회.
outcome-approved-title = 승인됨
outcome-approved-detail = 화면에서 로그인하는 중…
outcome-signed-in-title = 로그인됨
outcome-signed-in-detail = 화면이 내 계정으로 로그인되었습니다. 이제 휴대폰을 내려놓아도 됩니다.
outcome-denied-title = 거부됨
outcome-denied-detail = 로그인되지 않았습니다. 직접 시작한 것이 아니라면 누군가 내 계정으로 로그인하려 했을 수 있습니다. 그 사람은 이 코드를 사용할 수 없습니다.
outcome-expired-title = 로그인이 종료되었습니다
outcome-expired-detail = 로그인이 완료되기 전에 코드가 만료되었습니다. 로그인되지 않았습니다.
outcome-cancelled-title = 로그인이 종료되었습니다
outcome-cancelled-detail = 화면이 더 이상 기다리지 않습니다(닫혔거나 새 코드를 표시함). 로그인되지 않았습니다.
outcome-locked-title = 로그인 잠김
outcome-locked-detail = 화면에 잘못된 PIN이 너무 많이 입력되어 로그인되지 않았습니다. 본인이 입력한 것이 아니라면 다른 사람이 로그인을 시도하고 있을 수 있습니다.
outcome-scan-another = 다른 코드 스캔
scan-passkeys = 패스키
scan-passkeys-add = 패스키 추가
# script
passkey-asking = 지문, 얼굴 또는 화면 잠금으로 확인하세요…
# script
passkey-unsupported = 이 브라우저는 이 승인에 필요한 패스키를 사용할 수 없습니다. 휴대폰의 기본 브라우저(Chrome, Safari)에서 이 페이지를 열어 승인하세요.
# script
passkey-cancelled = 패스키가 사용되지 않았습니다. 준비되면 다시 시도하세요.
passkey-first = 승인하려면 패스키가 필요한데 이 계정에는 아직 없습니다. 패스키를 추가한 뒤 코드를 다시 스캔하세요.

## 휴대폰: 패스키

passkeys-title = { $app }: 패스키
passkeys-heading = 패스키
passkeys-lead = 패스키가 있으면 이 휴대폰은 로그인을 승인하기 전에 지문, 얼굴 또는 화면 잠금을 요청하므로, 다른 사람이 휴대폰을 집어 들어도 승인할 수 없습니다.
passkeys-unavailable = 이 서버에서는 패스키를 사용할 수 없습니다. 휴대폰 페이지가 IP 주소에 있어 브라우저가 거부합니다. 운영자에게 문의하세요.
passkeys-back = 스캔으로 돌아가기
passkeys-name-label = 새 패스키의 이름(예: 이 휴대폰)
passkeys-add = 패스키 추가
# script
passkeys-none = 아직 패스키가 없습니다.
# script
passkeys-added-on = 추가: { $date }
# script
passkeys-last-used = 마지막 사용: { $date }
# script
passkeys-never-used = 아직 사용 안 함
# script
passkeys-rename = 이름 바꾸기
# script
passkeys-remove = 삭제
# script
passkeys-rename-label = { $name }의 새 이름
# script
passkeys-rename-button-label = { $name } 이름 바꾸기
# script
passkeys-remove-label = { $name } 삭제
# script
passkeys-save = 저장
# script
passkeys-added = 패스키를 추가했습니다.
# script
passkeys-removed = 패스키를 삭제했습니다.
# script
passkeys-renamed = 패스키 이름을 바꿨습니다.

## 휴대폰: 안내만 하는 페이지

message-unknown-code-title = 알 수 없는 코드
message-unknown-code-detail = 이 서비스의 로그인 코드가 아닙니다. 화면의 QR 코드를 다시 스캔하세요.
message-mentra-off-title = Mentra 로그인이 꺼져 있습니다
message-mentra-off-detail = 이 서버에는 MentraOS 앱이 설정되어 있지 않습니다. 대신 로컬 계정으로 로그인하세요.
message-open-from-mentra-title = MentraOS에서 여세요
message-open-from-mentra-detail = Mentra 계정으로 로그인하려면 휴대폰의 MentraOS 앱에서 이 앱을 여세요.
message-mentra-unset-title = MentraOS 로그인이 설정되지 않았습니다
message-mentra-unset-detail = 이 서버에는 MentraOS 앱 자격 증명이 없습니다. 서버 관리자에게 문의하세요.
message-someone-else-title = 다른 사용자로 로그인되어 있습니다
message-someone-else-detail = 이 휴대폰은 다른 계정으로 로그인되어 있습니다. 먼저 로그아웃한 후 다시 시도하세요.
message-signin-failed-title = 로그인하지 못했습니다
message-signin-failed-detail = MentraOS가 사용자를 확인하지 못했습니다. 이 로그인은 이미 사용되었거나 만료되었거나 이 앱을 위한 것이 아닙니다. MentraOS에서 앱을 다시 여세요.
message-signin-failed-upstream = MentraOS가 응답하지 않았습니다. 잠시 기다린 다음 MentraOS에서 앱을 다시 여세요.
message-app-signin-refused-title = 이 로그인을 계속할 수 없습니다
message-app-signed-out-title = 로그아웃됨
message-app-signed-out-detail = { $app }에서 로그아웃되었습니다.
message-rate-limited-title = 로그인 시도 횟수가 너무 많습니다
