/* kore-chat widget: sends by POST, receives by long-poll GET, renders the server's HTML.
 *
 * State that must survive a reload lives in localStorage under one key per bot AND
 * identity source ("kore-chat:<bot>:id:<identity>", ":session:<key>" for a logged-in user,
 * ":browser" otherwise): the token, the identity, the outbox of messages not yet
 * acknowledged (re-sent with the same clientMessageId, so the server stores each once) and
 * where the current chat starts. A token is never used for another identity or bot: a page
 * vouching for someone else reads another key and starts from a fresh token.
 *
 * Connection states (data-kc-state on the root, shown in the header): connecting, online,
 * reconnecting, offline, expired (the token was refused twice), ended (the user ended the
 * chat, or the server refused us for good: unknown bot, origin not allowed).
 *
 * Tabs of one conversation share one long-poll: the tab holding a Web Lock polls and
 * passes every answer to the others over a BroadcastChannel; when it closes, the lock
 * passes to another tab, which takes over.
 *
 * Embedded (data-embed), the page waits for embed.js to send the identity by postMessage
 * from an origin allowed to frame it, then talks to it only at that exact origin.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-kc-chat]");
  if (!root) { return; }
  var _ = window.gettext || function (s) { return s; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (text, args, named) {
    if (named) { return text.replace(/%\((\w+)\)s/g, function (m, key) { return String(args[key]); }); }
    return text.replace(/%s/g, function () { return String(args.shift()); });
  };
  function attr(name) { return root.getAttribute(name) || ""; }
  function $(selector) { return root.querySelector(selector); }

  var bot = attr("data-bot");
  var title = attr("data-title");
  var apiBase = attr("data-api");
  var embedded = root.hasAttribute("data-embed");
  var sessionKey = attr("data-session-key");
  var parentOrigins = attr("data-parent-origins").split(" ").filter(Boolean);
  var who = { identity: attr("data-identity"), hash: attr("data-identity-hash") };
  var lang = document.documentElement.lang || "en";
  var log = $("[data-kc-log]");
  var scroller = $("[data-kc-scroll]");
  var typing = $("[data-kc-typing]");
  var stateText = $("[data-kc-connection-text]");
  var composer = $("[data-kc-composer]");
  var input = $("[data-kc-input]");
  var jump = $("[data-kc-jump]");
  var chips = $("[data-kc-chips]");
  var fileInput = $("[data-kc-file]");

  var WAIT = 25;
  var REFRESH_BEFORE = 5 * 60 * 1000;
  var GROUP_GAP = 5 * 60 * 1000;
  var STATES = {
    connecting: _("Connecting…"),
    online: _("Online"),
    reconnecting: _("Reconnecting…"),
    offline: _("Offline, will retry when the network is back"),
    expired: _("Your session has expired. Start a new chat to continue."),
    ended: _("Chat ended")
  };
  var DELIVERY = {
    sending: _("Sending…"),
    queued: _("Offline: will be sent when the network is back"),
    failed: _("Not sent."),
    throttled: _("Too many messages at once: it will be sent shortly, at %s.")
  };
  // Readable names of the types the server accepts (the file picker's `accept`).
  var TYPE_NAMES = {
    "image/png": _("PNG image"),
    "image/jpeg": _("JPEG image"),
    "image/gif": _("GIF image"),
    "image/webp": _("WebP image"),
    "application/pdf": _("PDF document"),
    "text/plain": _("text file")
  };

  var storeKey = "";
  var channel = null;
  var leader = false;
  var polling = null;
  var pollRunning = false;
  var started = false;
  // The visitor sent from the composer before the chat was connected.
  var submitWhenStarted = false;
  var stopped = false;
  var ended = false;
  var flushing = false;
  var cursor = 0;
  var since = 0;
  var shown = {};
  var waiting = {};
  var failed = {};
  var parentOrigin = "";
  var pageContext = null;
  var panelOpen = !embedded;
  var unread = 0;

  /* ---- storage ---- */

  // A cross-site frame may be denied localStorage (third-party storage blocked): the chat
  // then keeps its state in memory, for the life of the page.
  var memory = {};
  var storage = (function () {
    try { window.localStorage.getItem("kore-chat"); return window.localStorage; } catch (e) { return null; }
  })();
  function identityKey() {
    if (who.identity) { return "id:" + who.identity; }
    return sessionKey ? "session:" + sessionKey : "browser";
  }
  function load() {
    try { return JSON.parse(storage ? storage.getItem(storeKey) : memory[storeKey]) || {}; } catch (e) { return {}; }
  }
  function save(patch) {
    var state = load();
    Object.keys(patch).forEach(function (k) { state[k] = patch[k]; });
    memory[storeKey] = JSON.stringify(state);
    try { if (storage) { storage.setItem(storeKey, memory[storeKey]); } } catch (e) { /* full */ }
  }
  /* A known user on a shared browser: any other user's state of this bot goes. */
  function forgetOtherUsers() {
    if (!storage) { return; }
    var prefix = "kore-chat:" + bot + ":";
    for (var i = storage.length - 1; i >= 0; i--) {
      var key = storage.key(i);
      if (key && key.indexOf(prefix) === 0 && key !== storeKey && key !== prefix + "browser") {
        storage.removeItem(key);
      }
    }
  }
  function outbox() { return load().outbox || []; }

  /* ---- waiting, with back-off that network events cut short ---- */

  var sleepers = [];
  var wakes = 0;
  function pause(ms, loop) {
    if (loop.wakes !== wakes) { loop.wakes = wakes; return Promise.resolve(); }
    return new Promise(function (resolve) {
      function done() {
        clearTimeout(timer);
        sleepers = sleepers.filter(function (s) { return s !== done; });
        loop.wakes = wakes;
        resolve();
      }
      var timer = setTimeout(done, ms);
      sleepers.push(done);
    });
  }
  function wake() {
    wakes++;
    sleepers.slice().forEach(function (done) { done(); });
  }
  /* Jittered exponential back-off; a server's Retry-After is a floor. */
  function backoff(attempt, retryAfterMs) {
    var base = Math.min(30000, 1000 * Math.pow(2, attempt));
    return Math.max(base / 2 + Math.random() * base / 2, Math.min(retryAfterMs || 0, 300000));
  }
  function retryAfter(res) {
    var value = res.headers.get("Retry-After");
    if (!value) { return 0; }
    var seconds = Number(value);
    if (!isNaN(seconds)) { return seconds * 1000; }
    var at = Date.parse(value);
    return isNaN(at) ? 0 : Math.max(0, at - Date.now());
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }
  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* What an answer means: ok, retry (network, 408, 429, 5xx), expired (401 after a fresh
   * token) or refused (any other 4xx: it will not heal by itself). */
  function verdict(status) {
    if (status < 300) { return "ok"; }
    if (status === 401) { return "expired"; }
    if (status === 408 || status === 429 || status >= 500) { return "retry"; }
    return "refused";
  }
  function Refused(status, error, wait) {
    this.status = status;
    this.error = error || {};
    this.wait = wait || 0;
  }

  /* ---- tokens ---- */

  function requestToken(body) {
    return fetch(apiBase + "/api/v1/sts", {
      method: "POST",
      // The CSRF token only matters when a logged-in session vouches for the identity.
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie("csrftoken") },
      body: JSON.stringify(body)
    });
  }

  /* Keep a token answer, and whether its identity is one the browser may offer again
   * (taken from the browser, not chosen by the server: those are reserved). */
  function keep(data) {
    var claims = {};
    try {
      claims = JSON.parse(atob(data.jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    } catch (e) { /* not a JWT we can read: offer nothing */ }
    save({ jwt: data.jwt, identity: data.identity, expiresAt: data.expiresAt, offer: claims.identityProof === "browser" });
  }

  /* A new token. The embedding site may vouch for an identity (identity + identityHash);
   * else the identity we had is offered, which only bots that trust browsers honour. */
  async function fetchToken() {
    var state = load();
    var body = { bot: bot };
    if (who.identity) {
      body.identity = who.identity;
      body.identityHash = who.hash;
    } else if (state.identity && state.offer) {
      body.identity = state.identity;
    }
    var res = await requestToken(body);
    if (res.status === 403 && body.identity && !who.identity) {
      res = await requestToken({ bot: bot });
    }
    var data = await res.json().catch(function () { return {}; });
    if (!res.ok) { throw new Refused(res.status, data.error, retryAfter(res)); }
    if (data.bot !== bot) { throw new Refused(400, { message: "The token is for another bot." }); }
    keep(data);
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
    keep(data);
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

  /* One API call (a JSON body, or FormData for a file); a refused token is re-issued
   * once. Resolves with {status, body, wait}. */
  async function api(method, path, body, signal) {
    var form = body instanceof FormData;
    for (var attempt = 0; ; attempt++) {
      var headers = { "Authorization": "Bearer " + (await token()) };
      if (!form) { headers["Content-Type"] = "application/json"; }
      var res = await fetch(apiBase + path, {
        method: method,
        headers: headers,
        body: body === undefined || form ? body : JSON.stringify(body),
        signal: signal
      });
      if (res.status === 401 && attempt === 0) { save({ jwt: null }); continue; }
      var data = await res.json().catch(function () { return {}; });
      return { status: res.status, body: data, wait: retryAfter(res) };
    }
  }

  /* ---- connection state ---- */

  function setState(state, detail) {
    if (stopped && !detail && state !== "expired") { return; }
    if (state === "online" && ended) { state = "ended"; }
    root.setAttribute("data-kc-state", state);
    stateText.textContent = detail || STATES[state];
    // The other tabs show the state of the one connection they share.
    if (leader && channel) { channel.postMessage({ type: "state", state: state, detail: detail || "" }); }
  }
  function troubleState() {
    setState(navigator.onLine === false ? "offline" : "reconnecting");
  }
  /* The loops stop for good: the token was refused twice, or the server refused us. */
  function stop(kind, error) {
    stopped = true;
    if (polling) { polling.abort(); }
    wake();
    if (kind === "expired") { setState("expired"); return; }
    setState("ended", _("This chat is unavailable:") + " " + ((error && error.message) || _("the server refused it.")));
  }
  /* The verdict of an exception: a refused token request, else the network. */
  function failure(error) {
    return error instanceof Refused ? verdict(error.status) : "retry";
  }

  /* ---- the conversation on screen ---- */

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  function ago(date) {
    var seconds = Math.round((date.getTime() - Date.now()) / 1000);
    if (!relative) { return date.toLocaleTimeString(lang); }
    if (seconds > -45) { return relative.format(0, "second"); }
    if (seconds > -3600) { return relative.format(Math.round(seconds / 60), "minute"); }
    if (seconds > -86400) { return relative.format(Math.round(seconds / 3600), "hour"); }
    return relative.format(Math.round(seconds / 86400), "day");
  }
  function timeElement(iso) {
    var date = new Date(iso || Date.now());
    var node = el("time", "kc-time", ago(date));
    node.dateTime = date.toISOString();
    node.title = date.toLocaleString(lang);
    return node;
  }
  function refreshTimes() {
    log.querySelectorAll("time.kc-time").forEach(function (node) {
      node.textContent = ago(new Date(node.dateTime));
    });
  }

  /* One message row: avatar (bot), bubble, then time and delivery state. */
  function row(role, kind, html, iso) {
    var item = el("div", "kc-msg kc-role-" + role + " kc-kind-" + kind);
    if (role === "bot") { item.appendChild(avatar()); }
    var body = el("div", "kc-body");
    var bubble = el("div", "kc-bubble");
    bubble.dir = "auto";  // each message reads in its own direction, whatever the page's
    if (html !== null) { bubble.innerHTML = html; }
    body.appendChild(bubble);
    var meta = el("div", "kc-stamp");
    meta.appendChild(timeElement(iso));
    meta.appendChild(el("span", "kc-delivery"));
    body.appendChild(meta);
    item.appendChild(body);
    item.setAttribute("data-kc-at", String(new Date(iso || Date.now()).getTime()));
    return item;
  }
  function avatar() {
    var node = el("span", "kc-avatar");
    node.setAttribute("aria-hidden", "true");
    node.setAttribute("data-initial", (title || "?").charAt(0).toUpperCase());
    return node;
  }
  /* Consecutive messages of one sender, close in time, form a group: one avatar on its
   * first message, one time under its last (as Intercom shows them). */
  function sameGroup(prev, item) {
    return prev.className.split(" ")[1] === item.className.split(" ")[1] &&
      Number(item.getAttribute("data-kc-at")) - Number(prev.getAttribute("data-kc-at")) <= GROUP_GAP;
  }
  function regroup(item) {
    if (!item) { return; }
    var prev = item.previousElementSibling;
    var next = item.nextElementSibling;
    item.classList.toggle("kc-first", !prev || !sameGroup(prev, item));
    item.classList.toggle("kc-last", !next || !sameGroup(item, next));
    if (prev) { prev.classList.toggle("kc-last", !sameGroup(prev, item)); }
  }
  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }
  function toBottom() {
    scroller.scrollTop = scroller.scrollHeight;
    jump.hidden = true;
  }
  /* Server messages in id order; pending (optimistic) bubbles stay last. */
  function place(item, id) {
    var before = null;
    if (id !== undefined) {
      var rows = log.children;
      for (var i = 0; i < rows.length; i++) {
        var other = rows[i].getAttribute("data-kc-id");
        if (other === null || Number(other) > id) { before = rows[i]; break; }
      }
    }
    var stick = nearBottom();
    log.insertBefore(item, before);
    regroup(item);
    regroup(item.nextElementSibling);
    return stick;
  }
  function pendingRow(clientMessageId) {
    return log.querySelector('[data-kc-client="' + CSS.escape(clientMessageId) + '"]');
  }

  /* A later change of state arrives as a system message naming the earlier one. An
   * operator's retry ("retried") sends a failed message again as a new, unshown attempt
   * (data.by): the bubble is no longer failed, and the attempt's own failure, if any,
   * shows on it. */
  function applyState(message) {
    var data = message.data || {};
    var target = log.querySelector('[data-kc-id="' + String(data.refersTo) + '"]') ||
      log.querySelector('[data-kc-attempt="' + String(data.refersTo) + '"]');
    var state = data.state || data.status;
    if (!target || !state) { return; }
    if (state === "retried") {
      target.classList.remove("kc-status-failed", "kc-state-failed");
      target.setAttribute("data-kc-attempt", String(data.by));
      var slot = target.querySelector(".kc-delivery");
      if (slot) { slot.textContent = _("Sent again by an operator."); }
      return;
    }
    target.classList.add("kc-state-" + state);
    if (state === "failed" && target.classList.contains("kc-role-user")) { offerResend(target); }
    var form = target.querySelector("form[data-kc-form]");
    if (form && (state === "submitted" || state === "cancelled")) {
      form.setAttribute("data-kc-submitted", state);
      (form.querySelector(".kc-form-body") || form).disabled = true;
    }
  }

  /* Quick replies only make sense until the user answers. */
  function retireQuickReplies() {
    log.querySelectorAll("[data-kc-once]").forEach(function (node) { node.remove(); });
  }

  function show(message, live) {
    if (shown[message.id] || message.id <= since) { return; }
    shown[message.id] = true;
    // The notice of a session closed by New chat belongs to the chat left behind.
    var refersTo = message.data && message.data.refersTo;
    if (refersTo && (load().quiet || []).indexOf(refersTo) >= 0) { return; }
    if (message.role === "system" && message.data && message.data.refersTo) { applyState(message); }
    if (message.role === "user") { retireQuickReplies(); }
    var pending = message.clientMessageId ? pendingRow(message.clientMessageId) : null;
    if (pending) {
      var before = pending.previousElementSibling;
      pending.remove();
      regroup(before);
    }
    if (!message.html) { return; }
    var item = row(message.role, message.kind, message.html, message.createdAt);
    if (message.attachments && message.attachments.length) {
      item.querySelector(".kc-bubble").appendChild(fileList(message.attachments));
    }
    if (message.status) { item.classList.add("kc-status-" + message.status); }
    item.setAttribute("data-kc-id", String(message.id));
    if (message.clientMessageId) { item.setAttribute("data-kc-client", message.clientMessageId); }
    if (message.role === "user" && message.status === "failed") { offerResend(item); }
    // Single tokens in tables (dates, amounts, codes) never break mid-token on a phone.
    item.querySelectorAll("td, th").forEach(function (cell) {
      if (!/\s/.test(cell.textContent.trim())) { cell.classList.add("kc-nowrap"); }
    });
    var stick = place(item, message.id);
    if (stick || message.role === "user") { toBottom(); } else if (live) { jump.hidden = false; }
    if (live && message.role === "bot") { noteUnread(); }
    document.dispatchEvent(new CustomEvent("kore-chat:message", { detail: { message: message, element: item } }));
  }

  function setTyping(on) {
    var stick = nearBottom();
    typing.hidden = !on;
    if (on && stick) { toBottom(); }
  }

  function receive(answer, live) {
    answer.messages.forEach(function (m) { show(m, live); });
    cursor = Math.max(cursor, answer.cursor);
    setTyping(answer.pending);
    if (leader && channel) { channel.postMessage({ type: "answer", answer: answer }); }
  }

  /* ---- optimistic sending ---- */

  function bubbleText(body) {
    return body.text || (body.postback && (body.postback.title || body.postback.payload)) || "";
  }
  function pendingBubble(body) {
    var text = bubbleText(body);
    if (!text || pendingRow(body.clientMessageId)) { return; }
    var item = row("user", "text", null, null);
    item.classList.add("kc-pending");
    item.setAttribute("data-kc-client", body.clientMessageId);
    item.querySelector(".kc-bubble").appendChild(el("div", "kc-text", text));
    place(item);
    toBottom();
    mark(body.clientMessageId, navigator.onLine === false ? "queued" : "sending");
  }
  function mark(clientMessageId, status, error, at) {
    var item = pendingRow(clientMessageId);
    if (!item || !item.classList.contains("kc-pending")) { return; }
    item.setAttribute("data-kc-delivery", status);
    var slot = item.querySelector(".kc-delivery");
    if (status === "throttled") {
      slot.textContent = interpolate(DELIVERY.throttled, [at.toLocaleTimeString(lang)]);
      return;
    }
    slot.textContent = DELIVERY[status] + (error && error.message ? " " + error.message : "");
    if (status === "failed") {
      var retry = el("button", "kc-retry", _("Retry"));
      retry.type = "button";
      retry.setAttribute("data-kc-retry", clientMessageId);
      slot.appendChild(retry);
    }
  }
  /* A message the platform never got: offer to send its text again, as a new message. */
  function offerResend(item) {
    var text = item.querySelector(".kc-bubble").textContent.trim();
    var slot = item.querySelector(".kc-delivery");
    if (!text || !slot || slot.querySelector("button")) { return; }
    slot.textContent = _("Not delivered.");
    var again = el("button", "kc-retry", _("Retry"));
    again.type = "button";
    again.setAttribute("data-kc-resend", text);
    slot.appendChild(again);
  }

  function settle(id, result) {
    var promise = waiting[id];
    delete waiting[id];
    if (!promise) { return; }
    if (result.status < 300) { promise.resolve(result.body.message); }
    else { promise.reject(result.body.error || { code: "error", message: _("The message was refused.") }); }
  }

  /* The outbox: every send is kept until the server has answered it. */
  async function flush() {
    if (flushing || !started) { return; }
    flushing = true;
    var loop = { wakes: wakes };
    var attempt = 0;
    try {
      while (outbox().length && !stopped) {
        var entry = outbox()[0];
        var id = entry.body.clientMessageId;
        var result = null;
        var kind;
        try {
          result = await api("POST", "/api/v1/messages", entry.body);
          kind = verdict(result.status);
        } catch (e) {
          kind = failure(e);
          if (kind === "refused") { result = { status: e.status, body: { error: e.error } }; }
        }
        if (kind === "expired") { stop("expired"); return; }
        if (kind === "retry") {
          var delay = backoff(attempt++, result && result.wait);
          if (result && result.status === 429) {
            // Over the rate limit: the server is fine, the message waits its turn.
            mark(id, "throttled", null, new Date(Date.now() + delay));
          } else {
            mark(id, navigator.onLine === false ? "queued" : "sending");
            troubleState();
          }
          await pause(delay, loop);
          mark(id, navigator.onLine === false ? "queued" : "sending");
          continue;
        }
        attempt = 0;
        save({ outbox: outbox().filter(function (e) { return e.body.clientMessageId !== id; }) });
        settle(id, result);
        if (kind === "ok") {
          show(result.body.message, false);
          if (!entry.body.event) { setTyping(true); }
        } else {
          failed[id] = entry.body;
          mark(id, "failed", result.body.error);
        }
      }
    } finally {
      flushing = false;
    }
  }

  /* Send one body (text, postback, formData or event); resolves with the stored message,
   * rejects with the API error ({code, message, fields?}) when the server refuses it. */
  function send(body, clientMessageId) {
    if (!started) { return Promise.reject({ code: "not_ready", message: _("The chat is still connecting.") }); }
    var payload = Object.assign({ clientMessageId: clientMessageId || uuid() }, body);
    if (pageContext) { payload.pageContext = pageContext; }
    payload.language = lang.split("-")[0];
    save({ outbox: outbox().concat([{ body: payload }]) });
    var promise = new Promise(function (resolve, reject) {
      waiting[payload.clientMessageId] = { resolve: resolve, reject: reject };
    });
    if (!payload.event && ended) { ended = false; setState("online"); }
    pendingBubble(payload);
    flush();
    return promise;
  }

  function retry(clientMessageId) {
    var body = failed[clientMessageId];
    if (!body) { return; }
    delete failed[clientMessageId];
    save({ outbox: outbox().concat([{ body: body }]) });
    var item = pendingRow(clientMessageId);
    if (item) { item.querySelector(".kc-delivery").textContent = ""; }
    mark(clientMessageId, "sending");
    flush();
  }

  /* ---- attachments: by button, drag-and-drop or paste; sent with the next message ---- */

  function fileList(files) {
    var box = el("div", "kc-files");
    files.forEach(function (file) {
      var link = el("a", "kc-file");
      link.href = file.url;
      link.target = "_blank";
      link.rel = "noopener";
      if (file.image) {
        var thumb = el("img", "kc-file-thumb");
        thumb.src = file.url;
        thumb.alt = file.name;
        link.appendChild(thumb);
      } else {
        link.classList.add("kc-file-doc");
        link.appendChild(fileIcon());
        link.appendChild(el("span", "kc-file-name", file.name));
        link.download = file.name;
      }
      box.appendChild(link);
    });
    return box;
  }

  function fileIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "kc-file-icon");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M14 3H6v18h12V7zM14 3v4h4M9 12h6M9 16h6");
    svg.appendChild(path);
    return svg;
  }

  /* What the server said, in the user's words: accepted types by name, sizes in MB. */
  function attachError(file, error) {
    var code = error && error.code;
    if (code === "file_type_not_allowed") {
      var names = (fileInput.accept || "").split(",").filter(Boolean).map(function (type) {
        return TYPE_NAMES[type] || type;
      });
      return interpolate(_("%(name)s can't be attached: this kind of file is not accepted. Accepted: %(types)s."), { name: file.name, types: names.join(", ") }, true);
    }
    if (code === "file_too_large") {
      return interpolate(_("%s can't be attached: it is larger than the limit."), [file.name]);
    }
    return file.name + ": " + ((error && error.message) || _("The file could not be attached."));
  }

  function chipButton(label, handler) {
    var button = el("button", "kc-attachment-remove", "×");
    button.type = "button";
    button.setAttribute("aria-label", label);
    button.addEventListener("click", handler);
    return button;
  }

  async function attach(file) {
    if (!started) { return; }
    var chip = el("span", "kc-attachment", file.name);
    chip.setAttribute("data-kc-uploading", "");
    chips.appendChild(chip);
    var form = new FormData();
    form.append("file", file, file.name);
    var result;
    try {
      result = await api("POST", "/api/v1/attachments", form);
    } catch (e) {
      result = { status: 0, body: {} };
    }
    chip.removeAttribute("data-kc-uploading");
    var dismiss = chipButton(_("Remove") + " " + file.name, function () { chip.remove(); input.focus(); });
    if (result.status === 201) {
      chip.setAttribute("data-kc-attachment", result.body.id);
    } else {
      chip.classList.add("kc-attachment-error");
      chip.setAttribute("role", "alert");
      chip.textContent = "";
      chip.appendChild(el("span", "kc-attachment-mark", "!"));
      chip.appendChild(el("span", "kc-attachment-reason", attachError(file, result.body.error)));
    }
    chip.appendChild(dismiss);
  }
  function attachAll(files) {
    Array.prototype.forEach.call(files || [], attach);
  }
  /* The attachments ready to go, taken off the composer. */
  function takeAttachments() {
    var ready = Array.prototype.slice.call(chips.querySelectorAll("[data-kc-attachment]"));
    ready.forEach(function (chip) { chip.remove(); });
    return {
      ids: ready.map(function (chip) { return chip.getAttribute("data-kc-attachment"); }),
      names: ready.map(function (chip) { return chip.firstChild.textContent; })
    };
  }

  /* ---- receiving: one long-poll per conversation, shared by the tabs ---- */

  async function pollLoop() {
    var loop = { wakes: wakes };
    var attempt = 0;
    var quick = false;  // after trouble, a poll that answers at once shows we are back
    while (!stopped) {
      polling = new AbortController();
      // A connection a proxy or a network change silently dropped would hang: each poll
      // has a deadline past the server's wait, and a network change ends it at once.
      var deadline = setTimeout(polling.abort.bind(polling), (WAIT + 10) * 1000);
      var wait = 0;
      try {
        var path = "/api/v1/messages?after=" + cursor + "&wait=" + (quick ? 0 : WAIT);
        var result = await api("GET", path, undefined, polling.signal);
        var kind = verdict(result.status);
        if (kind === "ok") {
          receive(result.body, true);
          setState("online");
          attempt = 0;
          quick = false;
          continue;
        }
        if (kind !== "retry") { stop(kind, result.body.error); return; }
        wait = result.wait;
      } catch (e) {
        if (stopped) { return; }
        if (failure(e) !== "retry") { stop(failure(e), e.error); return; }
        wait = e.wait || 0;
      } finally {
        clearTimeout(deadline);
      }
      quick = true;
      troubleState();
      await pause(backoff(attempt++, wait), loop);
    }
  }

  function startPolling() {
    if (pollRunning) { return; }
    pollRunning = true;
    var granted = false;
    function run() {
      granted = true;
      leader = true;
      root.setAttribute("data-kc-leader", "");
      return pollLoop().finally(function () {
        leader = false;
        pollRunning = false;
        root.removeAttribute("data-kc-leader");
      });
    }
    if (!channel || !navigator.locks) { run(); return; }
    // Locks are denied where storage is (a cross-site frame): that tab then polls alone.
    navigator.locks.request(storeKey + ":poll", run).catch(function () {
      if (!granted) { run(); }
    });
  }

  function onChannel(event) {
    var data = event.data || {};
    if (data.type === "answer") {
      receive(data.answer, true);
      if (!stopped) { setState("online"); }
    } else if (data.type === "state" && !leader && !stopped) {
      root.setAttribute("data-kc-state", data.state);
      stateText.textContent = data.detail || STATES[data.state] || "";
    } else if (data.type === "reset") {
      since = data.since;
      clearLog();
    }
  }

  /* ---- conversation controls ---- */

  function clearLog() {
    log.textContent = "";
    shown = {};
    typing.hidden = true;
  }

  function endChat() {
    if (ended || stopped) { return; }
    send({ event: "SESSION_CLOSURE" });
    ended = true;
    setState("ended");
  }

  /* Another conversation with the bot: the session is closed and the page shows only what
   * follows; the stored `since` keeps it so after a reload, in every tab. */
  function newChat() {
    if (stopped) {
      // Expired or refused: start over from a fresh token.
      stopped = false;
      save({ jwt: null });
      flush();
      startPolling();
    }
    if (!ended) {
      // The closure's notice ("the session has ended") belongs to the chat left behind.
      send({ event: "SESSION_CLOSURE" }).then(function (m) {
        save({ quiet: (load().quiet || []).slice(-9).concat([m.id]) });
      }, function () {});
    }
    since = cursor;
    save({ since: since });
    clearLog();
    ended = false;
    setState("online");
    send({ event: "ON_CONNECT" });
    if (channel) { channel.postMessage({ type: "reset", since: since }); }
    input.focus();
  }

  /* The user's own conversation as text, as the chat shows it: read with the user's own
   * token; events the widget sends (ON_CONNECT…) and an operator's unshown retry attempts
   * are left out, and a message not delivered says so. */
  async function downloadTranscript() {
    var entries = [];
    var byId = {};
    var attempts = {};
    var after = since;
    for (;;) {
      var result = await api("GET", "/api/v1/messages?after=" + after + "&wait=0");
      if (result.status !== 200) { return; }
      result.body.messages.forEach(function (m) {
        var data = m.data || {};
        if (m.role === "system" && data.refersTo) {
          var target = byId[data.refersTo] || byId[attempts[data.refersTo]];
          var state = data.state || data.status;
          if (target && state === "retried") {
            attempts[data.by] = target.id;
            target.note = _("sent again by an operator");
          } else if (target && state === "failed") {
            target.note = _("not delivered");
          }
        }
        if (!m.text || !m.html || m.role === "system") { return; }
        var who = m.role === "user" ? _("You") : title;
        var entry = {
          id: m.id,
          line: "[" + new Date(m.createdAt).toLocaleString(lang) + "] " + who + ": " + m.text,
          note: m.status === "failed" ? _("not delivered") : ""
        };
        byId[m.id] = entry;
        entries.push(entry);
      });
      if (!result.body.messages.length || result.body.cursor <= after) { break; }
      after = result.body.cursor;
    }
    var lines = entries.map(function (e) { return e.line + (e.note ? " (" + e.note + ")" : ""); });
    var link = el("a");
    link.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/plain;charset=utf-8" }));
    link.download = (title || "chat") + " transcript.txt";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
  }

  /* ---- the embedding page ---- */

  function originAllowed(origin) {
    if (origin === location.origin) { return true; }
    return parentOrigins.some(function (allowed) {
      if (allowed === origin) { return true; }
      if (allowed.slice(-2) !== ":*") { return false; }
      var host = allowed.slice(0, -2);
      return origin === host || (origin.indexOf(host + ":") === 0 && /^[0-9]+$/.test(origin.slice(host.length + 1)));
    });
  }
  function toParent(message) {
    if (embedded && parentOrigin) {
      message.source = "kore-chat";
      window.parent.postMessage(message, parentOrigin);
    }
  }
  /* The launcher's label with the unread count, in the chat's language and plural forms. */
  function unreadLabel(count) {
    return interpolate(ngettext("Open chat (%s unread message)", "Open chat (%s unread messages)", count), [count]);
  }
  function noteUnread() {
    if (!embedded || panelOpen) { return; }
    unread += 1;
    toParent({ type: "unread", count: unread, label: unreadLabel(unread) });
  }
  function onParentMessage(event) {
    var data = event.data || {};
    if (event.source !== window.parent || data.source !== "kore-chat-embed" || !originAllowed(event.origin)) { return; }
    if (data.type === "init" && !parentOrigin) {
      parentOrigin = event.origin;
      who = { identity: String(data.identity || ""), hash: String(data.identityHash || "") };
      pageContext = data.context || null;
      start();
      return;
    }
    if (event.origin !== parentOrigin) { return; }
    if (data.type === "open") {
      panelOpen = true;
      unread = 0;
      toParent({ type: "unread", count: 0 });
      input.focus();
    } else if (data.type === "closed") {
      panelOpen = false;
    } else if (data.type === "context") {
      pageContext = data.context || null;
    }
  }

  /* ---- wiring ---- */

  window.addEventListener("offline", function () {
    if (polling) { polling.abort(); }
    setState("offline");
  });
  window.addEventListener("online", function () {
    wake();
    if (polling) { polling.abort(); }
    flush();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { wake(); }
  });
  scroller.addEventListener("scroll", function () {
    if (nearBottom()) { jump.hidden = true; }
  });
  jump.addEventListener("click", function () { toBottom(); input.focus(); });

  root.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) { return; }
    var action = target.getAttribute("data-kc-action");
    if (action === "new") { newChat(); }
    else if (action === "end") { endChat(); }
    else if (action === "transcript") { downloadTranscript(); }
    else if (action === "minimise" || action === "close") { toParent({ type: action }); }
    else if (action === "attach") { fileInput.click(); }
    else if (target.hasAttribute("data-kc-retry")) { retry(target.getAttribute("data-kc-retry")); }
    else if (target.hasAttribute("data-kc-resend")) {
      target.remove();
      send({ text: target.getAttribute("data-kc-resend") });
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && embedded) { toParent({ type: "close" }); }
  });

  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    // Sent while the chat is still connecting: it goes once connected (start).
    if (!started) { submitWhenStarted = true; return; }
    if (chips.querySelector("[data-kc-uploading]")) { return; }
    var files = takeAttachments();
    var text = input.value.trim() ? input.value : files.names.join(", ");
    if (!text) { return; }
    input.value = "";
    send(files.ids.length ? { text: text, attachments: files.ids } : { text: text });
  });
  if (fileInput) {
    fileInput.addEventListener("change", function () {
      attachAll(fileInput.files);
      fileInput.value = "";
      input.focus();
    });
    input.addEventListener("paste", function (event) {
      var files = event.clipboardData && event.clipboardData.files;
      if (files && files.length) { event.preventDefault(); attachAll(files); }
    });
    root.addEventListener("dragover", function (event) {
      if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
        event.preventDefault();
        root.classList.add("kc-dropping");
      }
    });
    root.addEventListener("dragleave", function (event) {
      if (!root.contains(event.relatedTarget)) { root.classList.remove("kc-dropping"); }
    });
    root.addEventListener("drop", function (event) {
      root.classList.remove("kc-dropping");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        event.preventDefault();
        attachAll(event.dataTransfer.files);
      }
    });
  }
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  window.KoreChat = { send: send };

  async function start() {
    storeKey = "kore-chat:" + bot + ":" + identityKey();
    // The state of earlier versions, keyed by bot only, may hold anyone's token: dropped.
    if (storage) { storage.removeItem("kore-chat:" + bot); }
    if (who.identity || sessionKey) { forgetOtherUsers(); }
    since = load().since || 0;
    var loop = { wakes: wakes };
    var history;
    for (var attempt = 0; ; attempt++) {
      var wait = 0;
      try {
        history = await api("GET", "/api/v1/messages?after=" + since + "&wait=0");
        var kind = verdict(history.status);
        if (kind === "ok") { break; }
        if (kind !== "retry") { stop(kind, history.body.error); return; }
        wait = history.wait;
      } catch (e) {
        if (failure(e) !== "retry") { stop(failure(e), e.error); return; }
        wait = e.wait || 0;
      }
      setState(navigator.onLine === false ? "offline" : "connecting");
      await pause(backoff(attempt, wait), loop);
    }
    started = true;
    setState("online");
    receive(history.body, false);
    toBottom();
    outbox().forEach(function (entry) { pendingBubble(entry.body); });
    if (!since && !history.body.messages.length && !outbox().length) {
      // A new conversation: tell the bot, so its welcome message arrives.
      send({ event: "ON_CONNECT" }, "on-connect");
    }
    flush();
    if (submitWhenStarted) {
      submitWhenStarted = false;
      composer.requestSubmit();
    }
    if (window.BroadcastChannel) {
      channel = new BroadcastChannel(storeKey);
      channel.onmessage = onChannel;
    }
    startPolling();
    setInterval(refreshTimes, 30000);
  }

  if (embedded) {
    window.addEventListener("message", onParentMessage);
    // Nothing secret here: the launcher's look and labels, so it matches the bot's theme.
    window.parent.postMessage({
      source: "kore-chat",
      type: "ready",
      theme: {
        title: title,
        color: attr("data-color"),
        contrast: attr("data-contrast"),
        position: attr("data-position")
      },
      labels: { open: _("Open chat"), close: _("Close chat") }
    }, "*");
  } else {
    start();
  }
})();
