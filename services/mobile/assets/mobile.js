"use strict";
// The phone: sign in with a local account, claim a request (from the QR link or a typed
// code), show what the screen reported, send the decision, and follow the request to its end
// over a WebSocket (polling if sockets fail): signed in, denied, locked, or ended because the
// screen left or the code expired. Everything shown comes from the server as data and is
// written with textContent, never as HTML.
(function () {
  const $ = (id) => document.getElementById(id);
  const { text, api, problem, device, passkey } = window.qrlogin;
  const status = (message) => { const s = $("status"); if (s) s.textContent = message; };

  const signin = $("signin");
  if (signin) {
    const form = $("local-login");
    if (form) form.addEventListener("submit", async (event) => {
      event.preventDefault();
      status(text("signin-signing-in"));
      try {
        await api("POST", "/api/local/login", { username: form.username.value, password: form.password.value });
        location.href = signin.dataset.next || "/scan";
      } catch (e) { status(e.status === 401 ? text("signin-wrong") : problem(e)); }
    });
    return;
  }

  const scan = $("scan");
  if (!scan) return;
  let requestId = null;
  let started = null;   // when the screen started the request, in this phone's clock
  let ageTimer = null;
  let following = null; // the request whose socket or poll is open
  let shown = null;     // the outcome on show ("approved", "signed-in", …), if any
  let approval = "tap"; // what approving takes: "tap", "passkey" or "passkey_first"

  function ago(seconds) {
    if (seconds < 60) return text("time-seconds-ago", { seconds });
    return text("time-minutes-ago", { minutes: Math.round(seconds / 60) });
  }

  // One section at a time, and focus on its heading so a screen reader says what changed.
  function show(section) {
    for (const id of ["enter-code", "confirm", "pin-box", "outcome"]) $(id).hidden = id !== section;
    const heading = $(section).querySelector("h1");
    if (heading) heading.focus();
  }

  function confirm(c) {
    requestId = c.id;
    shown = null;
    $("c-client").textContent = c.client_name;
    $("c-device").textContent = device(c.screen_device_name);
    $("c-ip").textContent = c.screen_ip;
    $("c-network").textContent = text(c.same_network ? "confirm-same-network" : "confirm-different-network");
    $("c-warning").hidden = c.same_network;
    $("c-code").textContent = c.user_code;
    started = Date.now() - c.started_seconds_ago * 1000;
    const age = () => { $("c-age").textContent = ago(Math.max(0, Math.round((Date.now() - started) / 1000))); };
    age();
    clearInterval(ageTimer);
    ageTimer = setInterval(age, 1000);
    approval = c.approval || "tap";
    // Where a passkey is needed and cannot be given here, the page says what to do instead
    // of offering a button that cannot work.
    const blocked = approval === "passkey_first" ? "c-passkey-first"
      : approval === "passkey" && !passkey.supported() ? "c-passkey-unsupported" : null;
    $("c-passkey-first").hidden = blocked !== "c-passkey-first";
    $("c-passkey-unsupported").hidden = blocked !== "c-passkey-unsupported";
    $("approve").hidden = blocked !== null;
    $("approve").disabled = false; $("deny").disabled = false;
    show("confirm");
    status("");
    follow(c.id);
  }

  // How the request ended, in words, with the one thing left to do.
  function outcome(kind) {
    shown = kind;
    clearInterval(ageTimer);
    $("approve").disabled = true; $("deny").disabled = true;
    $("outcome-title").textContent = text("outcome-" + kind + "-title");
    $("outcome-detail").textContent = text("outcome-" + kind + "-detail");
    $("outcome-next").hidden = kind === "approved";
    show("outcome");
    status("");
  }

  // What the phone shows for each state the request reaches while it follows it.
  function onState(s) {
    if (s.id !== requestId) return false;
    if (s.pin_failed_attempts > 0) $("pin-attempts").textContent = text("pin-wrong-typed", { count: s.pin_failed_attempts, left: s.pin_attempts_left });
    switch (s.state) {
      case "approved":
        // In PIN mode the PIN stays on show until the screen has typed it.
        if (s.pin_confirmed === false) return false;
        if (shown !== "approved") outcome("approved");
        return false;
      case "redeemed": outcome("signed-in"); return true;
      case "denied": outcome("denied"); return true;
      case "locked": outcome("locked"); return true;
      case "expired": outcome("expired"); return true;
      case "cancelled": outcome("cancelled"); return true;
      default: return false;
    }
  }

  function follow(id) {
    if (following === id) return;
    following = id;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let finished = false;
    const socket = new WebSocket(scheme + location.host + "/api/login-requests/" + encodeURIComponent(id) + "/events");
    socket.onmessage = (event) => { finished = onState(JSON.parse(event.data)) || finished; };
    socket.onclose = (event) => {
      if (finished || following !== id) return;
      if (event.code === 1012) { following = null; setTimeout(() => follow(id), 250 + Math.random() * 500); return; }
      poll(id);
    };
  }

  const POLL_MS = 2000;
  async function poll(id) {
    while (following === id) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      try { if (following === id && onState(await api("GET", "/api/login-requests/" + id))) return; }
      catch (e) {
        if (following !== id) return;
        if (e.status === 404) { outcome("expired"); return; }
        if (e.status === 401 || e.status === 403) { status(problem(e)); return; }
        if (e.status === 429 || e.status === 503) await new Promise((r) => setTimeout(r, (e.retryAfter || 5) * 1000));
      }
    }
  }

  async function claim(body) {
    status(text("scan-checking"));
    try { confirm(await api("POST", "/api/scan", body)); }
    catch (e) {
      status(e.code === "invalid_request" && body.user_code !== undefined ? text("scan-code-invalid") : problem(e));
      const input = $("user-code");
      if (!$("enter-code").hidden && input) input.focus();
    }
  }

  // The owner's proof for this request: a challenge named after it, answered by a passkey.
  async function passkeyProof() {
    status(text("passkey-asking"));
    const options = await api("POST", "/api/login-requests/" + requestId + "/passkey-check", {});
    return passkey.check(options);
  }

  async function decide(verb) {
    $("approve").disabled = true; $("deny").disabled = true;
    try {
      const body = verb === "approve" && approval === "passkey" ? { passkey: await passkeyProof() } : {};
      const decided = await api("POST", "/api/login-requests/" + requestId + "/" + verb, body);
      // The socket may have told how it went on already (the screen is that quick, or it
      // left): the answer to this call must not take the phone back to an earlier step.
      if (shown !== null) return;
      if (decided.pin) { $("pin").textContent = decided.pin; show("pin-box"); return; }
      outcome(verb === "approve" ? "approved" : "denied");
    } catch (e) {
      if (shown !== null) return; // how it ended is on show already
      // The account added a passkey since the claim: approving takes it now.
      if (verb === "approve" && e.code === "passkey_required" && approval === "tap" && passkey.supported()) {
        approval = "passkey";
        return decide(verb);
      }
      status(passkey.problem(e));
      if (e.status === 409 || e.status === 410 || e.status === 423) return; // it ended: the socket says how
      $("approve").disabled = false; $("deny").disabled = false;
    }
  }

  // The camera: the browser's own QR reader where it has one (BarcodeDetector), otherwise
  // about three downscaled frames a second to the server (POST /api/frames), until a code of
  // ours is read. Typing the code stays available throughout.
  const FRAME_INTERVAL_MS = 333;
  const FRAME_MAX_WIDTH = 960;
  let camera = null;
  const isOurs = (value) => value.startsWith(location.origin + "/s/") || /^[A-Za-z]{4}-?[A-Za-z]{4}$/.test(value.trim());

  function stopCamera() {
    if (camera) { camera.stream.getTracks().forEach((t) => t.stop()); camera.stopped = true; }
    camera = null;
    $("camera").hidden = true;
    $("camera-start").hidden = false;
  }

  function cameraProblem(e) {
    if (e.name === "NotAllowedError" || e.name === "SecurityError") return text("scan-camera-denied");
    if (e.name === "NotFoundError" || e.name === "OverconstrainedError") return text("scan-camera-missing");
    return text("scan-camera-failed");
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      status(text("scan-camera-unsupported"));
      $("user-code").focus();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      status(cameraProblem(e));
      $("user-code").focus();
      return;
    }
    const video = $("camera-view");
    video.srcObject = stream;
    await video.play().catch(() => {});
    camera = { stream, stopped: false };
    $("camera").hidden = false;
    $("camera-start").hidden = true;
    $("camera-stop").focus();
    status(text("scan-camera-point"));
    readFrames(camera, video);
  }

  async function readFrames(own, video) {
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
        if (res.status === 422 && data.error !== "several_codes") continue; // no code of ours in view yet
        if (res.status === 429 || res.status === 503) {
          const wait = Number(res.headers.get("Retry-After")) || 2;
          await new Promise((r) => setTimeout(r, wait * 1000));
          continue;
        }
        if (data.error === "several_codes") { status(problem({ code: data.error })); continue; }
        stopCamera();
        status(problem({ code: data.error }));
        return;
      } catch (e) {
        // A transient network failure: keep trying while the camera is on.
      }
    }
  }

  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", () => { stopCamera(); status(""); $("camera-start").focus(); });

  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    stopCamera();
    claim({ user_code: event.target.user_code.value });
  });
  $("approve").addEventListener("click", () => decide("approve"));
  $("deny").addEventListener("click", () => decide("deny"));
  $("sign-out").addEventListener("click", async (event) => {
    event.preventDefault();
    await api("POST", "/api/logout", {}).catch(() => {});
    location.href = "/scan";
  });
  if (scan.dataset.requestId) claim({ id: scan.dataset.requestId });
})();
