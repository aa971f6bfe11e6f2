# qrlogin: ข้อความที่ผู้ใช้เห็น ภาษาไทย
# หนึ่งข้อความต่อหนึ่ง id ตัวแปรเขียนเป็น { $name } ข้อความที่สคริปต์ของหน้าเติมค่า (มีเครื่องหมาย "script")
# ต้องไม่เลือกคำตามจำนวน: ข้อความจะถูกส่งไปยังเบราว์เซอร์โดยยังมีตัวแปรอยู่

## ใช้ร่วมกัน

network-failed = ไม่สามารถเชื่อมต่อเซิร์ฟเวอร์ได้ ตรวจสอบการเชื่อมต่อแล้วลองอีกครั้ง
time-just-now = เมื่อสักครู่
# script
time-seconds-ago = { $seconds } วินาทีที่แล้ว
# script
time-minutes-ago = { $minutes } นาทีที่แล้ว
session-kind-desktop = หน้าจอ
session-kind-mobile = โทรศัพท์
session-kind-app = แอป { $app }
# script
device-on = { $browser } บน { $system }
device-unknown = เบราว์เซอร์ที่ไม่รู้จัก

## ข้อผิดพลาด (ข้อความสำหรับผู้ใช้; ข้อความของ API มีไว้สำหรับนักพัฒนา)

error-invalid-request = คำขอมีบางอย่างไม่ถูกต้อง ตรวจสอบแล้วลองอีกครั้ง
error-unauthenticated = คุณออกจากระบบแล้ว เข้าสู่ระบบอีกครั้งเพื่อดำเนินการต่อ
error-forbidden = ไม่อนุญาตให้ทำสิ่งนี้จากที่นี่
error-not-found = รายการนี้ไม่มีอยู่แล้ว อาจสิ้นสุดไปแล้ว เริ่มใหม่อีกครั้ง
error-method-not-allowed = ทำสิ่งนี้ที่นี่ไม่ได้
error-conflict = รายการนี้ได้รับการตอบแล้วหรือสิ้นสุดแล้ว หรือมีผู้อื่นใช้อยู่ เริ่มใหม่อีกครั้ง
error-expired = รายการนี้หมดอายุแล้ว เริ่มใหม่ด้วยรายการใหม่
error-payload-too-large = ข้อมูลมีขนาดใหญ่เกินกว่าจะส่งได้
error-unsupported-media-type = ใช้ไฟล์ประเภทนี้ที่นี่ไม่ได้
error-no-code-found = ไม่พบรหัสเข้าสู่ระบบ ถือกล้องให้นิ่งตรงหน้า QR โค้ด
error-several-codes = มีรหัสเข้าสู่ระบบมากกว่าหนึ่งรหัสในภาพ หันกล้องไปที่หน้าจอเดียวเท่านั้น
error-invalid-qr-code = นี่ไม่ใช่รหัสเข้าสู่ระบบของเรา
error-request-timeout = ใช้เวลานานเกินไป ลองอีกครั้ง
error-locked = ป้อนรหัสผิดหลายครั้งเกินไป จึงถูกล็อก เริ่มใหม่ด้วยรายการใหม่
error-wrong-pin = PIN นี้ไม่ตรงกับที่แสดงบนโทรศัพท์
error-pin-required = ป้อน PIN ที่แสดงบนโทรศัพท์ก่อน
error-rate-limited = ลองหลายครั้งเกินไปในเวลาสั้นๆ รอสักสองสามนาทีแล้วลองอีกครั้ง
error-internal-error = เกิดข้อผิดพลาดที่ฝั่งเรา ลองอีกครั้ง
error-upstream-error = บริการที่เราใช้งานไม่ตอบสนอง ลองอีกครั้งในอีกสักครู่
error-unavailable = บริการไม่ว่างชั่วคราว ลองอีกครั้งในอีกสักครู่
error-passkey-required = ต้องใช้พาสคีย์ของคุณ (ลายนิ้วมือ ใบหน้า หรือการล็อกหน้าจอ)
error-passkey-failed = ตรวจสอบพาสคีย์ของคุณไม่ได้ ลองอีกครั้ง

## หน้าข้อผิดพลาด

page-not-found-title = ไม่พบหน้านี้
page-not-found-detail = ไม่มีหน้าที่ที่อยู่นี้ ตรวจสอบลิงก์ หรือเริ่มใหม่จากหน้าเข้าสู่ระบบ
page-error-title = เกิดข้อผิดพลาด
page-go-home = ไปที่หน้าเข้าสู่ระบบ
page-reference = รหัสอ้างอิง:

## หน้าจอ: หน้า QR

screen-title = เข้าสู่ระบบ { $app }
screen-lead = สแกนรหัสนี้ด้วยแอป { $app } ใน MentraOS ด้วยแว่นของคุณ หรือด้วยกล้องโทรศัพท์
screen-qr-label = QR โค้ดสำหรับสแกนด้วยโทรศัพท์หรือแว่น
screen-preparing = กำลังเตรียมรหัสเข้าสู่ระบบ…
screen-or-type = หรือป้อนรหัสนี้บนโทรศัพท์:
screen-scan-now = สแกนรหัสเพื่อเข้าสู่ระบบ
# script
screen-expires-in = รหัสใหม่จะแสดงในอีก { $seconds } วินาที
# script
screen-claimed = สแกนแล้ว ยืนยันบนโทรศัพท์ และตรวจสอบว่าโทรศัพท์แสดง { $code }
screen-pin-label = PIN ที่แสดงบนโทรศัพท์
screen-pin-submit = เข้าสู่ระบบ
# script
screen-pin-ask = อนุมัติบนโทรศัพท์แล้ว ป้อน PIN 6 หลักที่แสดงบนโทรศัพท์ ลองได้อีก { $left } ครั้ง
# script
screen-pin-wrong = PIN นี้ไม่ตรงกับที่แสดงบนโทรศัพท์ ลองได้อีก { $left } ครั้ง
screen-signing-in = อนุมัติแล้ว กำลังเข้าสู่ระบบ…
screen-new-code = แสดงรหัสใหม่
screen-back-to-app = กลับไปที่ { $app }
screen-denied-title = การเข้าสู่ระบบถูกปฏิเสธ
screen-denied-detail = โทรศัพท์ปฏิเสธการเข้าสู่ระบบนี้ ไม่มีการเข้าสู่ระบบใดๆ
screen-cancelled-title = การเข้าสู่ระบบถูกหยุด
screen-cancelled-detail = การเข้าสู่ระบบนี้ถูกหยุดก่อนเสร็จสิ้น ไม่มีการเข้าสู่ระบบใดๆ
screen-locked-title = การเข้าสู่ระบบถูกล็อก
screen-locked-detail = ป้อน PIN ผิดหลายครั้งเกินไป การเข้าสู่ระบบนี้จึงถูกล็อก ไม่มีการเข้าสู่ระบบใดๆ
screen-failed-title = เข้าสู่ระบบไม่สำเร็จ
screen-failed-detail = เกิดข้อผิดพลาด ลองอีกครั้งด้วยรหัสใหม่
screen-one-computer = ลองใช้งานบนคอมพิวเตอร์เครื่องเดียวใช่ไหม?
screen-open-phone-page = เปิดหน้าสำหรับโทรศัพท์ในอีกหน้าต่างหนึ่ง

## หน้าจอ: เข้าสู่ระบบแล้ว

dashboard-title = { $app }: เข้าสู่ระบบแล้ว
dashboard-heading = เข้าสู่ระบบแล้ว
dashboard-signed-in-as = หน้าจอนี้เข้าสู่ระบบในชื่อ
dashboard-account = บัญชี
account-local = { $username } (บัญชีภายใน)
account-mentra = บัญชี Mentra
dashboard-since = เข้าสู่ระบบเมื่อ
dashboard-from = จาก
dashboard-sign-out = ออกจากระบบ
dashboard-sign-out-everywhere = ออกจากระบบทุกอุปกรณ์
dashboard-everywhere-question = ออกจากระบบในทุกอุปกรณ์ รวมถึงหน้าจอนี้และโทรศัพท์ของคุณใช่ไหม?
dashboard-everywhere-yes = ใช่ ออกจากระบบทุกอุปกรณ์
dashboard-everywhere-no = ยกเลิก
dashboard-signing-out = กำลังออกจากระบบ…
dashboard-link-heading = เข้าสู่ระบบบนอุปกรณ์อื่น
dashboard-link-make = แสดงรหัสสำหรับอุปกรณ์อื่น
dashboard-link-qr-label = QR โค้ดสำหรับให้อุปกรณ์อื่นสแกน
dashboard-link-or-open = หรือเปิดที่อยู่นี้บนอุปกรณ์อื่น (ใช้ได้ครั้งเดียว):
# script
dashboard-link-question = มีอุปกรณ์เปิดลิงก์ของคุณ: { $device } ({ $ip }) อนุญาตให้อุปกรณ์นี้เข้าสู่ระบบในชื่อคุณหรือไม่?
dashboard-link-look = ดูที่อุปกรณ์ใหม่: อุปกรณ์นั้นจะแสดงรหัส 6 หลัก หากไม่แสดงรหัส หรือไม่ใช่อุปกรณ์ของคุณ ให้ปฏิเสธ
dashboard-link-code-label = รหัสที่แสดงบนอุปกรณ์ใหม่
dashboard-link-allow = อนุญาต
dashboard-link-refuse = ปฏิเสธ
dashboard-link-allowed = อนุญาตแล้ว: อุปกรณ์อื่นกำลังเข้าสู่ระบบ
dashboard-link-refused = ปฏิเสธแล้ว: อุปกรณ์นั้นไม่ได้รับสิทธิ์ใดๆ
dashboard-link-wrong-code = รหัสนี้ไม่ตรงกับที่แสดงบนอุปกรณ์ใหม่ ลองได้อีก { $left } ครั้ง
dashboard-link-type-code = ป้อนรหัส 6 หลักที่แสดงบนอุปกรณ์ใหม่
dashboard-sessions-heading = เซสชันของคุณ
# script
dashboard-session-row = { $kind }: { $device } · { $ip } · เข้าสู่ระบบ { $since } · ใช้งานล่าสุด { $seen }
dashboard-session-current = (หน้าจอนี้)
dashboard-revoke = เพิกถอน
# script
dashboard-revoke-label = เพิกถอน { $device } ที่ { $ip }
dashboard-revoked = สิ้นสุดเซสชันนั้นแล้ว
dashboard-activity-heading = กิจกรรมล่าสุด
activity-refused = (ถูกปฏิเสธ)
# script
dashboard-new-sign-in = มีการเข้าสู่ระบบบัญชีของคุณครั้งใหม่: { $device }, { $ip }, { $when } ไม่ใช่คุณใช่ไหม?
dashboard-revoke-that = เพิกถอนเซสชันนั้น
# script
dashboard-linked-device-in = อุปกรณ์อื่นของคุณเข้าสู่ระบบแล้ว: { $device }
# script
dashboard-kiosk-idle = หน้าจอที่ใช้ร่วมกันนี้จะออกจากระบบเมื่อไม่มีการใช้งาน { $total } วินาที เหลือเวลา { $left } วินาที
dashboard-kiosk-signing-out = กำลังออกจากระบบ: ไม่มีผู้ใช้หน้าจอนี้
event-redeem = หน้าจอเข้าสู่ระบบแล้ว
event-phone-sign-in = โทรศัพท์เข้าสู่ระบบแล้ว
event-claim = สแกนรหัสแล้ว
event-approve = อนุมัติการเข้าสู่ระบบแล้ว
event-deny = ปฏิเสธการเข้าสู่ระบบแล้ว
event-pin = ป้อน PIN แล้ว
event-lock = การเข้าสู่ระบบถูกล็อก
event-logout = ออกจากระบบแล้ว
event-logout-everywhere = ออกจากระบบทุกอุปกรณ์แล้ว
event-revoke = เพิกถอนเซสชันแล้ว
event-cancel = การเข้าสู่ระบบถูกหยุด
event-create = แสดงรหัสแล้ว
event-rate-limited = ลองหลายครั้งเกินไป
event-token-rejected = โทเค็นเข้าสู่ระบบถูกปฏิเสธ
event-account-created = สร้างบัญชีแล้ว
event-account-disabled = ปิดใช้งานบัญชีแล้ว
event-account-enabled = เปิดใช้งานบัญชีแล้ว
event-account-password-changed = เปลี่ยนรหัสผ่านแล้ว
event-account-removed = ลบบัญชีแล้ว
event-passkey-added = เพิ่มพาสคีย์แล้ว
event-passkey-removed = ลบพาสคีย์แล้ว
event-passkeys-reset = ผู้ดูแลรีเซ็ตพาสคีย์แล้ว

## อุปกรณ์ที่เปิดลิงก์เข้าสู่ระบบ

link-title = เข้าสู่ระบบ { $app } บนอุปกรณ์นี้
link-gone-heading = ใช้ลิงก์เข้าสู่ระบบนี้ไม่ได้
link-gone-lead = ลิงก์นี้ไม่รู้จัก ถูกใช้ไปแล้ว หรือหมดอายุแล้ว สร้างลิงก์ใหม่บนหน้าจอที่เข้าสู่ระบบอยู่
link-other-heading = เบราว์เซอร์นี้เข้าสู่ระบบในชื่อผู้ใช้อื่นอยู่
link-other-lead = เบราว์เซอร์นี้เข้าสู่ระบบเป็น { $current } อยู่ ออกจากระบบที่นี่ก่อนเพื่อเข้าสู่ระบบเป็น { $account }
link-other-go = ไปที่บัญชีที่เข้าสู่ระบบอยู่
link-same-heading = เข้าสู่ระบบอยู่แล้ว
link-same-lead = เบราว์เซอร์นี้เข้าสู่ระบบในชื่อ { $account } อยู่แล้ว ไม่ต้องทำอะไรเพิ่ม
link-same-continue = ดำเนินการต่อ
link-ask-heading = เข้าสู่ระบบในชื่อ { $account } ใช่ไหม?
link-ask-lead = อุปกรณ์นี้จะเข้าสู่ระบบ { $app } ในชื่อ { $account } โดยมีเซสชันแยกของตัวเอง
link-ask-warning = ดำเนินการต่อเฉพาะเมื่อคุณสร้างลิงก์นี้เองบนหน้าจอที่เข้าสู่ระบบในชื่อ { $account } เท่านั้น หากมีคนส่งลิงก์นี้มาให้คุณ ให้ปิดหน้านี้
link-ask-button = เข้าสู่ระบบในชื่อ { $account }
link-code-label = ป้อนรหัสนี้บนหน้าจอที่เข้าสู่ระบบอยู่เพื่ออนุญาตอุปกรณ์นี้:
link-code-note = รหัสนี้แสดงบนอุปกรณ์นี้เท่านั้น หากหน้าจอที่เข้าสู่ระบบอยู่ถามถึงอุปกรณ์ที่ไม่ได้แสดงรหัสนี้ ให้ปฏิเสธที่หน้าจอนั้น
link-asking = กำลังส่งคำขอ…
link-waiting = กำลังรอหน้าจอที่เข้าสู่ระบบอยู่…
link-allowed = อนุญาตแล้ว: กำลังเข้าสู่ระบบ…
link-denied = หน้าจอที่เข้าสู่ระบบอยู่ปฏิเสธอุปกรณ์นี้
link-spent = มีการป้อนรหัสผิดบนหน้าจอที่เข้าสู่ระบบอยู่หลายครั้งเกินไป ลิงก์นี้จึงใช้ไม่ได้แล้ว สร้างลิงก์ใหม่ที่หน้าจอนั้น
link-unusable = ลิงก์นี้ใช้ไม่ได้อีกต่อไป

## โทรศัพท์: เข้าสู่ระบบ

signin-title = เข้าสู่ระบบเพื่ออนุมัติ: { $app }
signin-heading = เข้าสู่ระบบเพื่ออนุมัติ
signin-lead = หากต้องการให้หน้าจอเข้าสู่ระบบ { $app } ให้เข้าสู่ระบบบนโทรศัพท์เครื่องนี้ก่อน
signin-with-mentra = เข้าสู่ระบบด้วย Mentra
signin-or-open = หรือเปิด { $app } จากแอป MentraOS
signin-open-from-mentra = หากใช้บัญชี Mentra: เปิด { $app } จากแอป MentraOS
signin-local = หรือใช้บัญชีภายใน:
signin-username = ชื่อผู้ใช้
signin-password = รหัสผ่าน
signin-submit = เข้าสู่ระบบ
signin-signing-in = กำลังเข้าสู่ระบบ…
signin-wrong = ชื่อผู้ใช้และรหัสผ่านไม่ตรงกับบัญชีใด

## โทรศัพท์: อนุมัติหน้าจอ

scan-title = { $app }: อนุมัติการเข้าสู่ระบบ
scan-signed-in-as = เข้าสู่ระบบในชื่อ
scan-sign-out = ออกจากระบบ
scan-heading = ให้หน้าจอเข้าสู่ระบบ
scan-lead = สแกน QR โค้ดบนหน้าจอด้วยกล้อง หรือป้อนรหัสที่แสดงอยู่ใต้ QR โค้ด
scan-camera-start = สแกนด้วยกล้อง
scan-camera-view = ภาพจากกล้อง
scan-camera-stop = ปิดกล้อง
scan-camera-point = หันกล้องไปที่ QR โค้ดบนหน้าจอ
scan-camera-unsupported = เบราว์เซอร์นี้ใช้กล้องที่นี่ไม่ได้ ป้อนรหัสที่แสดงใต้ QR โค้ดแทน
scan-camera-denied = ไม่ได้รับอนุญาตให้ใช้กล้อง อนุญาตในการตั้งค่าเบราว์เซอร์ หรือป้อนรหัสที่แสดงใต้ QR โค้ด
scan-camera-missing = ไม่พบกล้อง ป้อนรหัสที่แสดงใต้ QR โค้ด
scan-camera-failed = เปิดกล้องไม่ได้ ป้อนรหัสที่แสดงใต้ QR โค้ด
scan-code-label = รหัสที่แสดงบนหน้าจอ
scan-code-hint = ตัวอักษร 8 ตัวตามที่แสดงบนหน้าจอ (จะใส่ขีดหรือไม่ก็ได้)
scan-code-invalid = นี่ไม่ใช่รหัสที่หน้าจอแสดง ตรวจสอบตัวอักษรแล้วลองอีกครั้ง
scan-continue = ดำเนินการต่อ
scan-checking = กำลังตรวจสอบรหัส…
confirm-heading = เข้าสู่ระบบบนหน้าจอนี้ใช่ไหม?
confirm-lead = ดำเนินการต่อเฉพาะเมื่อคุณเริ่มขั้นตอนนี้เองบนหน้าจอที่อยู่ตรงหน้าคุณเท่านั้น
confirm-app = แอป
confirm-screen = หน้าจอ
confirm-address = ที่อยู่
confirm-network = เครือข่าย
confirm-same-network = เครือข่ายเดียวกับโทรศัพท์นี้
confirm-different-network = เครือข่ายอื่น
confirm-started = เริ่มเมื่อ
confirm-code = รหัส
confirm-other-network = หน้าจอนี้อยู่บนเครือข่ายที่ต่างจากโทรศัพท์ของคุณ หากคุณไม่ได้อยู่ตรงหน้าหน้าจอนี้ ให้ปฏิเสธ
confirm-check = ตรวจสอบว่าหน้าจอแสดงรหัสเดียวกัน หากคุณไม่ได้เพิ่งเริ่มขั้นตอนนี้เองบนหน้าจอที่อยู่ตรงหน้า ให้ปฏิเสธ
confirm-deny = ปฏิเสธ
confirm-approve = อนุมัติ
pin-heading = ป้อน PIN นี้บนหน้าจอ
# script
pin-wrong-typed = ป้อน PIN ผิดบนหน้าจอ { $count } ครั้ง ลองได้อีก { $left } ครั้ง
outcome-approved-title = อนุมัติแล้ว
outcome-approved-detail = หน้าจอกำลังเข้าสู่ระบบ…
outcome-signed-in-title = เข้าสู่ระบบแล้ว
outcome-signed-in-detail = หน้าจอเข้าสู่ระบบในชื่อคุณแล้ว เก็บโทรศัพท์ได้เลย
outcome-denied-title = ปฏิเสธแล้ว
outcome-denied-detail = ไม่มีการเข้าสู่ระบบใดๆ หากคุณไม่ได้เริ่มขั้นตอนนี้เอง อาจมีคนพยายามเข้าสู่ระบบในชื่อคุณ แต่เขาจะใช้รหัสนี้ไม่ได้
outcome-expired-title = การเข้าสู่ระบบนี้สิ้นสุดแล้ว
outcome-expired-detail = รหัสหมดอายุก่อนการเข้าสู่ระบบจะเสร็จสิ้น ไม่มีการเข้าสู่ระบบใดๆ
outcome-cancelled-title = การเข้าสู่ระบบนี้สิ้นสุดแล้ว
outcome-cancelled-detail = หน้าจอหยุดรอแล้ว (ถูกปิดหรือแสดงรหัสใหม่) ไม่มีการเข้าสู่ระบบใดๆ
outcome-locked-title = การเข้าสู่ระบบถูกล็อก
outcome-locked-detail = มีการป้อน PIN ผิดบนหน้าจอหลายครั้งเกินไป จึงไม่มีการเข้าสู่ระบบใดๆ หากไม่ใช่คุณ อาจมีคนอื่นพยายามเข้าสู่ระบบอยู่
outcome-scan-another = สแกนรหัสอื่น
scan-passkeys = พาสคีย์
scan-passkeys-add = เพิ่มพาสคีย์
# script
passkey-asking = ยืนยันด้วยลายนิ้วมือ ใบหน้า หรือการล็อกหน้าจอ…
# script
passkey-unsupported = เบราว์เซอร์นี้ใช้พาสคีย์ที่การอนุมัตินี้ต้องการไม่ได้ เปิดหน้านี้ในเบราว์เซอร์ของโทรศัพท์ (Chrome, Safari) แล้วอนุมัติที่นั่น
# script
passkey-cancelled = ไม่ได้ใช้พาสคีย์ ลองอีกครั้งเมื่อพร้อม
passkey-first = การอนุมัติต้องใช้พาสคีย์ แต่บัญชีนี้ยังไม่มี เพิ่มพาสคีย์ก่อน แล้วสแกนโค้ดอีกครั้ง

## โทรศัพท์: พาสคีย์

passkeys-title = { $app }: พาสคีย์
passkeys-heading = พาสคีย์
passkeys-lead = เมื่อมีพาสคีย์ โทรศัพท์นี้จะขอลายนิ้วมือ ใบหน้า หรือการล็อกหน้าจอก่อนอนุมัติการลงชื่อเข้าใช้ คนอื่นที่หยิบโทรศัพท์ไปจึงอนุมัติไม่ได้
passkeys-unavailable = ใช้พาสคีย์บนเซิร์ฟเวอร์นี้ไม่ได้ เพราะหน้าของโทรศัพท์อยู่บนที่อยู่ IP ซึ่งเบราว์เซอร์ปฏิเสธ โปรดติดต่อผู้ดูแล
passkeys-back = กลับไปสแกน
passkeys-name-label = ชื่อของพาสคีย์ใหม่ (เช่น โทรศัพท์เครื่องนี้)
passkeys-add = เพิ่มพาสคีย์
# script
passkeys-none = ยังไม่มีพาสคีย์
# script
passkeys-added-on = เพิ่มเมื่อ { $date }
# script
passkeys-last-used = ใช้ล่าสุด { $date }
# script
passkeys-never-used = ยังไม่เคยใช้
# script
passkeys-rename = เปลี่ยนชื่อ
# script
passkeys-remove = ลบ
# script
passkeys-rename-label = ชื่อใหม่ของ { $name }
# script
passkeys-rename-button-label = เปลี่ยนชื่อ { $name }
# script
passkeys-remove-label = ลบ { $name }
# script
passkeys-save = บันทึก
# script
passkeys-added = เพิ่มพาสคีย์แล้ว
# script
passkeys-removed = ลบพาสคีย์แล้ว
# script
passkeys-renamed = เปลี่ยนชื่อพาสคีย์แล้ว

## โทรศัพท์: หน้าที่แสดงข้อความอย่างเดียว

message-unknown-code-title = ไม่รู้จักรหัสนี้
message-unknown-code-detail = นี่ไม่ใช่รหัสเข้าสู่ระบบของเรา สแกน QR โค้ดบนหน้าจออีกครั้ง
message-mentra-off-title = การเข้าสู่ระบบด้วย Mentra ปิดอยู่
message-mentra-off-detail = เซิร์ฟเวอร์นี้ไม่ได้ตั้งค่าแอป MentraOS ไว้ เข้าสู่ระบบด้วยบัญชีภายในแทน
message-open-from-mentra-title = เปิดจาก MentraOS
message-open-from-mentra-detail = เปิดแอปนี้จากแอป MentraOS บนโทรศัพท์เพื่อเข้าสู่ระบบด้วยบัญชี Mentra ของคุณ
message-mentra-unset-title = ยังไม่ได้ตั้งค่าการเข้าสู่ระบบด้วย MentraOS
message-mentra-unset-detail = เซิร์ฟเวอร์นี้ไม่มีข้อมูลรับรองของแอป MentraOS ติดต่อผู้ดูแลเซิร์ฟเวอร์
message-someone-else-title = เข้าสู่ระบบในชื่อผู้ใช้อื่นอยู่
message-someone-else-detail = โทรศัพท์นี้เข้าสู่ระบบด้วยบัญชีอื่นอยู่ ออกจากระบบก่อน แล้วลองอีกครั้ง
message-signin-failed-title = เข้าสู่ระบบไม่สำเร็จ
message-signin-failed-detail = MentraOS ยืนยันตัวตนของคุณไม่ได้ การเข้าสู่ระบบนี้ถูกใช้ไปแล้ว หมดอายุ หรือไม่ได้มีไว้สำหรับแอปนี้ เปิดแอปจาก MentraOS อีกครั้ง
message-signin-failed-upstream = MentraOS ไม่ตอบกลับ รอสักครู่ แล้วเปิดแอปจาก MentraOS อีกครั้ง
message-app-signin-refused-title = ไม่สามารถเข้าสู่ระบบนี้ต่อได้
message-app-signed-out-title = ออกจากระบบแล้ว
message-app-signed-out-detail = คุณออกจากระบบ { $app } แล้ว
message-rate-limited-title = พยายามเข้าสู่ระบบหลายครั้งเกินไป
