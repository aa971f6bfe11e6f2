"use strict";
// The dashboard: show the sign-in time in local time, and sign out.
(function () {
  const since = document.getElementById("since");
  const ms = Number(since.dataset.ms);
  if (ms) since.textContent = new Date(ms).toLocaleString();

  document.getElementById("sign-out").addEventListener("click", async () => {
    const status = document.getElementById("status");
    status.textContent = "Signing out…";
    try {
      const res = await fetch("/api/logout", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json" }, body: "{}",
      });
      if (res.ok || res.status === 401) { location.href = "/"; return; }
      const err = await res.json().catch(() => ({}));
      status.textContent = err.message || "Signing out failed; try again.";
    } catch (e) {
      status.textContent = "The server cannot be reached; try again.";
    }
  });
})();
