// Keeps "open for" durations ticking between server refreshes.
(function () {
  "use strict";
  function format(seconds) {
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600),
        m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + String(m).padStart(2, "0") + "m";
    if (m) return m + "m";
    return s + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-elapsed-since]").forEach(function (el) {
      var since = Date.parse(el.getAttribute("data-elapsed-since"));
      if (!isNaN(since)) el.textContent = format(Math.max(0, Math.floor((now - since) / 1000)));
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 15000);
})();

// Customer messages (comms.messages): the countdown to the next customer update.
(function () {
  "use strict";
  function format(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    if (h) return h + "h " + String(m).padStart(2, "0") + "m";
    if (m) return m + "m";
    return seconds + "s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown-to]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-countdown-to"));
      if (isNaN(due)) return;
      var left = Math.floor((due - now) / 1000);
      el.textContent = left >= 0 ? "due in " + format(left) : "overdue by " + format(-left);
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 15000);
})();

// --- Customers (comms/customers): filter a long checkbox list of customers as one types.
(function () {
  "use strict";
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-filter-choices]")) return;
    var box = document.querySelector(input.getAttribute("data-filter-choices"));
    if (!box) return;
    var needle = input.value.trim().toLowerCase();
    box.querySelectorAll("label").forEach(function (label) {
      var row = label.closest("div") || label;
      row.hidden = needle !== "" && label.textContent.toLowerCase().indexOf(needle) === -1;
    });
  });
})();

// Comms · SLA clocks: "3h 28m left of 4h" counts down between reloads of the panel and lists
// (data-sla-due: the due instant of an around-the-clock clock that runs).
(function () {
  "use strict";
  function human(seconds) {
    seconds = Math.abs(Math.floor(seconds));
    var d = Math.floor(seconds / 86400), h = Math.floor((seconds % 86400) / 3600),
        m = Math.floor((seconds % 3600) / 60);
    if (d) return h ? d + "d " + h + "h" : d + "d";
    if (h) return m ? h + "h " + m + "m" : h + "h";
    return m ? m + "m" : "<1m";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-sla-due]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("data-sla-due"));
      if (isNaN(due)) return;
      var left = (due - now) / 1000, total = Number(el.getAttribute("data-sla-seconds")) * 60;
      var level = "ok";
      if (left < 0) level = "breached";
      else if (left <= total * Number(el.getAttribute("data-sla-red")) / 100) level = "red";
      else if (left <= total * Number(el.getAttribute("data-sla-amber")) / 100) level = "amber";
      el.textContent = left < 0 ? "breached by " + human(-left)
        : human(left) + " left of " + el.getAttribute("data-sla-target");
      var row = el.closest("[data-sla-clock]") || el;
      Array.prototype.slice.call(row.classList).forEach(function (name) {
        if (name.indexOf("level-") === 0) row.classList.remove(name);
      });
      row.classList.add("level-" + level);
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 1000);
})();

// --- Time zones (accounts.timezones): tell the server the browser's zone, used until the person
// chooses one in their settings. A changed zone takes effect from the next page.
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!zone || !/^[A-Za-z0-9_+\-\/]+$/.test(zone)) return;  // IANA names need no escaping
  var current = (document.cookie.match(/(?:^|;\s*)relay_tz=([^;]*)/) || [])[1];
  if (current !== zone) {
    var secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = "relay_tz=" + zone +
      "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
  }
})();

// --- Relative times ("12 min ago") next to absolute ones, kept fresh between refreshes.
(function () {
  "use strict";
  function ago(seconds) {
    var future = seconds < 0, s = Math.abs(Math.floor(seconds)), text;
    if (s < 60) return future ? "in under a minute" : "just now";
    if (s >= 86400) text = Math.floor(s / 86400) + " d";
    else if (s >= 3600) text = Math.floor(s / 3600) + " h";
    else text = Math.floor(s / 60) + " min";
    return future ? "in " + text : text + " ago";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-ago]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-ago"));
      if (!isNaN(at)) el.textContent = ago((now - at) / 1000);
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);
  setInterval(tick, 30000);
})();

// --- Keep what a person is doing when a region is refreshed around them: the timeline poll and
// other people's changes re-render the incident header and action forms out of band, and panels
// reload. Values that differ from what the server rendered (text typed, an option picked, a
// <details> opened), and the focus with its caret, are carried into the new elements by id. A
// form the person submitted is answered fresh by the server and is not restored.
(function () {
  "use strict";
  function dirty(el) {
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") {
      return Array.prototype.some.call(el.options, function (o) {
        return o.selected !== o.defaultSelected;
      });
    }
    return el.value !== el.defaultValue;
  }
  function capture(region) {
    var state = { fields: {}, open: {}, focus: null };
    region.querySelectorAll("input[id], textarea[id], select[id]").forEach(function (el) {
      if (el.type === "hidden" || !dirty(el)) return;
      state.fields[el.id] = el.tagName === "SELECT"
        ? { options: Array.prototype.filter.call(el.options, function (o) { return o.selected; })
            .map(function (o) { return o.value; }) }
        : { value: el.value, checked: el.checked };
    });
    var details = region.matches("details[id]") ? [region] : [];
    details.concat(Array.prototype.slice.call(region.querySelectorAll("details[id]")))
      .forEach(function (d) { state.open[d.id] = d.open; });
    var active = document.activeElement;
    if (active && active.id && region.contains(active)) {
      state.focus = { id: active.id, start: active.selectionStart, end: active.selectionEnd };
    }
    return state;
  }
  function restore(state) {
    Object.keys(state.open).forEach(function (id) {
      var d = document.getElementById(id);
      if (d && d.tagName === "DETAILS" && state.open[id]) d.open = true;
    });
    Object.keys(state.fields).forEach(function (id) {
      var el = document.getElementById(id), saved = state.fields[id];
      if (!el) return;
      if (el.tagName === "SELECT") {
        var wanted = saved.options.filter(function (v) {
          return Array.prototype.some.call(el.options, function (o) { return o.value === v; });
        });
        if (wanted.length !== saved.options.length) return;  // the choice no longer exists
        Array.prototype.forEach.call(el.options, function (o) {
          o.selected = wanted.indexOf(o.value) !== -1;
        });
      } else if (el.type === "checkbox" || el.type === "radio") {
        el.checked = saved.checked;
      } else {
        el.value = saved.value;
      }
    });
    if (state.focus) {
      var el = document.getElementById(state.focus.id);
      if (el && document.activeElement !== el) {
        el.focus({ preventScroll: true });
        try { if (state.focus.start != null) el.setSelectionRange(state.focus.start, state.focus.end); }
        catch (e) { /* not a text field */ }
      }
    }
  }
  var oob = [], main = [];
  function inFlight(region) {
    return region.classList.contains("htmx-request") || !!region.querySelector(".htmx-request");
  }
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var region = event.detail.target;
    // A region whose own request is on its way is left alone: its answer brings the fresh state,
    // and replacing it now would leave that answer to land in a detached copy.
    if (inFlight(region)) { event.detail.shouldSwap = false; return; }
    oob.push(capture(region));
  });
  document.addEventListener("htmx:oobAfterSwap", function () {
    var states = oob; oob = [];
    states.forEach(restore);
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var config = event.detail.requestConfig || {};
    // A reload (GET) of a region keeps what was typed in it; a submitted form is answered fresh.
    if (config.verb === "get" && event.detail.target) main.push(capture(event.detail.target));
  });
  document.addEventListener("htmx:afterSwap", function () {
    var states = main; main = [];
    states.forEach(restore);
  });
})();

// --- The incident page: keyboard shortcuts (n note, u update, a acknowledge, s status,
// v severity, ? help), Ctrl+Enter sends the form being typed in, and the timeline stays scrolled
// to its newest entry unless the reader scrolled up.
(function () {
  "use strict";
  function page() { return document.querySelector(".incident-page"); }
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function focus(selector) {
    var el = document.querySelector(selector);
    if (!el) return false;
    var details = el.closest("details");
    if (details) details.open = true;
    el.focus();
    el.scrollIntoView({ block: "nearest" });
    return true;
  }
  function help(show) {
    var dialog = document.getElementById("shortcuts-help");
    if (!dialog || typeof dialog.showModal !== "function") return;
    if (show && !dialog.open) dialog.showModal();
    if (!show && dialog.open) dialog.close();
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) help(true);
  });
  document.addEventListener("keydown", function (event) {
    if (!page()) return;
    var target = event.target;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter" && typing(target) && target.form) {
      event.preventDefault();
      target.form.requestSubmit();
      return;
    }
    if (event.key === "Escape" && typing(target)) { target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(target)) return;
    var handled = true;
    switch (event.key) {
      case "n": handled = focus("#id_text"); break;
      case "u": handled = focus("#id_known"); break;
      case "s": handled = focus("#id_status"); break;
      case "v": handled = focus("#id_severity"); break;
      case "a":
        var button = document.getElementById("acknowledge-button");
        if (button) button.click(); else handled = false;
        break;
      case "?": help(true); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  function box() { return document.getElementById("timeline-scroll"); }
  var stick = true;
  document.addEventListener("scroll", function (event) {
    var el = box();
    if (el && event.target === el) stick = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  }, true);
  function follow() {
    var el = box();
    if (el && stick) el.scrollTop = el.scrollHeight;
  }
  document.addEventListener("DOMContentLoaded", follow);
  document.addEventListener("htmx:afterSettle", follow);
})();

// --- The status menu: "Yes, go back" shows only while a step back (or reopening) is chosen.
(function () {
  "use strict";
  function sync() {
    document.querySelectorAll("form[data-back-steps]").forEach(function (form) {
      var back = form.getAttribute("data-back-steps").split(" ");
      var select = form.querySelector("select[name=status]");
      var confirm = form.querySelector("label.confirm");
      if (!select || !confirm) return;
      var going = back.indexOf(select.value) !== -1;
      confirm.hidden = !going;
      if (!going) confirm.querySelector("input").checked = false;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("form[data-back-steps] select")) sync();
  });
  document.addEventListener("DOMContentLoaded", sync);
  document.addEventListener("htmx:afterSettle", sync);
  document.addEventListener("htmx:oobAfterSwap", function () { setTimeout(sync, 0); });
})();
