/* Embed the chat on any page:
 *   <script src="https://chat.example.com/static/webclient/embed.js" data-bot="demo" defer></script>
 * Optional attributes: data-identity and data-identity-hash (verified bots: the user's id
 * and its HMAC-SHA256 with the bot's identity secret, computed by the site's backend, never
 * in the browser), data-lang (else the page's <html lang>), data-sound="on" (a chime for
 * messages arriving while the panel is closed; off by default), data-debug="on" (the panel
 * tells why when this page may not show the chat; visitors otherwise read only that the chat
 * is unavailable, and the reason is in the console either way), data-custom-data and
 * data-meta-tags (JSON objects of page context for the bot: Kore's customData and metaTags,
 * of which the relay forwards only the keys the bot's admin allows).
 *
 * The widget runs in an iframe served by the relay, so the host page's styles and scripts
 * cannot reach it, and its API calls stay same-origin. The relay's frame-ancestors policy
 * decides which sites may embed it. The identity never goes into the iframe's URL (URLs
 * end up in access logs): once the frame says it is ready, it is posted to the frame at
 * the relay's exact origin.
 *
 * A small API for single-page sites: KoreChat.open(), KoreChat.close(),
 * KoreChat.setContext({customData, metaTags}), and KoreChat.identify(identity, identityHash)
 * when the user logs in or out (the conversation restarts with that identity's own token
 * and history).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var relay = new URL(script.src).origin;
  var bot = script.getAttribute("data-bot") || "";
  var identity = script.getAttribute("data-identity") || "";
  var identityHash = script.getAttribute("data-identity-hash") || "";
  var lang = script.getAttribute("data-lang") || document.documentElement.lang || "";
  var sound = script.getAttribute("data-sound") === "on";
  var debug = script.getAttribute("data-debug") === "on";
  var pageContext = {
    customData: json(script.getAttribute("data-custom-data")),
    metaTags: json(script.getAttribute("data-meta-tags"))
  };
  var labels = { open: "Open chat", close: "Close chat", unreadLabel: "" };
  var position = "right";
  var open = false;
  var muted = false;
  var unread = 0;
  var frame = null;
  var small = window.matchMedia("(max-width: 479px)");

  function json(text) {
    try { var value = JSON.parse(text || "{}"); return value && typeof value === "object" ? value : {}; } catch (e) { return {}; }
  }

  function css(node, rules) {
    Object.keys(rules).forEach(function (k) { node.style.setProperty(k, rules[k]); });
  }

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  // A speech bubble while the panel is closed, a cross while it is open.
  var ICONS = {
    open: '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/>',
    close: '<path fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" d="m6 6 12 12M18 6 6 18"/>'
  };
  var icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "28");
  icon.setAttribute("height", "28");
  icon.setAttribute("aria-hidden", "true");
  icon.setAttribute("focusable", "false");
  launcher.appendChild(icon);
  css(launcher, {
    position: "fixed", bottom: "20px", "z-index": "2147483646", width: "56px", height: "56px",
    padding: "0", border: "0", "border-radius": "50%", background: "#1f5fbf", color: "#fff",
    cursor: "pointer", display: "grid", "place-items": "center", "box-shadow": "0 4px 14px rgba(0,0,0,.3)"
  });
  var badge = document.createElement("span");
  badge.setAttribute("aria-hidden", "true");
  badge.hidden = true;
  css(badge, {
    position: "absolute", top: "-4px", right: "-4px", "min-width": "22px", height: "22px", padding: "0 6px",
    "border-radius": "11px", background: "#b91c1c", color: "#fff", font: "600 12px/22px system-ui, sans-serif",
    "text-align": "center", "box-sizing": "border-box"
  });
  launcher.appendChild(badge);

  /* The frame words the unread count (plural forms of the chat's language). */
  function label() {
    icon.innerHTML = open ? ICONS.close : ICONS.open;
    launcher.setAttribute("data-kc-launcher", open ? "close" : "open");
    launcher.setAttribute("aria-label", open ? labels.close : (unread && labels.unreadLabel) || labels.open);
  }

  function layout() {
    var side = position === "left" ? "left" : "right";
    var other = side === "left" ? "right" : "left";
    launcher.style.setProperty(side, "20px");
    launcher.style.removeProperty(other);
    launcher.style.display = open && small.matches ? "none" : "grid";
    if (!frame) { return; }
    if (small.matches) {
      css(frame, { top: "0", left: "0", right: "0", bottom: "0", width: "100%", height: "100%", "border-radius": "0" });
    } else {
      frame.style.removeProperty("top");
      frame.style.removeProperty(other);
      css(frame, {
        bottom: "88px", width: "min(400px, calc(100vw - 40px))", height: "min(640px, calc(100vh - 108px))",
        "border-radius": "16px"
      });
      frame.style.setProperty(side, "20px");
    }
  }

  function post(message) {
    message.source = "kore-chat-embed";
    frame.contentWindow.postMessage(message, relay);
  }

  function createFrame() {
    frame = document.createElement("iframe");
    frame.title = labels.open;
    // parent and debug only choose the words of a refusal (the browser enforces who may
    // frame the chat, whatever a URL says).
    var query = "?embed=1&bot=" + encodeURIComponent(bot) + (lang ? "&lang=" + encodeURIComponent(lang) : "") +
      "&parent=" + encodeURIComponent(location.origin) + (debug ? "&debug=1" : "");
    frame.src = relay + "/" + query;
    frame.hidden = !open;
    frame.id = "kore-chat-frame";
    frame.setAttribute("allow", "clipboard-write");
    css(frame, {
      position: "fixed", "z-index": "2147483647", border: "0", background: "transparent",
      "box-shadow": "0 8px 32px rgba(0,0,0,.3)", "color-scheme": "normal"
    });
    launcher.setAttribute("aria-controls", frame.id);
    document.body.appendChild(frame);
    layout();
  }

  function setUnread(count, text) {
    if (count > unread && sound && !muted) { chime(); }
    unread = count;
    labels.unreadLabel = text || "";
    badge.textContent = count > 9 ? "9+" : String(count);
    badge.hidden = !count;
    label();
  }

  function chime() {
    try {
      var audio = new (window.AudioContext || window.webkitAudioContext)();
      var tone = audio.createOscillator();
      var gain = audio.createGain();
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.3);
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.3);
    } catch (e) { /* no audio */ }
  }

  function show() {
    open = true;
    muted = false;
    frame.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    // Opened, everything is read: the badge goes at once (the frame confirms with a zero).
    setUnread(0, "");
    layout();
    frame.focus();
    post({ type: "open" });
  }

  /* Minimise keeps the unread badge (and chime) going; close also silences them until the
   * panel is opened again. Either way focus returns to the launcher. */
  function hide(silence) {
    if (!open) { return; }
    open = false;
    muted = silence;
    frame.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    label();
    layout();
    post({ type: "closed" });
    launcher.focus();
  }

  window.addEventListener("message", function (event) {
    var data = event.data || {};
    if (!frame || event.source !== frame.contentWindow || event.origin !== relay || data.source !== "kore-chat") { return; }
    if (data.type === "ready") {
      var theme = data.theme || {};
      if (/^#[0-9a-f]{6}$/i.test(theme.color || "")) { launcher.style.background = theme.color; }
      if (/^#[0-9a-f]{6}$/i.test(theme.contrast || "")) { launcher.style.color = theme.contrast; }
      if (theme.position) { position = theme.position; }
      if (data.labels) { labels = { open: String(data.labels.open), close: String(data.labels.close), unreadLabel: "" }; }
      frame.title = theme.title ? String(theme.title) : labels.open;
      label();
      layout();
      post({ type: "init", identity: identity, identityHash: identityHash, context: pageContext });
      if (open) { post({ type: "open" }); }
    } else if (data.type === "unread") {
      setUnread(Number(data.count) || 0, data.label ? String(data.label) : "");
    } else if (data.type === "refused") {
      // The page may not show this chat (origin not allowed, unknown or disabled bot).
      console.warn("kore-chat: " + String(data.reason || data.code));
    } else if (data.type === "minimise" || data.type === "close") {
      hide(data.type === "close");
    }
  });

  launcher.addEventListener("click", function () {
    if (open) { hide(false); } else { show(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && open) { hide(true); }
  });
  small.addEventListener("change", layout);

  window.KoreChat = {
    open: show,
    close: function () { hide(true); },
    /* {customData, metaTags}: sent with the next messages; the bot keeps only the keys its
     * admin allows. */
    setContext: function (context) {
      pageContext = { customData: (context && context.customData) || {}, metaTags: (context && context.metaTags) || {} };
      post({ type: "context", context: pageContext });
    },
    identify: function (newIdentity, newHash) {
      identity = newIdentity || "";
      identityHash = newHash || "";
      setUnread(0);
      frame.remove();
      createFrame();
    }
  };

  label();
  document.body.appendChild(launcher);
  createFrame();
})();
