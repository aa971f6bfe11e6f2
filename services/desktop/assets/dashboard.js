"use strict";
// The dashboard: the sign-in time in local time, the user's sessions with revoke buttons,
// their recent activity, a notice at once when the account signs in elsewhere, and sign out
// here or everywhere. Server data is written with textContent, never as HTML.
(function () {
  const $ = (id) => document.getElementById(id);
  const status = (text) => { $("status").textContent = text; };
  const since = $("since");
  const ms = Number(since.dataset.ms);
  if (ms) since.textContent = new Date(ms).toLocaleString();

  async function call(method, path, body) {
    const res = await fetch(path, {
      method, credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401) { location.href = "/"; throw new Error("signed out"); }
    const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.message || ("HTTP " + res.status));
    return data;
  }

  async function showSessions() {
    const { sessions } = await call("GET", "/api/sessions");
    const list = $("sessions");
    list.replaceChildren();
    for (const s of sessions) {
      const item = document.createElement("li");
      const what = document.createElement("span");
      what.textContent = s.device + " · " + s.ip + " · since " + new Date(s.created_at).toLocaleString() + " · last seen " + ago(s.last_seen_at) + (s.current ? " (this screen)" : "");
      item.append(what);
      if (!s.current) {
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.className = "button secondary small";
        revoke.textContent = "Revoke";
        revoke.addEventListener("click", async () => {
          try { await revoke(s.id); }
          catch (e) { status(e.message); }
        });
        item.append(" ", revoke);
      }
      list.append(item);
    }
  }

  function ago(ms) {
    const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (seconds < 60) return "just now";
    if (seconds < 3600) return Math.round(seconds / 60) + " minutes ago";
    return new Date(ms).toLocaleString();
  }

  async function revoke(id) {
    await call("DELETE", "/api/sessions/" + encodeURIComponent(id));
    await refresh();
  }

  const EVENT_NAMES = {
    redeem: "Screen signed in", phone_sign_in: "Phone signed in", claim: "Code scanned",
    approve: "Sign-in approved", deny: "Sign-in denied", pin: "PIN typed", lock: "Sign-in locked",
    logout: "Signed out", logout_everywhere: "Signed out everywhere", revoke: "Session revoked",
  };

  async function showActivity() {
    const { activity } = await call("GET", "/api/me/activity");
    const list = $("activity");
    list.replaceChildren();
    for (const a of activity) {
      const item = document.createElement("li");
      const outcome = a.outcome === "ok" ? "" : " (refused: " + a.outcome + ")";
      item.textContent = (EVENT_NAMES[a.event] || a.event) + outcome + " · " + a.device + " · " + (a.ip || "") + " · " + ago(a.at);
      list.append(item);
    }
  }

  async function refresh() {
    await Promise.all([showSessions(), showActivity()]);
  }

  // Another sign-in of this account, told at once, with a button to end it.
  function noticeSignIn(n) {
    const box = document.createElement("div");
    box.className = "notice";
    box.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.textContent = "New sign-in to your account: " + n.device + ", " + n.ip + ", " + ago(n.at) + ". Not you? ";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button deny small";
    button.textContent = "Revoke that session";
    button.addEventListener("click", async () => {
      try { await revoke(n.session_id); box.remove(); status("That session is ended."); }
      catch (e) { status(e.message); }
    });
    box.append(text, button);
    $("notices").prepend(box);
    refresh().catch((e) => status(e.message));
  }

  function listen() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/api/me/events");
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "signed_in") noticeSignIn(message);
    };
    socket.onclose = (event) => {
      if (event.code === 1008) { location.href = "/"; return; } // this session has ended
      setTimeout(listen, event.code === 1012 ? 250 + Math.random() * 500 : 5000); // 1012: restarting
    };
  }

  async function signOut(everywhere) {
    status("Signing out…");
    try { await call("POST", "/api/logout", { everywhere }); location.href = "/"; }
    catch (e) { status(e.message); }
  }

  // Sign in on another device: a single-use link; when a device opens it, this screen is
  // asked (unless the server needs no confirmation) and allows or refuses it.
  let linkTimer = null;
  async function followLink(id) {
    try {
      const link = await call("GET", "/api/device-links/" + id);
      if (link.state === "claimed") {
        $("link-question").textContent = "Allow " + link.device + " (" + link.device_ip + ") to sign in as you?";
        $("link-ask").hidden = false;
        $("link-allow").onclick = () => answerLink(id, true);
        $("link-deny").onclick = () => answerLink(id, false);
        return;
      }
      linkTimer = setTimeout(() => followLink(id), 2000);
    } catch (e) {
      // Used (the device signed in) or expired: the session list tells which.
      $("link").hidden = true;
      refresh().catch((err) => status(err.message));
    }
  }
  async function answerLink(id, allow) {
    $("link-ask").hidden = true;
    try { await call("POST", "/api/device-links/" + id + "/confirm", { allow }); status(allow ? "Allowed: the other device is signing in." : "Refused."); }
    catch (e) { status(e.message); }
    $("link").hidden = true;
    setTimeout(() => refresh().catch((err) => status(err.message)), 1500);
  }
  $("link-make").addEventListener("click", async () => {
    clearTimeout(linkTimer);
    try {
      const link = await call("POST", "/api/device-links", {});
      $("link-qr").innerHTML = link.qr_svg; // our own server's SVG
      $("link-url").textContent = link.url;
      $("link-url").href = link.url;
      $("link-ask").hidden = true;
      $("link").hidden = false;
      if (link.confirmation) followLink(link.id);
    } catch (e) { status(e.message); }
  });

  // Kiosks: without input for KIOSK_IDLE_TIMEOUT, sign out and go back to a fresh QR, with
  // the time left always on show.
  const idleMs = Number($("dashboard").dataset.idleMs);
  if (idleMs > 0) {
    let lastInput = Date.now();
    for (const kind of ["pointerdown", "pointermove", "keydown", "touchstart", "wheel"]) {
      addEventListener(kind, () => { lastInput = Date.now(); }, { passive: true });
    }
    const idle = $("idle");
    idle.hidden = false;
    const tick = async () => {
      const left = Math.ceil((idleMs - (Date.now() - lastInput)) / 1000);
      if (left > 0) {
        idle.textContent = "This shared screen signs out after " + Math.round(idleMs / 1000) + " s without use: " + left + " s left.";
        setTimeout(tick, 1000);
        return;
      }
      idle.textContent = "Signing out: nobody used this screen.";
      try { await call("POST", "/api/logout", { everywhere: false }); location.href = "/"; }
      catch (e) { setTimeout(tick, 5000); } // the network or the server failed: try again
    };
    tick();
  }

  $("sign-out").addEventListener("click", () => signOut(false));
  $("sign-out-everywhere").addEventListener("click", () => signOut(true));
  refresh().catch((e) => status(e.message));
  listen();
})();
