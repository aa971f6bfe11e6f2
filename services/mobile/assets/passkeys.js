"use strict";
// The phone's passkeys page: lists the account's passkeys, adds one (after a check by an
// existing one, when there is any), renames and removes them (a removal is checked too).
// Everything shown comes from the server as data and is written with textContent.
(function () {
  const $ = (id) => document.getElementById(id);
  const { text, api, passkey } = window.qrlogin;
  const list = $("passkey-list");
  if (!list) return;
  const status = (message) => { $("status").textContent = message; };
  let count = 0;

  const date = (seconds) => new Date(seconds * 1000).toLocaleDateString();

  function button(label, aria, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "button small secondary";
    b.textContent = label;
    b.setAttribute("aria-label", aria);
    b.addEventListener("click", onClick);
    return b;
  }

  function row(p) {
    const li = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = p.name;
    const when = document.createElement("span");
    when.className = "muted small";
    const used = p.last_used_at ? text("passkeys-last-used", { date: date(p.last_used_at) }) : text("passkeys-never-used");
    when.textContent = " " + text("passkeys-added-on", { date: date(p.created_at) }) + ", " + used + " ";
    li.append(name, when,
      button(text("passkeys-rename"), text("passkeys-rename-button-label", { name: p.name }), () => rename(li, p)),
      document.createTextNode(" "),
      button(text("passkeys-remove"), text("passkeys-remove-label", { name: p.name }), () => remove(p)));
    return li;
  }

  async function load() {
    const { passkeys } = await api("GET", "/api/passkeys");
    count = passkeys.length;
    list.replaceChildren(...passkeys.map(row));
    if (!count) {
      const li = document.createElement("li");
      li.textContent = text("passkeys-none");
      list.append(li);
    }
  }

  // A check by one of the account's passkeys, which adding (when there is one) and
  // removing need.
  async function check() {
    status(text("passkey-asking"));
    return passkey.check(await api("POST", "/api/passkeys/check", {}));
  }

  async function add(event) {
    event.preventDefault();
    const name = $("passkey-name").value.trim();
    try {
      const proof = count ? await check() : undefined;
      status(text("passkey-asking"));
      const options = await api("POST", "/api/passkeys/registration", proof ? { proof } : {});
      const credential = await passkey.create(options);
      await api("POST", "/api/passkeys", { name, credential });
      $("passkey-name").value = "";
      await load();
      status(text("passkeys-added"));
    } catch (e) { status(passkey.problem(e)); }
  }

  function rename(li, p) {
    const form = document.createElement("form");
    form.className = "pin-form";
    const input = document.createElement("input");
    input.type = "text"; input.value = p.name; input.maxLength = 64; input.required = true;
    input.setAttribute("aria-label", text("passkeys-rename-label", { name: p.name }));
    const save = document.createElement("button");
    save.className = "button small"; save.type = "submit"; save.textContent = text("passkeys-save");
    form.append(input, save);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await api("PATCH", "/api/passkeys/" + encodeURIComponent(p.id), { name: input.value });
        await load();
        status(text("passkeys-renamed"));
      } catch (e) { status(passkey.problem(e)); }
    });
    li.replaceChildren(form);
    input.focus();
  }

  async function remove(p) {
    try {
      const proof = await check();
      await api("POST", "/api/passkeys/" + encodeURIComponent(p.id) + "/remove", { proof });
      await load();
      status(text("passkeys-removed"));
    } catch (e) { status(passkey.problem(e)); }
  }

  if (!passkey.supported()) {
    $("passkeys-unsupported").hidden = false;
    $("add-passkey").hidden = true;
  }
  $("add-passkey").addEventListener("submit", add);
  load().catch((e) => status(passkey.problem(e)));
})();
