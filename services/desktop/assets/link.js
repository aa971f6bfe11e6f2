"use strict";
// The device that opened a sign-in link. Nothing happens until the person clicks "Sign in
// as …": then it asks once, shows the code its signed-in screen must type (when the server
// wants that), waits to be allowed, collects its own session, and goes to the dashboard.
// A browser that clicked already (a reload) shows its code again and goes on waiting.
(function () {
  const $ = (name) => document.getElementById(name);
  const { text, problem: inWords } = window.qrlogin;
  const problem = (data) => (data.error ? inWords({ code: data.error }) : text("link-unusable"));
  const LINK_POLL_MS = 1000;

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
    async function wait() {
      let res;
      try { res = await call("GET", base); }
      catch (e) { setTimeout(wait, 5000); return; } // the network failed: try again
      const { status: code, data } = res;
      if (code !== 200) { stop(problem(data)); return; }
      if (data.state === "allowed") return collect();
      if (data.state === "denied") { stop(text("link-denied")); return; }
      if (data.state === "spent") { stop(text("link-spent")); return; }
      if (data.code && $("code").textContent === "") showCode(data.code);
      setTimeout(wait, LINK_POLL_MS);
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
      wait();
    }
    if (step === "claimed") { $("ask").hidden = true; wait(); return; }
    $("claim").addEventListener("click", claim);
  }

  settle().then(start);
})();
