/*
 * The Digital Form page that Kore's Web SDK shows in its iframe (webclient/kore_sdk/views.py,
 * /kore/forms/<signed>). interactive.js wires the form and calls window.KoreChat.send with
 * {formData}; here that POSTs to this page's own signed address. A refusal comes back as
 * {fields} for interactive.js to show; success replaces the form with its read-only summary.
 */
(function () {
  "use strict";

  function send(body) {
    return fetch(window.location.pathname, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (!response.ok) {
          var error = (answer && answer.error) || {};
          throw { message: error.message, fields: error.fields };
        }
        var main = document.querySelector("[data-kc-sdk-form]");
        if (main && answer.html) {
          main.innerHTML = answer.html;
          main.setAttribute("data-kc-submitted", "");
        }
        return answer;
      });
    });
  }

  window.KoreChat = { send: send };
})();
