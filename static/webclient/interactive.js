/*
 * Wires the interactive parts of server-rendered messages (webclient/rendering) to
 * window.KoreChat.send(body). Loaded after chat.js; only delegated listeners on document,
 * so messages inserted later work without re-binding. The HTML contract:
 *
 *   button[data-kc-postback][data-kc-payload][data-kc-title]
 *       sends {postback: {payload, title}}; inside [data-kc-once] the container is
 *       removed after a successful send (quick replies disappear once used).
 *   form[data-kc-choice="select|multi|single|button|date|daterange|time|fields"]
 *       sends the choice as Kore's Web SDK does, as {postback: {payload, title}}:
 *       select  <select name=choice>: payload = value, title = option text
 *       multi   checkboxes name=choice (+data-kc-title): payload = data-kc-prefix +
 *               values joined by ",", title = prefix + titles joined by ","
 *       single  radios name=choice (+data-kc-title): payload = value, title = data-kc-title
 *       button  submit buttons name=choice value=… data-kc-title=…: the clicked one
 *       date    input[type=date][name=date], form data-kc-format (DD-MM-YYYY, MM-DD-YYYY,
 *               YYYY-MM-DD): the date in that format
 *       daterange  inputs name=from/to, data-kc-format, data-kc-delimiter: "a to b"
 *       time    input[type=time][name=time]: "hh:mm AM"
 *       fields  inputs with data-kc-label: the value(s); a password shows as dots
 *       errors go to [data-kc-choice-error]; after success the form is disabled.
 *   form[data-kc-form][data-kc-form-id] (Digital Forms), inputs named by componentId:
 *       submit sends {formData: {formId, data: [{componentId, input}…, {componentId:
 *       <submit button data-kc-component-id>, input: "Submit"}]}}; checkbox groups
 *       ([data-kc-multi]) send a list, toggles ([data-kc-toggle]) a boolean; the cancel
 *       button ([data-kc-form-cancel]) sends only its own entry with input "Cancel".
 *       A rejection {fields: {componentId: message}} fills [data-kc-error-for=id] and sets
 *       aria-invalid; other errors fill [data-kc-error-for=""]. Success makes it read-only.
 *   input[type=range]#id: on input, output#<id>-value shows its value.
 */
(function () {
  "use strict";
  var _ = window.gettext || function (s) { return s; };

  function send(body) {
    if (window.KoreChat && typeof window.KoreChat.send === "function") {
      return window.KoreChat.send(body);
    }
    // Without the widget (the rendering gallery) show what would be sent.
    var log = document.querySelector("[data-kc-gallery-log]");
    if (log) {
      log.textContent = JSON.stringify(body, null, 2);
    }
    return Promise.resolve(body);
  }

  function errorText(error) {
    return (error && error.message) || _("Sorry, that could not be sent. Please try again.");
  }

  function lock(container) {
    container.setAttribute("data-kc-used", "");
    container.querySelectorAll("button, input, select, textarea").forEach(function (el) {
      el.disabled = true;
    });
  }

  /* ---- postback buttons and quick replies ---- */

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-kc-postback]");
    if (!button || button.disabled) {
      return;
    }
    event.preventDefault();
    var once = button.closest("[data-kc-once]");
    var payload = button.getAttribute("data-kc-payload") || "";
    var title = button.getAttribute("data-kc-title") || button.textContent.trim();
    button.disabled = true;
    send({ postback: { payload: payload, title: title } }).then(
      function () {
        if (once) {
          once.remove();
        } else {
          button.disabled = false;
        }
      },
      function () {
        button.disabled = false;
      }
    );
  });

  /* ---- choice widgets ---- */

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function koreDate(iso, format) {
    var parts = (iso || "").split("-");
    if (parts.length !== 3) {
      return "";
    }
    var y = parts[0], m = parts[1], d = parts[2];
    if (format === "MM-DD-YYYY") {
      return m + "-" + d + "-" + y;
    }
    if (format === "YYYY-MM-DD") {
      return y + "-" + m + "-" + d;
    }
    return d + "-" + m + "-" + y;
  }

  function koreTime(value) {
    var parts = (value || "").split(":");
    if (parts.length < 2) {
      return "";
    }
    var hours = parseInt(parts[0], 10);
    var suffix = hours >= 12 ? "PM" : "AM";
    var twelve = hours % 12 === 0 ? 12 : hours % 12;
    return pad(twelve) + ":" + parts[1] + " " + suffix;
  }

  function titleOf(input) {
    if (input.getAttribute("data-kc-title")) {
      return input.getAttribute("data-kc-title");
    }
    var label = input.closest("label");
    return label ? label.textContent.trim() : input.value;
  }

  // The {payload, title} a choice form sends, or null when nothing is chosen yet.
  function choiceOf(form, submitter) {
    var kind = form.getAttribute("data-kc-choice");
    var format = form.getAttribute("data-kc-format") || "DD-MM-YYYY";
    if (kind === "button") {
      return submitter && submitter.value
        ? { payload: submitter.value, title: submitter.getAttribute("data-kc-title") || submitter.value }
        : null;
    }
    if (kind === "select") {
      var select = form.querySelector("select[name=choice]");
      var option = select && select.selectedOptions[0];
      return option && option.value ? { payload: option.value, title: option.textContent.trim() } : null;
    }
    if (kind === "single") {
      var radio = form.querySelector("input[name=choice]:checked");
      return radio ? { payload: radio.value, title: titleOf(radio) } : null;
    }
    if (kind === "multi") {
      var checked = Array.prototype.slice.call(form.querySelectorAll("input[name=choice]:checked"));
      if (!checked.length) {
        return null;
      }
      var prefix = form.getAttribute("data-kc-prefix") || "";
      return {
        payload: prefix + checked.map(function (c) { return c.value; }).join(","),
        title: prefix + checked.map(titleOf).join(","),
      };
    }
    if (kind === "date") {
      var day = koreDate(form.querySelector("input[name=date]").value, format);
      return day ? { payload: day, title: day } : null;
    }
    if (kind === "daterange") {
      var from = koreDate(form.querySelector("input[name=from]").value, format);
      var to = koreDate(form.querySelector("input[name=to]").value, format);
      var delimiter = form.getAttribute("data-kc-delimiter") || "to";
      var range = from + " " + delimiter + " " + to;
      return from && to ? { payload: range, title: range } : null;
    }
    if (kind === "time") {
      var time = koreTime(form.querySelector("input[name=time]").value);
      return time ? { payload: time, title: time } : null;
    }
    if (kind === "fields") {
      var inputs = Array.prototype.slice.call(form.querySelectorAll("input[data-kc-label]"));
      var filled = inputs.filter(function (i) { return i.value; });
      if (filled.length !== inputs.length || !inputs.length) {
        return null;
      }
      var several = inputs.length > 1;
      var shown = function (i) {
        var value = i.type === "password" ? "•".repeat(i.value.length) : i.value;
        return several ? i.getAttribute("data-kc-label") + ": " + value : value;
      };
      var sent = function (i) {
        return several ? i.getAttribute("data-kc-label") + ": " + i.value : i.value;
      };
      return { payload: inputs.map(sent).join(", "), title: inputs.map(shown).join(", ") };
    }
    return null;
  }

  function showChoiceError(form, message) {
    var slot = form.querySelector("[data-kc-choice-error]");
    if (slot) {
      slot.textContent = message;
    }
  }

  function onChoiceSubmit(event, form) {
    event.preventDefault();
    var choice = choiceOf(form, event.submitter);
    if (!choice) {
      showChoiceError(form, _("Please make a choice first."));
      return;
    }
    showChoiceError(form, "");
    lock(form);
    send({ postback: choice }).then(
      function () {
        form.setAttribute("data-kc-sent", "");
      },
      function (error) {
        form.querySelectorAll("button, input, select, textarea").forEach(function (el) {
          el.disabled = false;
        });
        form.removeAttribute("data-kc-used");
        showChoiceError(form, errorText(error));
      }
    );
  }

  /* ---- Digital Forms ---- */

  function formEntries(form) {
    var byName = {};
    var order = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.tagName === "BUTTON" || el.tagName === "FIELDSET") {
        return;
      }
      if (!(el.name in byName)) {
        order.push(el.name);
        byName[el.name] = el.hasAttribute("data-kc-multi") ? [] : "";
      }
      if (el.hasAttribute("data-kc-multi")) {
        if (el.checked) {
          byName[el.name].push(el.value);
        }
      } else if (el.hasAttribute("data-kc-toggle")) {
        byName[el.name] = el.checked;
      } else if (el.type === "radio") {
        if (el.checked) {
          byName[el.name] = el.value;
        }
      } else {
        byName[el.name] = el.value;
      }
    });
    return order.map(function (name) {
      return { componentId: name, input: byName[name] };
    });
  }

  function clearFormErrors(form) {
    form.querySelectorAll("[data-kc-error-for]").forEach(function (slot) {
      slot.textContent = "";
    });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
    });
  }

  function showFormErrors(form, error) {
    var fields = (error && error.fields) || {};
    var first = null;
    Object.keys(fields).forEach(function (componentId) {
      form.querySelectorAll("[data-kc-error-for]").forEach(function (slot) {
        if (slot.getAttribute("data-kc-error-for") === componentId) {
          slot.textContent = fields[componentId];
        }
      });
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name === componentId) {
          el.setAttribute("aria-invalid", "true");
          first = first || el;
        }
      });
    });
    if (!Object.keys(fields).length) {
      var general = form.querySelector('[data-kc-error-for=""]');
      if (general) {
        general.textContent = errorText(error);
      }
    }
    if (first) {
      first.focus();
    }
  }

  function onFormSubmit(event, form) {
    event.preventDefault();
    var submitter = event.submitter;
    var cancel = submitter && submitter.hasAttribute("data-kc-form-cancel");
    var data;
    if (cancel) {
      data = [{ componentId: submitter.getAttribute("data-kc-component-id"), input: "Cancel" }];
    } else {
      var button = form.querySelector("[data-kc-form-submit]");
      var submitId = button ? button.getAttribute("data-kc-component-id") : "";
      data = formEntries(form);
      if (submitId) {
        data.push({ componentId: submitId, input: "Submit" });
      }
    }
    clearFormErrors(form);
    var body = form.querySelector(".kc-form-body") || form;
    body.disabled = true;
    form.setAttribute("aria-busy", "true");
    send({ formData: { formId: form.getAttribute("data-kc-form-id"), data: data } }).then(
      function () {
        form.removeAttribute("aria-busy");
        form.setAttribute("data-kc-submitted", cancel ? "cancelled" : "submitted");
      },
      function (error) {
        form.removeAttribute("aria-busy");
        body.disabled = false;
        showFormErrors(form, error);
      }
    );
  }

  /* ---- a range slider shows its value in the <output id="<its id>-value"> ---- */

  document.addEventListener("input", function (event) {
    var input = event.target;
    var output = input.type === "range" && document.getElementById(input.id + "-value");
    if (output) {
      output.textContent = input.value;
    }
  });

  /* ---- carousels: arrows on either side while cards overflow, by mouse or keyboard ---- */

  var ARROW = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="m15 5-7 7 7 7"/></svg>';

  function arrow(carousel, direction) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "kc-carousel-arrow kc-carousel-" + direction;
    button.setAttribute("aria-label", direction === "prev" ? _("Previous cards") : _("Next cards"));
    button.setAttribute("aria-controls", carousel.id);
    button.innerHTML = direction === "prev" ? ARROW : ARROW.replace("m15 5-7 7 7 7", "m9 5 7 7-7 7");
    button.addEventListener("click", function () {
      var card = carousel.querySelector(".kc-card");
      var step = card ? card.getBoundingClientRect().width + 8 : carousel.clientWidth * 0.8;
      // scrollLeft runs negative in right-to-left layouts: "next" is toward the end.
      var sign = getComputedStyle(carousel).direction === "rtl" ? -1 : 1;
      carousel.scrollBy({ left: (direction === "prev" ? -step : step) * sign, behavior: "smooth" });
    });
    return button;
  }

  function updateArrows(frame, carousel) {
    var room = carousel.scrollWidth - carousel.clientWidth;
    var done = Math.abs(carousel.scrollLeft);
    var before = room > 1 && done > 1;
    var after = room > 1 && done < room - 1;
    frame.querySelector(".kc-carousel-prev").hidden = !before;
    frame.querySelector(".kc-carousel-next").hidden = !after;
    frame.toggleAttribute("data-kc-more-before", before);
    frame.toggleAttribute("data-kc-more-after", after);
  }

  var carousels = 0;
  function wireCarousels(scope) {
    scope.querySelectorAll(".kc-carousel:not([data-kc-arrows])").forEach(function (carousel) {
      carousel.setAttribute("data-kc-arrows", "");
      carousel.id = carousel.id || "kc-carousel-" + (++carousels);
      var frame = document.createElement("div");
      frame.className = "kc-carousel-frame";
      carousel.parentNode.insertBefore(frame, carousel);
      frame.appendChild(arrow(carousel, "prev"));
      frame.appendChild(carousel);
      frame.appendChild(arrow(carousel, "next"));
      var update = function () { updateArrows(frame, carousel); };
      carousel.addEventListener("scroll", update, { passive: true });
      if (window.ResizeObserver) { new ResizeObserver(update).observe(carousel); }
      update();
    });
  }
  document.addEventListener("kore-chat:message", function (event) {
    wireCarousels(event.detail.element);
  });
  wireCarousels(document);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    if (form.hasAttribute("data-kc-form")) {
      onFormSubmit(event, form);
    } else if (form.hasAttribute("data-kc-choice")) {
      onChoiceSubmit(event, form);
    }
  });
})();
