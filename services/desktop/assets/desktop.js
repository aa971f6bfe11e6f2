"use strict";
// The QR page: create a login request, show its QR and code, follow its state over a
// WebSocket (polling if sockets fail), redeem the approval and go to the dashboard.
(function () {
  const AUTO_RENEWALS = 3;      // expired codes renewed without a click
  const POLL_INTERVAL_MS = 2000;
  const $ = (id) => document.getElementById(id);
  let renewals = 0;
  let current = null;          // { id, expires_at, … } of the request on screen
  let timer = null;
  let socket = null;

  function status(text) { $("status").textContent = text; }

  async function api(method, path, body) {
    const res = await fetch(path, {
      method, credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(data.message || ("HTTP " + res.status)), { status: res.status, code: data.error });
    return data;
  }

  // Tells the server this page no longer waits for `current` (renewal, leaving the page).
  function abandon() {
    if (!current) return;
    fetch("/api/login-requests/" + current.id, { method: "DELETE", credentials: "same-origin", keepalive: true }).catch(() => {});
    current = null;
  }

  async function start() {
    stop();
    abandon();
    $("renew").hidden = true;
    status("Preparing a sign-in code…");
    try {
      const request = await api("POST", "/api/login-requests", { qr_svg: true });
      current = request;
      const skew = Date.now() - (request.expires_at - request.expires_in * 1000);
      current.deadline = request.expires_at + skew;
      $("qr").innerHTML = request.qr_svg; // our own server's SVG
      $("user-code").textContent = request.user_code;
      $("phone-link").href = request.qr_url;
      status("Scan the code to sign in.");
      tick();
      timer = setInterval(tick, 1000);
      listen(request);
    } catch (e) {
      status("Could not create a sign-in code: " + e.message);
      offerRenewal();
    }
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    if (socket) { socket.onclose = null; socket.close(); }
    socket = null;
  }

  function tick() {
    if (!current) return;
    const left = Math.max(0, Math.round((current.deadline - Date.now()) / 1000));
    $("countdown").textContent = left > 0 ? "This code expires in " + left + " s." : "";
  }

  function listen(request) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let finished = false;
    socket = new WebSocket(scheme + location.host + request.events_url);
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.id !== current.id) return;
      finished = onState(message) || finished;
    };
    socket.onclose = (event) => {
      if (finished || !current || current.id !== request.id) return;
      // 1012: this instance is restarting; another one will carry on from the current state.
      if (event.code === 1012) { setTimeout(() => { if (current && current.id === request.id) listen(request); }, 250 + Math.random() * 500); return; }
      poll(request.id);
    };
  }

  async function poll(id) {
    while (current && current.id === id) {
      try {
        const s = await api("GET", "/api/login-requests/" + id);
        if (onState(s)) return;
      } catch (e) {
        if (e.status === 410 || e.status === 404) { onState({ state: "expired" }); return; }
      }
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }
  }

  // Returns true when the request has reached a final state on this page.
  function onState(message) {
    if (typeof message.expires_in === "number") current.deadline = Date.now() + message.expires_in * 1000;
    switch (message.state) {
      case "pending": status("Scan the code to sign in."); return false;
      case "claimed": status("Scanned. Confirm on your phone, and check the code matches " + $("user-code").textContent + "."); return false;
      case "approved":
        if (message.pin_required) { askForPin(message.pin_attempts_left); return false; }
        $("pin-form").hidden = true;
        redeem(current.id);
        return true;
      case "redeemed": return true;
      case "denied": stop(); status("The sign-in was refused on the phone."); offerRenewal(); return true;
      case "cancelled": stop(); status("This sign-in was cancelled."); offerRenewal(); return true;
      case "locked": stop(); $("pin-form").hidden = true; status("Too many wrong PINs: this sign-in is locked. Start again with a new code."); offerRenewal(); return true;
      case "expired": expired(); return true;
      default: return false;
    }
  }

  function askForPin(attemptsLeft) {
    const form = $("pin-form");
    if (form.hidden) { form.hidden = false; $("pin").value = ""; $("pin").focus(); }
    status("Approved on the phone. Type the 6-digit PIN your phone shows (" + attemptsLeft + " attempts left).");
  }

  $("pin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    const id = current.id;
    try {
      const s = await api("POST", "/api/login-requests/" + id + "/pin", { pin: $("pin").value.trim() });
      if (!s.pin_required) { $("pin-form").hidden = true; redeem(id); }
    } catch (e) {
      $("pin").value = "";
      if (e.status === 423) { onState({ state: "locked" }); return; }
      status(e.message);
    }
  });

  let redeeming = null; // the id being redeemed: the PIN answer and the socket may both ask
  const REDEEM_RETRIES = 5;      // a store that is briefly away answers 503: try again
  async function redeem(id) {
    if (redeeming === id) return;
    redeeming = id;
    status("Approved. Signing in…");
    try {
      for (let attempt = 1; ; attempt++) {
        try { await api("POST", "/api/login-requests/" + id + "/redeem", {}); break; }
        catch (e) {
          if (e.status !== 503 || attempt >= REDEEM_RETRIES) throw e;
          await new Promise((r) => setTimeout(r, 1000 * attempt));
        }
      }
      stop();
      current = null; // redeemed: nothing to abandon
      location.href = "/dashboard";
    } catch (e) {
      stop();
      status("Signing in failed: " + e.message);
      offerRenewal();
    }
  }

  function expired() {
    stop();
    if (renewals < AUTO_RENEWALS) { renewals += 1; start(); return; }
    status("The code expired.");
    $("qr").innerHTML = '<div class="placeholder">Code expired</div>';
    $("countdown").textContent = "";
    offerRenewal();
  }

  function offerRenewal() { $("renew").hidden = false; }

  $("renew").addEventListener("click", () => { renewals = 0; start(); });
  window.addEventListener("pagehide", abandon);
  start();
})();
