"use strict";
// What every page script shares: its messages in the reader's language, and calling our API.
//
// The server renders a page's messages into its `data-text` (JSON, key → text) with each
// variable left as `{name}`; `text(key, values)` fills them in. A key the page was not given
// comes back as itself, which a test would see.
window.qrlogin = (function () {
  const holder = document.querySelector("[data-text]");
  let texts = {};
  try { texts = holder ? JSON.parse(holder.dataset.text) : {}; } catch (e) { texts = {}; }

  function text(key, values) {
    let message = Object.prototype.hasOwnProperty.call(texts, key) ? texts[key] : key;
    for (const [name, value] of Object.entries(values || {})) message = message.split("{" + name + "}").join(String(value));
    return message;
  }

  // A call to our API: its JSON answer, or an Error carrying the answer's `status`, error
  // `code`, `left` (attempts left) and `retryAfter` (seconds, from a 429 or 503); status 0
  // when the server could not be reached.
  async function api(method, path, body) {
    let res;
    try {
      res = await fetch(path, {
        method, credentials: "same-origin",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) { throw Object.assign(new Error("network"), { status: 0 }); }
    const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) {
      const retryAfter = Number(res.headers.get("Retry-After")) || undefined;
      throw Object.assign(new Error(data.message || ("HTTP " + res.status)), { status: res.status, code: data.error, left: data.attempts_left, retryAfter });
    }
    return data;
  }

  // A failed call in words, for the person in front of the page (the API's own message is
  // for developers).
  function problem(e) {
    return e.code ? text("error-" + e.code.replace(/_/g, "-")) : text("network-failed");
  }

  // A browser and its system, as the API's `device_name` gives them, in the reader's words.
  function device(name) {
    if (!name || !name.browser) return text("device-unknown");
    return name.system ? text("device-on", { browser: name.browser, system: name.system }) : name.browser;
  }

  return { text, api, problem, device };
})();
