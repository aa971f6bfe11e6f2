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

  // Passkeys (WebAuthn): the server's options (JSON, binary fields in base64url) go to the
  // browser, and its credential comes back as JSON. Browsers with the JSON helpers
  // (parse…OptionsFromJSON, toJSON) use them; older ones get the same conversion by hand.
  const base64url = {
    bytes: (text) => {
      const plain = text.replace(/-/g, "+").replace(/_/g, "/");
      const binary = atob(plain + "=".repeat((4 - plain.length % 4) % 4));
      return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
    },
    text: (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
  };
  const withBytes = (list) => (list || []).map((c) => Object.assign({}, c, { id: base64url.bytes(c.id) }));
  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const r = credential.response;
    const response = { clientDataJSON: base64url.text(r.clientDataJSON) };
    if (r.attestationObject) response.attestationObject = base64url.text(r.attestationObject);
    if (r.authenticatorData) response.authenticatorData = base64url.text(r.authenticatorData);
    if (r.signature) response.signature = base64url.text(r.signature);
    if (r.userHandle) response.userHandle = base64url.text(r.userHandle);
    return { id: credential.id, rawId: base64url.text(credential.rawId), type: credential.type, response, clientExtensionResults: credential.getClientExtensionResults() };
  }
  const passkey = {
    // Whether this browser (or webview) offers WebAuthn at all.
    supported: () => typeof window.PublicKeyCredential === "function" && !!(navigator.credentials && navigator.credentials.get),
    // An assertion answering `options` ({publicKey}), as JSON for the API.
    async check(options) {
      const o = options.publicKey;
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON
        ? PublicKeyCredential.parseRequestOptionsFromJSON(o)
        : Object.assign({}, o, { challenge: base64url.bytes(o.challenge), allowCredentials: withBytes(o.allowCredentials) });
      return credentialJSON(await navigator.credentials.get({ publicKey }));
    },
    // A new credential answering `options` ({publicKey}), as JSON for the API.
    async create(options) {
      const o = options.publicKey;
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON
        ? PublicKeyCredential.parseCreationOptionsFromJSON(o)
        : Object.assign({}, o, {
          challenge: base64url.bytes(o.challenge),
          user: Object.assign({}, o.user, { id: base64url.bytes(o.user.id) }),
          excludeCredentials: withBytes(o.excludeCredentials),
        });
      return credentialJSON(await navigator.credentials.create({ publicKey }));
    },
    // Why a passkey prompt came to nothing, in words.
    problem(e) {
      if (e && (e.name === "NotAllowedError" || e.name === "AbortError")) return text("passkey-cancelled");
      if (e && e.name === "NotSupportedError") return text("passkey-unsupported");
      return e && e.status !== undefined ? problem(e) : text("passkey-cancelled");
    },
  };

  return { text, api, problem, device, passkey };
})();
