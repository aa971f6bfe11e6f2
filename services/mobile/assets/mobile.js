"use strict";
// The phone: sign in with a local account, claim a request (from the QR link or a typed
// code), show what the screen reported, and send the decision. Everything shown comes from
// the server as data and is written with textContent, never as HTML.
(function () {
  const $ = (id) => document.getElementById(id);
  const status = (text) => { const s = $("status"); if (s) s.textContent = text; };

  async function api(path, body) {
    const res = await fetch(path, body === undefined ? { credentials: "same-origin" } : {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(data.message || ("HTTP " + res.status)), { status: res.status });
    return data;
  }

  const signin = $("signin");
  if (signin) {
    const form = $("local-login");
    if (form) form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status("Signing in…");
      try {
        await api("/api/local/login", { username: form.username.value, password: form.password.value });
        location.href = signin.dataset.next || "/scan";
      } catch (e) { status(e.message); }
    });
    return;
  }

  const scan = $("scan");
  if (!scan) return;
  let requestId = null;

  function ago(seconds) {
    if (seconds < 60) return seconds + " s ago";
    return Math.round(seconds / 60) + " min ago";
  }

  function confirm(c) {
    requestId = c.id;
    $("enter-code").hidden = true;
    $("confirm").hidden = false;
    $("c-client").textContent = c.client_name;
    $("c-device").textContent = c.screen_device;
    $("c-ip").textContent = c.screen_ip;
    $("c-network").textContent = c.same_network ? "Same network as this phone" : "A different network";
    $("c-warning").hidden = c.same_network;
    $("c-age").textContent = ago(c.started_seconds_ago);
    $("c-code").textContent = c.user_code;
    status("");
  }

  async function claim(body) {
    status("Checking the code…");
    try { confirm(await api("/api/scan", body)); } catch (e) { status(e.message); }
  }

  async function decide(verb) {
    $("approve").disabled = true; $("deny").disabled = true;
    try {
      const decided = await api("/api/login-requests/" + requestId + "/" + verb, {});
      $("confirm").hidden = true;
      if (decided.pin) { showPin(decided.pin); return; }
      status(verb === "approve" ? "Approved. The screen is signing in." : "Denied. Nothing was signed in.");
    } catch (e) {
      status(e.message);
      $("approve").disabled = false; $("deny").disabled = false;
    }
  }

  // PIN mode: show the PIN until the screen has typed it, with the attempts it made.
  const PIN_POLL_MS = 2000;
  async function showPin(pin) {
    $("pin-box").hidden = false;
    $("pin").textContent = pin;
    status("Type this PIN on the screen.");
    const id = requestId;
    for (;;) {
      await new Promise((r) => setTimeout(r, PIN_POLL_MS));
      let s;
      try { s = await api("/api/login-requests/" + id); } catch (e) { status(e.message); return; }
      if (s.pin_failed_attempts > 0) $("pin-attempts").textContent = "Wrong PINs typed on the screen: " + s.pin_failed_attempts + " (" + s.pin_attempts_left + " left).";
      if (s.pin_confirmed) { $("pin-box").hidden = true; status("The screen typed the PIN. It is signing in."); return; }
      if (s.state === "locked") { $("pin-box").hidden = true; status("Too many wrong PINs were typed on the screen: this sign-in is locked. If that was not you, someone else may be trying to sign in."); return; }
      if (s.state !== "approved") { $("pin-box").hidden = true; status("This sign-in is " + s.state + "."); return; }
    }
  }

  // The camera: the browser's own QR reader where it has one (BarcodeDetector), otherwise
  // about three downscaled frames a second to the server (POST /api/frames), until a code of
  // ours is read. Typing the code stays available throughout.
  const FRAME_INTERVAL_MS = 333;
  const FRAME_MAX_WIDTH = 960;
  let camera = null;
  const isOurs = (text) => text.startsWith(location.origin + "/s/") || /^[A-Za-z]{4}-?[A-Za-z]{4}$/.test(text.trim());

  function stopCamera() {
    if (camera) { camera.stream.getTracks().forEach((t) => t.stop()); camera.stopped = true; }
    camera = null;
    $("camera").hidden = true;
    $("camera-start").hidden = false;
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status("This browser cannot use the camera here. Type the code shown under the QR code.");
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      status("The camera is not available (" + e.name + "). Type the code shown under the QR code.");
      return;
    }
    const video = $("camera-view");
    video.srcObject = stream;
    await video.play().catch(() => {});
    camera = { stream, stopped: false };
    $("camera").hidden = false;
    $("camera-start").hidden = true;
    status("Point the camera at the QR code on the screen.");
    const own = camera;
    const detector = ("BarcodeDetector" in window) ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
    const canvas = document.createElement("canvas");
    while (!own.stopped) {
      await new Promise((r) => setTimeout(r, FRAME_INTERVAL_MS));
      if (own.stopped || !video.videoWidth) continue;
      try {
        if (detector) {
          // Another code in view (a poster's) must not stop the search for ours.
          const codes = await detector.detect(video);
          const ours = codes.find((c) => isOurs(c.rawValue));
          if (ours) { stopCamera(); claim(ours.rawValue.startsWith("http") ? { qr_text: ours.rawValue } : { user_code: ours.rawValue }); return; }
          continue;
        }
        const scale = Math.min(1, FRAME_MAX_WIDTH / video.videoWidth);
        canvas.width = Math.round(video.videoWidth * scale);
        canvas.height = Math.round(video.videoHeight * scale);
        canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
        const frame = await new Promise((r) => canvas.toBlob(r, "image/jpeg", 0.85));
        if (!frame || own.stopped) continue;
        const res = await fetch("/api/frames", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "image/jpeg" }, body: frame });
        const data = await res.json().catch(() => ({}));
        if (res.ok) { stopCamera(); confirm(data); return; }
        if (res.status === 422) continue; // no code of ours in view yet
        if (res.status === 429 || res.status === 503) {
          const wait = Number(res.headers.get("Retry-After")) || 2;
          await new Promise((r) => setTimeout(r, wait * 1000));
          continue;
        }
        stopCamera();
        status(data.message || ("HTTP " + res.status));
        return;
      } catch (e) {
        // A transient network failure: keep trying while the camera is on.
      }
    }
  }

  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", () => { stopCamera(); status(""); });

  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    stopCamera();
    claim({ user_code: event.target.user_code.value });
  });
  $("approve").addEventListener("click", () => decide("approve"));
  $("deny").addEventListener("click", () => decide("deny"));
  $("sign-out").addEventListener("click", async (event) => {
    event.preventDefault();
    await api("/api/logout", {}).catch(() => {});
    location.href = "/scan";
  });
  if (scan.dataset.requestId) claim({ id: scan.dataset.requestId });
})();
