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
        // Not named `revoke`: that would hide the function it calls.
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button secondary small";
        button.textContent = "Revoke";
        button.addEventListener("click", async () => {
          try { await revoke(s.id); }
          catch (e) { status(e.message); }
        });
        item.append(" ", button);
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

  // Sign in on another device: a single-use link. When a device opens it, this screen is
  // asked (unless the server needs no confirmation) and allows it only with the code that
  // device shows, so an onlooker who opened the link first cannot be allowed by mistake.
  let linkTimer = null;
  let linkId = null;
  function askAboutLink(link) {
    const form = $("link-ask");
    $("link-question").textContent = "A device opened your link: " + link.device + " (" + link.device_ip + "). Allow it to sign in as you?";
    if (form.hidden) {
      form.hidden = false;
      $("link-code").value = "";
      $("link-error").textContent = "";
      $("link-code").focus();
    }
  }
  function endLink(message) {
    clearTimeout(linkTimer);
    linkId = null;
    $("link-ask").hidden = true;
    $("link").hidden = true;
    if (message) status(message);
    setTimeout(() => refresh().catch((err) => status(err.message)), 1500);
  }
  async function followLink(id) {
    if (id !== linkId) return; // a newer link replaced this one
    try {
      const link = await call("GET", "/api/device-links/" + encodeURIComponent(id));
      if (id !== linkId) return;
      if (link.state === "claimed") { askAboutLink(link); return; }
      linkTimer = setTimeout(() => followLink(id), 2000);
    } catch (e) {
      // Used (the device signed in) or expired: the session list tells which.
      if (id === linkId) endLink("");
    }
  }
  async function answerLink(allow) {
    const id = linkId;
    if (!id) return;
    const body = allow ? { allow: true, code: $("link-code").value.trim() } : { allow: false };
    const buttons = [$("link-allow"), $("link-deny")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const res = await fetch("/api/device-links/" + encodeURIComponent(id) + "/confirm", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (res.status === 401) { location.href = "/"; return; }
      const data = await res.json().catch(() => ({}));
      if (res.ok) {
        endLink(allow ? "Allowed: the other device is signing in." : "Refused: that device gets nothing.");
      } else if (data.error === "wrong_pin" || data.error === "pin_required" || data.error === "invalid_request") {
        // A wrong or missing code: say so and ask again.
        $("link-error").textContent = data.message || "That is not the code the new device shows.";
        $("link-code").value = "";
        $("link-code").focus();
      } else {
        endLink(data.message || ("HTTP " + res.status)); // spent, expired or answered elsewhere
      }
    } catch (e) {
      $("link-error").textContent = "The server could not be reached; try again.";
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }
  $("link-ask").addEventListener("submit", (event) => { event.preventDefault(); answerLink(true); });
  $("link-deny").addEventListener("click", () => answerLink(false));
  $("link-make").addEventListener("click", async () => {
    clearTimeout(linkTimer);
    try {
      const link = await call("POST", "/api/device-links", {});
      linkId = link.id;
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
