"use strict";
// The dashboard: the sign-in time in local time, the user's sessions with revoke buttons,
// their recent activity, a notice at once when the account signs in elsewhere, and sign out
// here or (after a confirmation) everywhere. When this session ends anywhere, the server
// closes the events socket with 1008 and the page leaves at once. Server data is written
// with textContent, never as HTML.
(function () {
  const $ = (id) => document.getElementById(id);
  const { text, api, problem, device, passkey } = window.qrlogin;
  const status = (message) => { $("status").textContent = message; };
  const since = $("since");
  const ms = Number(since.dataset.ms);
  if (ms) since.textContent = new Date(ms).toLocaleString();

  // An API call; signed out (401), the page leaves for the QR.
  async function call(method, path, body) {
    try { return await api(method, path, body); }
    catch (e) { if (e.status === 401) leave(); throw e; }
  }

  function leave() { location.replace("/"); }

  function ago(at) {
    const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
    if (seconds < 60) return text("time-just-now");
    if (seconds < 3600) return text("time-minutes-ago", { minutes: Math.round(seconds / 60) });
    return new Date(at).toLocaleString();
  }

  async function showSessions() {
    const { sessions } = await call("GET", "/api/sessions");
    const list = $("sessions");
    list.replaceChildren();
    for (const s of sessions) {
      const item = document.createElement("li");
      const what = document.createElement("span");
      what.textContent = text("dashboard-session-row", {
        kind: s.app ? text("session-kind-app", { app: s.app }) : text("session-kind-" + s.kind), device: device(s.device_name), ip: s.ip,
        since: new Date(s.created_at).toLocaleString(), seen: ago(s.last_seen_at),
      }) + (s.current ? " " + text("dashboard-session-current") : "");
      item.append(what);
      if (!s.current) {
        // Not named `revoke`: that would hide the function it calls.
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button secondary small";
        button.textContent = text("dashboard-revoke");
        button.setAttribute("aria-label", text("dashboard-revoke-label", { device: device(s.device_name), ip: s.ip }));
        button.addEventListener("click", async () => {
          try { await revoke(s.id); status(text("dashboard-revoked")); }
          catch (e) { status(problem(e)); }
        });
        item.append(" ", button);
      }
      list.append(item);
    }
  }

  async function revoke(id) {
    await call("DELETE", "/api/sessions/" + encodeURIComponent(id));
    await refresh();
  }

  async function showActivity() {
    const { activity } = await call("GET", "/api/me/activity");
    const list = $("activity");
    list.replaceChildren();
    for (const a of activity) {
      const item = document.createElement("li");
      const key = "event-" + a.event.replace(/_/g, "-");
      const name = text(key) === key ? a.event : text(key);
      const outcome = a.outcome === "ok" ? "" : " " + text("activity-refused");
      item.textContent = name + outcome + " · " + device(a.device_name) + " · " + (a.ip || "") + " · " + ago(a.at);
      list.append(item);
    }
  }

  async function refresh() {
    await Promise.all([showSessions(), showActivity()]);
  }

  // A device signed in through this screen's own link is expected (the server says so), not a
  // warning. Anything else is told at once, with a button to end it.
  function noticeSignIn(n) {
    const box = document.createElement("div");
    box.className = "notice";
    if (n.expected) {
      box.setAttribute("role", "status");
      box.textContent = text("dashboard-linked-device-in", { device: device(n.device_name) });
    } else {
      box.setAttribute("role", "alert");
      const message = document.createElement("span");
      message.textContent = text("dashboard-new-sign-in", { device: device(n.device_name), ip: n.ip, when: ago(n.at) }) + " ";
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button deny small";
      button.textContent = text("dashboard-revoke-that");
      button.addEventListener("click", async () => {
        try { await revoke(n.session_id); box.remove(); status(text("dashboard-revoked")); }
        catch (e) { status(problem(e)); }
      });
      box.append(message, button);
    }
    $("notices").prepend(box);
    refresh().catch((e) => status(problem(e)));
  }

  function listen() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/api/me/events");
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "signed_in") noticeSignIn(message);
      if (message.type === "session_ended") refresh().catch((e) => status(problem(e)));
      if (message.type === "link_changed" && message.link_id === linkId) followLink(linkId);
    };
    socket.onopen = () => { if (linkId) followLink(linkId); }; // a change missed while away
    socket.onclose = (event) => {
      if (event.code === 1008) { leave(); return; } // this session has ended
      // Whatever happened while the socket was down: still signed in? (A 401 leaves.)
      const again = () => call("GET", "/api/me").then(listen, (e) => { if (e.status !== 401) setTimeout(again, 5000); });
      setTimeout(again, event.code === 1012 ? 250 + Math.random() * 500 : 2000); // 1012: restarting
    };
  }

  async function signOut(everywhere) {
    status(text("dashboard-signing-out"));
    try { await call("POST", "/api/logout", { everywhere }); leave(); }
    catch (e) { status(problem(e)); }
  }

  function askEverywhere(open) {
    $("everywhere-confirm").hidden = !open;
    $("sign-out-choices").hidden = open;
    if (open) $("everywhere-question").focus(); else $("sign-out-everywhere").focus();
  }

  // Sign in on another device: a single-use link. When a device opens it, this screen is
  // asked (unless the server needs no confirmation) and allows it only with the code that
  // device shows, so an onlooker who opened the link first cannot be allowed by mistake.
  let linkTimer = null;
  let linkId = null;
  function askAboutLink(link) {
    const form = $("link-ask");
    $("link-question").textContent = text("dashboard-link-question", { device: device(link.device_name), ip: link.device_ip });
    if (form.hidden) {
      form.hidden = false;
      $("link-code").value = "";
      $("link-error").textContent = "";
      form.scrollIntoView({ block: "center" });
      $("link-code").focus({ preventScroll: true });
    }
  }
  function endLink(message) {
    clearTimeout(linkTimer);
    linkId = null;
    $("link-ask").hidden = true;
    $("link").hidden = true;
    if (message) status(message);
    $("link-make").focus();
    refresh().catch((err) => status(problem(err)));
  }
  // Read again when the server says the link changed (a device opened it, it was used), when
  // the events socket (re)connects, and when it expires: nothing is polled.
  async function followLink(id) {
    if (id !== linkId) return; // a newer link replaced this one
    try {
      const link = await call("GET", "/api/device-links/" + encodeURIComponent(id));
      if (id === linkId && link.state === "claimed") askAboutLink(link);
    } catch (e) {
      // Used (the device signed in) or expired: the session list tells which.
      if (id === linkId) endLink("");
    }
  }
  // Allowing with the account's passkey, where the server asks for it: a challenge named
  // after this link, answered on this screen.
  async function confirmWithPasskey(id, body) {
    $("link-error").textContent = text("passkey-asking");
    const options = await call("POST", "/api/device-links/" + encodeURIComponent(id) + "/passkey-check", {});
    const proof = await passkey.check(options);
    $("link-error").textContent = "";
    return call("POST", "/api/device-links/" + encodeURIComponent(id) + "/confirm", Object.assign({ passkey: proof }, body));
  }

  async function answerLink(allow) {
    const id = linkId;
    if (!id) return;
    const body = allow ? { allow: true, code: $("link-code").value.trim() } : { allow: false };
    const buttons = [$("link-allow"), $("link-deny")];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      try {
        await call("POST", "/api/device-links/" + encodeURIComponent(id) + "/confirm", body);
      } catch (e) {
        if (e.code !== "passkey_required") throw e;
        if (!passkey.supported()) { $("link-error").textContent = text("passkey-unsupported"); return; }
        await confirmWithPasskey(id, body);
      }
      endLink(text(allow ? "dashboard-link-allowed" : "dashboard-link-refused"));
    } catch (e) {
      if (e.name === "NotAllowedError" || e.name === "AbortError" || e.name === "SecurityError") {
        $("link-error").textContent = passkey.problem(e);
      } else if (e.code === "wrong_pin" || e.code === "pin_required" || e.code === "invalid_request") {
        // A wrong or missing code: say so and ask again.
        $("link-error").textContent = e.code === "wrong_pin" ? text("dashboard-link-wrong-code", { left: e.left }) : text("dashboard-link-type-code");
        $("link-code").value = "";
        $("link-code").focus();
      } else if (e.status === 0) {
        $("link-error").textContent = text("network-failed");
      } else {
        endLink(problem(e)); // spent, expired or answered elsewhere
      }
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
      linkTimer = setTimeout(() => followLink(link.id), (link.expires_in + 1) * 1000);
    } catch (e) { status(problem(e)); }
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
        idle.textContent = text("dashboard-kiosk-idle", { total: Math.round(idleMs / 1000), left });
        setTimeout(tick, 1000);
        return;
      }
      idle.textContent = text("dashboard-kiosk-signing-out");
      try { await call("POST", "/api/logout", { everywhere: false }); leave(); }
      catch (e) { setTimeout(tick, 5000); } // the network or the server failed: try again
    };
    tick();
  }

  $("sign-out").addEventListener("click", () => signOut(false));
  $("sign-out-everywhere").addEventListener("click", () => askEverywhere(true));
  $("everywhere-no").addEventListener("click", () => askEverywhere(false));
  $("everywhere-yes").addEventListener("click", () => signOut(true));
  refresh().catch((e) => status(problem(e)));
  listen();
})();
