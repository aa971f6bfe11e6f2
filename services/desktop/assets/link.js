"use strict";
// The device that opened a sign-in link: it asks once, waits for the signed-in screen to allow
// it (when the server wants that), collects its own session, and goes to the dashboard.
(function () {
  const id = document.getElementById("link").dataset.id;
  const status = (text) => { document.getElementById("status").textContent = text; };
  async function call(method, path) {
    const res = await fetch(path, {
      method, credentials: "same-origin",
      headers: method === "POST" ? { "Content-Type": "application/json" } : {},
      body: method === "POST" ? "{}" : undefined,
    });
    const data = await res.json().catch(() => ({}));
    return { status: res.status, data };
  }
  async function wait() {
    const { status: code, data } = await call("GET", "/api/device-links/" + id);
    if (code !== 200) { status(data.message || "This link can no longer be used."); return; }
    if (data.state === "allowed") return collect();
    if (data.state === "denied") { status("Your other screen refused this device."); return; }
    setTimeout(wait, 2000);
  }
  async function collect() {
    const { status: code, data } = await call("POST", "/api/device-links/" + id + "/redeem");
    if (code === 200) { location.href = "/dashboard"; return; }
    status(data.message || "This device could not be signed in.");
  }
  (async () => {
    const { status: code, data } = await call("POST", "/api/device-links/" + id + "/claim");
    if (code === 200) { location.href = "/dashboard"; return; }
    if (code !== 202) { status(data.message || "This link can no longer be used."); return; }
    status("Allow this device on your signed-in screen (" + (data.device || "this browser") + ").");
    wait();
  })();
})();
