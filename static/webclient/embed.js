/* Embed the chat on any page:
 *   <script src="https://chat.example.com/static/webclient/embed.js" data-bot="demo" defer></script>
 * Verified bots also take data-identity and data-identity-hash (HMAC-SHA256 of the identity
 * with the bot's identity secret, computed by the site's backend, never in the browser).
 * The widget runs in an iframe served by the relay, so the host page's styles and scripts
 * cannot reach it, and its API calls stay same-origin. The relay's frame-ancestors policy
 * decides which sites may embed it.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var origin = new URL(script.src).origin;
  var bot = script.getAttribute("data-bot") || "";
  // For bots in verified mode: the user's id and its HMAC, computed by the site's backend.
  var identity = script.getAttribute("data-identity") || "";
  var identityHash = script.getAttribute("data-identity-hash") || "";
  var label = script.getAttribute("data-label") || "Chat with us";

  var button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.setAttribute("aria-expanded", "false");
  button.style.cssText = "position:fixed;right:1rem;bottom:1rem;z-index:2147483646;padding:.75rem 1rem;" +
    "border:0;border-radius:2rem;background:#1f5fbf;color:#fff;font:inherit;cursor:pointer;";

  var frame = document.createElement("iframe");
  frame.title = label;
  var query = "?bot=" + encodeURIComponent(bot);
  if (identity && identityHash) {
    query += "&identity=" + encodeURIComponent(identity) + "&identityHash=" + encodeURIComponent(identityHash);
  }
  frame.src = origin + "/" + query;
  frame.hidden = true;
  frame.style.cssText = "position:fixed;right:1rem;bottom:4.5rem;z-index:2147483647;width:min(24rem,calc(100vw - 2rem));" +
    "height:min(36rem,calc(100vh - 6rem));border:0;border-radius:.75rem;box-shadow:0 8px 24px rgba(0,0,0,.25);background:#fff;";

  button.addEventListener("click", function () {
    frame.hidden = !frame.hidden;
    button.setAttribute("aria-expanded", String(!frame.hidden));
    if (!frame.hidden) { frame.focus(); }
  });
  document.body.appendChild(frame);
  document.body.appendChild(button);
})();
