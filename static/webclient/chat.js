/* kore-chat widget: sends by POST, receives by long-poll GET, renders the server's HTML.
 *
 * State that must survive a reload lives in localStorage, per bot: the token (refreshed
 * before it expires), the identity and the outbox of messages not yet acknowledged (re-sent
 * with the same clientMessageId, so the server stores each once). The cursor is the id of
 * the last message shown.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-kc-chat]");
  if (!root) { return; }
  var bot = root.getAttribute("data-bot") || "";
  var apiBase = root.getAttribute("data-api") || "";
  var log = root.querySelector("[data-kc-log]");
  var typing = root.querySelector("[data-kc-typing]");
  var connection = root.querySelector("[data-kc-connection]");
  var composer = root.querySelector("[data-kc-composer]");
  var input = root.querySelector("[data-kc-input]");
  var vouchedIdentity = root.getAttribute("data-identity") || "";
  var identityHash = root.getAttribute("data-identity-hash") || "";
  var storeKey = "kore-chat:" + bot;
  var WAIT = 25;
  var REFRESH_BEFORE = 5 * 60 * 1000;
  var cursor = 0;
  var shown = {};
  var flushing = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey)) || {}; } catch (e) { return {}; }
  }
  function save(patch) {
    var state = load();
    Object.keys(patch).forEach(function (k) { state[k] = patch[k]; });
    try { localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function setConnection(text) { connection.textContent = text; }

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function requestToken(body) {
    return fetch(apiBase + "/api/v1/sts", {
      method: "POST",
      // The CSRF token only matters when a logged-in session vouches for the identity.
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
      body: JSON.stringify(body)
    });
  }

  /* A new token. The embedding site may vouch for an identity (identity + identityHash);
   * else the identity we had is offered, which only bots that trust browsers honour. */
  async function fetchToken() {
    var state = load();
    var body = { bot: bot };
    if (vouchedIdentity) {
      body.identity = vouchedIdentity;
      body.identityHash = identityHash;
    } else if (state.identity) {
      body.identity = state.identity;
    }
    var res = await requestToken(body);
    if (res.status === 403 && body.identity && !vouchedIdentity) {
      res = await requestToken({ bot: bot });
    }
    if (!res.ok) { throw new Error("token request failed: " + res.status); }
    var data = await res.json();
    save({ jwt: data.jwt, identity: data.identity, expiresAt: data.expiresAt });
    return data.jwt;
  }

  /* Trade a still-valid token for a fresh one: for anonymous users the token is the only
   * key to their conversation. Resolves with null when the server refuses it. */
  async function refreshToken(jwt) {
    var res = await fetch(apiBase + "/api/v1/sts/refresh", {
      method: "POST",
      headers: { "Authorization": "Bearer " + jwt }
    });
    if (res.status === 401) { return null; }
    if (!res.ok) { throw new Error("refresh failed: " + res.status); }
    var data = await res.json();
    save({ jwt: data.jwt, identity: data.identity, expiresAt: data.expiresAt });
    return data.jwt;
  }

  var renewing = null;
  async function token() {
    var state = load();
    var left = state.jwt && state.expiresAt ? Date.parse(state.expiresAt) - Date.now() : 0;
    if (left > REFRESH_BEFORE) { return state.jwt; }
    if (!renewing) {
      renewing = (async function () {
        if (left > 10000) {
          try {
            var fresh = await refreshToken(state.jwt);
            if (fresh) { return fresh; }
          } catch (e) {
            return state.jwt;  // offline: the old token still works for a while
          }
        }
        return fetchToken();
      })().finally(function () { renewing = null; });
    }
    return renewing;
  }

  /* One API call; a rejected token is replaced once. Resolves with {status, body}. */
  async function api(method, path, body, signal) {
    for (var attempt = 0; attempt < 2; attempt++) {
      var res = await fetch(apiBase + path, {
        method: method,
        headers: { "Authorization": "Bearer " + (await token()), "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal
      });
      if (res.status === 401 && attempt === 0) { save({ jwt: null }); continue; }
      var data = await res.json().catch(function () { return {}; });
      return { status: res.status, body: data };
    }
  }

  /* A later change of state arrives as a system message naming the earlier one. */
  function applyState(message) {
    var data = message.data || {};
    var target = log.querySelector('[data-kc-id="' + String(data.refersTo) + '"]');
    var state = data.state || data.status;
    if (!target || !state) { return; }
    target.classList.add("kc-state-" + state);
    var form = target.querySelector("form[data-kc-form]");
    if (form && (state === "submitted" || state === "cancelled")) {
      form.setAttribute("data-kc-submitted", state);
      (form.querySelector(".kc-form-body") || form).disabled = true;
    }
  }

  /* Quick replies only make sense until the user answers. */
  function retireQuickReplies() {
    log.querySelectorAll("[data-kc-once]").forEach(function (el) { el.remove(); });
  }

  function show(message) {
    if (shown[message.id]) { return; }
    shown[message.id] = true;
    if (message.role === "system" && message.data && message.data.refersTo) { applyState(message); }
    if (message.role === "user") { retireQuickReplies(); }
    if (!message.html) { return; }
    var item = document.createElement("li");
    item.className = "kc-msg kc-role-" + message.role + " kc-kind-" + message.kind +
      (message.status ? " kc-status-" + message.status : "");
    item.setAttribute("data-kc-id", String(message.id));
    item.innerHTML = message.html;
    var nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    log.appendChild(item);
    if (nearBottom || message.role === "user") { log.scrollTop = log.scrollHeight; }
    document.dispatchEvent(new CustomEvent("kore-chat:message", { detail: { message: message, element: item } }));
  }

  function receive(answer) {
    answer.messages.forEach(show);
    cursor = Math.max(cursor, answer.cursor);
    typing.hidden = !answer.pending;
  }

  /* The outbox: every send is kept until the server has acknowledged it. */
  function outbox() { return load().outbox || []; }

  async function flush() {
    if (flushing) { return; }
    flushing = true;
    try {
      var delay = 500;
      while (outbox().length) {
        var entry = outbox()[0];
        var result;
        try {
          result = await api("POST", "/api/v1/messages", entry.body);
        } catch (e) {
          setConnection("Offline, will retry…");
          await sleep(delay);
          delay = Math.min(delay * 2, 15000);
          continue;
        }
        if (result.status >= 500 || result.status === 429) {
          await sleep(delay);
          delay = Math.min(delay * 2, 15000);
          continue;
        }
        save({ outbox: outbox().filter(function (e) { return e.body.clientMessageId !== entry.body.clientMessageId; }) });
        settle(entry.body.clientMessageId, result);
        if (result.status < 300) { show(result.body.message); typing.hidden = false; }
      }
    } finally {
      flushing = false;
    }
  }

  var waiting = {};
  function settle(id, result) {
    var promise = waiting[id];
    delete waiting[id];
    if (!promise) { return; }
    if (result.status < 300) { promise.resolve(result.body.message); }
    else { promise.reject(result.body.error || { code: "error", message: "The message was refused." }); }
  }

  /* Send one body (text, postback, formData or event); resolves with the stored message,
   * rejects with the API error ({code, message, fields?}) when the server refuses it. */
  function send(body, clientMessageId) {
    var payload = Object.assign({ clientMessageId: clientMessageId || uuid() }, body);
    save({ outbox: outbox().concat([{ body: payload }]) });
    var promise = new Promise(function (resolve, reject) {
      waiting[payload.clientMessageId] = { resolve: resolve, reject: reject };
    });
    flush();
    return promise;
  }

  /* The poll in flight. A connection that a proxy or a network change silently dropped
   * would otherwise hang: each poll gets a deadline past the server's wait, and a change of
   * network status ends it at once. */
  var polling = null;

  async function pollLoop() {
    var delay = 1000;
    for (;;) {
      polling = new AbortController();
      var deadline = setTimeout(polling.abort.bind(polling), (WAIT + 10) * 1000);
      try {
        var path = "/api/v1/messages?after=" + cursor + "&wait=" + WAIT;
        var result = await api("GET", path, undefined, polling.signal);
        if (result.status !== 200) { throw new Error("poll failed: " + result.status); }
        receive(result.body);
        setConnection("");
        delay = 1000;
      } catch (e) {
        setConnection(navigator.onLine === false ? "Offline, will retry…" : "Reconnecting…");
        await sleep(delay);
        delay = Math.min(delay * 2, 30000);
      } finally {
        clearTimeout(deadline);
      }
    }
  }

  window.addEventListener("offline", function () {
    if (polling) { polling.abort(); }
  });
  window.addEventListener("online", function () {
    if (polling) { polling.abort(); }
    flush();
  });

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) { return; }
    input.value = "";
    send({ text: text });
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  window.KoreChat = { send: send };

  async function start() {
    var history;
    for (var delay = 1000; ; delay = Math.min(delay * 2, 30000)) {
      try {
        history = await api("GET", "/api/v1/messages?after=0&wait=0");
        if (history.status === 200) { break; }
      } catch (e) { /* offline: retry below */ }
      setConnection("Connecting…");
      await sleep(delay);
    }
    setConnection("");
    receive(history.body);
    if (!history.body.messages.length && !outbox().length) {
      // A new conversation: tell the bot, so its welcome message arrives.
      send({ event: "ON_CONNECT" }, "on-connect");
    }
    flush();
    pollLoop();
  }

  start();
})();
