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

  $("code-form").addEventListener("submit", (event) => {
    event.preventDefault();
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
