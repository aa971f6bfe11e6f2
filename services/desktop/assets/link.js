"use strict";
// The device that opened a sign-in link. Nothing happens until the person clicks "Sign in
// as …": then it asks once, shows the code its signed-in screen must type (when the server
// wants that), waits to be allowed (told over a socket), collects its own session, and goes
// to the dashboard.
// A browser that clicked already (a reload) shows its code again and goes on waiting.
(function () {
  const $ = (name) => document.getElementById(name);
  const { text, problem: inWords } = window.qrlogin;
  const problem = (data) => (data.error ? inWords({ code: data.error }) : text("link-unusable"));

  // Followed from another site, this page was rendered without this browser's cookies (they
  // are SameSite=Strict), so it could not tell who this browser is signed in as. Asked again
  // from here, the cookies go along: a browser signed in as someone else is told so before
  // anything is offered, and one that clicked already goes on waiting.
  async function settle() {
    const main = $("link");
    try {
      const res = await fetch(location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } });
      const fresh = new DOMParser().parseFromString(await res.text(), "text/html").getElementById("link");
      if (fresh && fresh.dataset.step !== main.dataset.step) {
        main.replaceWith(document.importNode(fresh, true));
      }
    } catch (e) { /* the first rendering stands; the server refuses a switch anyway */ }
  }

  function start() {
    const main = $("link");
    const id = main.dataset.id;
    const step = main.dataset.step;
    if (step !== "ask" && step !== "claimed") return; // nothing to do: the page says why
    const status = (text) => { $("status").textContent = text; };
    const base = "/api/device-links/" + encodeURIComponent(id);
    async function call(method, path) {
      const res = await fetch(path, {
        method, credentials: "same-origin",
        headers: method === "POST" ? { "Content-Type": "application/json" } : {},
        body: method === "POST" ? "{}" : undefined,
      });
      const data = await res.json().catch(() => ({}));
      return { status: res.status, data };
    }
    function showCode(code) {
      $("ask").hidden = true;
      $("wait").hidden = false;
      // "123 456": easier to read out and to type.
      $("code").textContent = code ? code.slice(0, 3) + " " + code.slice(3) : "";
      status(text("link-waiting"));
    }
    // The wait is over without a sign-in: what happened takes the place (and the focus) of
    // the code.
    function stop(message) {
      $("wait").hidden = true;
      status(message);
      $("status").focus();
    }
    // The link as it is now; true once nothing more will happen to it.
    function answered(data) {
      if (data.state === "allowed") { collect(); return true; }
      if (data.state === "denied") { stop(text("link-denied")); return true; }
      if (data.state === "spent") { stop(text("link-spent")); return true; }
      if (data.code && $("code").textContent === "") showCode(data.code);
      return false;
    }
    // The server tells this device of every change of its link the moment it happens (the
    // signed-in screen allowing it, above all): nothing is polled.
    let retryMs = 1000;
    function follow() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      const socket = new WebSocket(scheme + location.host + base + "/events");
      let over = false;
      socket.onmessage = (event) => {
        retryMs = 1000;
        const data = JSON.parse(event.data);
        if (data.type === "gone") { over = true; stop(problem(data)); return; }
        over = answered(data);
      };
      socket.onclose = () => {
        if (over) return;
        // Dropped before an answer (a restart, a network change): read it once, then listen
        // again, waiting longer each time it fails at once.
        setTimeout(check, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      };
    }
    async function check() {
      let res;
      try { res = await call("GET", base); }
      catch (e) { setTimeout(check, 5000); return; } // the network failed: try again
      if (res.status !== 200) { stop(problem(res.data)); return; }
      if (!answered(res.data)) follow();
    }
    async function collect() {
      status(text("link-allowed"));
      const { status: code, data } = await call("POST", base + "/redeem");
      if (code === 200) { location.href = "/dashboard"; return; }
      stop(problem(data));
    }
    async function claim() {
      const button = $("claim");
      button.disabled = true;
      status(text("link-asking"));
      let res;
      try { res = await call("POST", base + "/claim"); }
      catch (e) { button.disabled = false; status(text("network-failed")); return; }
      const { status: code, data } = res;
      if (code === 200) { location.href = "/dashboard"; return; } // no confirmation needed
      if (code !== 202) {
        $("ask").hidden = true;
        stop(problem(data));
        return;
      }
      showCode(data.code);
      $("code").setAttribute("tabindex", "-1");
      $("code").focus();
      follow();
    }
    if (step === "claimed") { $("ask").hidden = true; check(); return; }
    $("claim").addEventListener("click", claim);
  }

  settle().then(start);
})();
