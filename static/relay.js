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
