/* The embed's panel when the page may not show the chat: the reason goes to the embedding
 * page (embed.js writes it to its console) and to this frame's console. */
(function () {
  "use strict";
  var root = document.querySelector("[data-kc-refused]");
  if (!root) { return; }
  var reason = root.getAttribute("data-reason") || "";
  var code = root.getAttribute("data-code") || "";
  if (window.parent === window) {
    console.warn("kore-chat: " + reason);
  } else {
    // Nothing secret: the page's own origin and the bot's name, which it already knows.
    window.parent.postMessage({ source: "kore-chat", type: "refused", code: code, reason: reason }, "*");
  }
  root.addEventListener("click", function (event) {
    if (event.target.closest("[data-kc-action='close']") && window.parent !== window) {
      window.parent.postMessage({ source: "kore-chat", type: "close" }, "*");
    }
  });
})();
