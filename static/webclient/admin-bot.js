/* The bot page's buttons: reveal and copy the POST_URL, copy the webhook URL, check the
   connection. The POST_URL carries a secret: it is fetched (POST, CSRF-checked, audited)
   only when asked for, never put in the page. */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  async function post(url) {
    var res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    });
    if (!res.ok) { throw new Error("HTTP " + res.status); }
    return res.json();
  }

  async function reveal(holder) {
    var code = holder.querySelector("[data-kc-url]");
    var button = holder.querySelector("[data-kc-reveal]");
    if (button && !holder.hasAttribute("data-kc-revealed")) {
      code.textContent = (await post(button.getAttribute("data-kc-reveal"))).url;
      holder.setAttribute("data-kc-revealed", "");
      button.textContent = "Hide";
    }
    return code.textContent;
  }

  document.addEventListener("click", async function (event) {
    var target = event.target;
    if (!(target instanceof HTMLElement)) { return; }
    var holder = target.closest(".kc-admin-url");
    if (!holder) { return; }
    try {
      if (target.hasAttribute("data-kc-reveal")) {
        if (holder.hasAttribute("data-kc-revealed")) {
          window.location.reload();  /* hide: the masked value comes back from the server */
        } else {
          await reveal(holder);
        }
      } else if (target.hasAttribute("data-kc-copy")) {
        await navigator.clipboard.writeText(await reveal(holder));
        target.textContent = "Copied";
        setTimeout(function () { target.textContent = "Copy"; }, 1500);
      } else if (target.hasAttribute("data-kc-check")) {
        var output = holder.parentElement.querySelector("[data-kc-result]");
        output.className = "kc-admin-result";
        output.textContent = "Checking…";
        var result = await post(target.getAttribute("data-kc-check"));
        output.classList.add(result.ok ? "kc-ok" : "kc-fail");
        output.textContent = result.summary + " (" + result.method + " " + result.url +
          (result.status ? ", HTTP " + result.status : "") + ", " + result.elapsed_ms + " ms)";
      }
    } catch (error) {
      window.alert("That did not work: " + error.message);
    }
  });
})();
