// icbt: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  // Keep the chosen text size between visits (patients with low energy or poor eyesight).
  var KEY = "icbt-font-scale";
  var stored = window.localStorage ? localStorage.getItem(KEY) : null;
  if (stored) document.documentElement.style.setProperty("--font-scale", stored);
  // Show, also to screen readers, which text size is on.
  function markChosen(value) {
    document.querySelectorAll("[data-font-scale]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-font-scale") === value ? "true" : "false");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { markChosen(stored || "1"); });
  } else {
    markChosen(stored || "1");
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-font-scale]");
    if (!button) return;
    var value = button.getAttribute("data-font-scale");
    document.documentElement.style.setProperty("--font-scale", value);
    if (window.localStorage) localStorage.setItem(KEY, value);
    markChosen(value);
  });
})();


// On a phone the tables of icbt.css stack each row into a short list, its first cell on top;
// every other cell then shows its column's heading beside it, so that "Yes" or "127.0.0.1"
// keeps its meaning without the header row.
(function () {
  "use strict";
  function label(table) {
    var headRow = table.tHead && table.tHead.rows[table.tHead.rows.length - 1];
    if (!headRow) return;
    var names = [];
    Array.prototype.forEach.call(headRow.cells, function (cell) {
      var shown = cell.cloneNode(true);  // a heading only for screen readers stays unseen here too
      shown.querySelectorAll(".visually-hidden").forEach(function (hidden) { hidden.remove(); });
      for (var i = 0; i < (cell.colSpan || 1); i++) names.push(shown.textContent.trim());
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var name = names[column];
          if (column > 0 && cell.tagName === "TD" && name && cell.colSpan < names.length && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", name);
          }
          column += cell.colSpan || 1;
        });
      });
    });
  }
  function labelAll() { document.querySelectorAll("table.table").forEach(label); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", labelAll);
  else labelAll();
})();


// A form sent back with errors: focus its error summary, or else the first field with an error,
// so that keyboard and screen-reader users land where the problem is instead of at the top of the
// page. Nothing moves when something already has focus (a page's own script chose it).
(function () {
  "use strict";
  function focusFirstError() {
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement) return;
    var main = document.getElementById("main") || document;
    var summary = main.querySelector("form [data-error-summary], form .error-summary[tabindex]");
    if (summary) { summary.focus(); return; }
    var field = main.querySelector(
      "form .field-error input:not([type=hidden]), form .field-error select, form .field-error textarea"
    );
    if (field) field.focus();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirstError);
  } else {
    focusFirstError();
  }
})();
