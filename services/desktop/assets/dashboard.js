"use strict";
// The dashboard: the sign-in time in local time, the user's sessions with revoke buttons,
// sign out here or everywhere. Server data is written with textContent, never as HTML.
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
      what.textContent = s.device + " · " + s.ip + " · since " + new Date(s.created_at).toLocaleString() + (s.current ? " (this screen)" : "");
      item.append(what);
      if (!s.current) {
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.className = "button secondary small";
        revoke.textContent = "Revoke";
        revoke.addEventListener("click", async () => {
          try { await call("DELETE", "/api/sessions/" + encodeURIComponent(s.id)); await showSessions(); }
          catch (e) { status(e.message); }
        });
        item.append(" ", revoke);
      }
      list.append(item);
    }
  }

  async function signOut(everywhere) {
    status("Signing out…");
    try { await call("POST", "/api/logout", { everywhere }); location.href = "/"; }
    catch (e) { status(e.message); }
  }

  $("sign-out").addEventListener("click", () => signOut(false));
  $("sign-out-everywhere").addEventListener("click", () => signOut(true));
  showSessions().catch((e) => status(e.message));
})();
