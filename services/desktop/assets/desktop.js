"use strict";
// The QR page: create a login request, show its QR and code, follow its state over a
// WebSocket (polling if sockets fail), redeem the approval and go to the dashboard (or, for a
// web app's sign-in, back to that app). A request
// that ends any other way replaces the QR with what happened and one button; an expired code
// is renewed at once while the page is visible, and when it is shown again if it was hidden.
(function () {
  const POLL_INTERVAL_MS = 2000;
  const RETRY_AFTER_FAILURE_MS = 15000; // a screen left alone retries a failed start
  const EXPIRY_GRACE_MS = 5000;          // past its deadline and not told: renew anyway
  const REDEEM_RETRIES = 5;             // a store that is briefly away answers 503: try again
  const $ = (id) => document.getElementById(id);
  const { text, api, problem } = window.qrlogin;
  // Signing in to a web app (OpenID Connect): codes are made for it, and an approval goes
  // back to it with a code instead of to the dashboard.
  const authorization = $("screen").dataset.authorization;
  let current = null;          // { id, deadline, … } of the request on screen
  let timer = null;
  let socket = null;
  let retry = null;
  let pin = { left: null, wrong: false };

  function status(message) { $("status").textContent = message; }

  // Tells the server this page no longer waits for `current` (renewal, leaving the page).
  function abandon() {
    if (!current) return;
    fetch("/api/login-requests/" + current.id, { method: "DELETE", credentials: "same-origin", keepalive: true }).catch(() => {});
    current = null;
  }

  async function start() {
    stop();
    abandon();
    clearTimeout(retry);
    pin = { left: null, wrong: false };
    $("ended").hidden = true;
    $("waiting").hidden = false;
    $("pin-form").hidden = true;
    $("qr").replaceChildren(placeholder(text("screen-preparing")));
    $("user-code").textContent = "…";
    $("countdown").textContent = "";
    status(text("screen-preparing"));
    try {
      const request = await api("POST", "/api/login-requests", authorization ? { qr_svg: true, authorization } : { qr_svg: true });
      current = request;
      current.deadline = Date.now() + request.expires_in * 1000;
      $("qr").innerHTML = request.qr_svg; // our own server's SVG
      $("user-code").textContent = request.user_code;
      $("phone-link").href = request.qr_url;
      status(text("screen-scan-now"));
      tick();
      timer = setInterval(tick, 1000);
      listen(request);
    } catch (e) {
      finish("failed", problem(e));
      // A web app's sign-in page that expired makes no more codes: only the way back is left.
      if (authorization && e.status === 404) { $("renew").hidden = true; return; }
      retry = setTimeout(whenVisible(start), e.retryAfter ? e.retryAfter * 1000 : RETRY_AFTER_FAILURE_MS);
    }
  }

  function placeholder(message) {
    const span = document.createElement("span");
    span.className = "placeholder";
    span.textContent = message;
    return span;
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
    $("countdown").textContent = left > 0 ? text("screen-expires-in", { seconds: left }) : "";
    // The server says when a code expired; a page that was not told (its socket half-open)
    // does not keep a dead code up.
    if (Date.now() > current.deadline + EXPIRY_GRACE_MS) onState({ id: current.id, state: "expired" });
  }

  // `then` now if the page is visible, else as soon as it is shown again.
  function whenVisible(then) {
    return function () {
      if (!document.hidden) { then(); return; }
      const shown = () => { if (document.hidden) return; document.removeEventListener("visibilitychange", shown); then(); };
      document.addEventListener("visibilitychange", shown);
    };
  }

  function listen(request) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    let finished = false;
    socket = new WebSocket(scheme + location.host + request.events_url);
    socket.onmessage = (event) => { finished = onState(JSON.parse(event.data)) || finished; };
    socket.onclose = (event) => {
      if (finished || !current || current.id !== request.id) return;
      // 1012: this instance is restarting; another one will carry on from the current state.
      if (event.code === 1012) { setTimeout(() => { if (current && current.id === request.id) listen(request); }, 250 + Math.random() * 500); return; }
      poll(request.id);
    };
  }

  async function poll(id) {
    while (current && current.id === id) {
      let wait = POLL_INTERVAL_MS;
      try {
        const s = await api("GET", "/api/login-requests/" + id);
        if (onState(s)) return;
      } catch (e) {
        if (e.status === 410 || e.status === 404) { onState({ id, state: "expired" }); return; }
        if (e.status === 429 || e.status === 503) wait = (e.retryAfter || 5) * 1000;
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  // Returns true when the request has reached a final state on this page. A message about
  // a request this page no longer shows (a late answer) changes nothing.
  function onState(message) {
    if (!current || message.id !== current.id) return true;
    if (typeof message.expires_in === "number") current.deadline = Date.now() + message.expires_in * 1000;
    switch (message.state) {
      case "pending": status(text("screen-scan-now")); return false;
      case "claimed": status(text("screen-claimed", { code: $("user-code").textContent })); return false;
      case "approved":
        if (message.pin_required) { askForPin(message.pin_attempts_left); return false; }
        redeem(current.id);
        return true;
      case "redeemed": return true;
      case "denied": finish("denied"); return true;
      case "cancelled": finish("cancelled"); return true;
      case "locked": finish("locked"); return true;
      case "expired": stop(); current = null; whenVisible(start)(); return true;
      default: return false;
    }
  }

  // The request is over without a sign-in: the QR, code, countdown and PIN form give way to
  // what happened and the one thing to do next.
  function finish(how, detail) {
    stop();
    current = null;
    $("waiting").hidden = true;
    $("ended").hidden = false;
    $("ended-title").textContent = text("screen-" + how + "-title");
    $("ended-detail").textContent = detail || text("screen-" + how + "-detail");
    status("");
    $("ended-title").focus();
  }

  function askForPin(attemptsLeft) {
    const form = $("pin-form");
    pin.left = attemptsLeft;
    if (form.hidden) { form.hidden = false; $("pin").value = ""; $("pin").focus(); }
    status(text(pin.wrong ? "screen-pin-wrong" : "screen-pin-ask", { left: pin.left }));
  }

  $("pin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    const id = current.id;
    try {
      const s = await api("POST", "/api/login-requests/" + id + "/pin", { pin: $("pin").value.trim() });
      if (!s.pin_required) redeem(id);
    } catch (e) {
      if (!current || current.id !== id) return; // a late answer about a code no longer shown
      $("pin").value = "";
      $("pin").focus();
      if (e.status === 423) { onState({ id, state: "locked" }); return; }
      if (e.code === "wrong_pin") { pin.wrong = true; askForPin(e.left); return; }
      status(problem(e));
    }
  });

  let redeeming = null; // the id being redeemed: the PIN answer and the socket may both ask
  async function redeem(id) {
    if (redeeming === id) return;
    redeeming = id;
    $("pin-form").hidden = true;
    status(text("screen-signing-in"));
    if (authorization) {
      stop();
      current = null; // handed to the server, which sends this browser back to the app
      $("finish-request").value = id;
      $("finish").submit();
      return;
    }
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
      finish("failed", problem(e));
    }
  }

  $("renew").addEventListener("click", start);
  window.addEventListener("pagehide", abandon);
  start();
})();
