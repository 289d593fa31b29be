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
