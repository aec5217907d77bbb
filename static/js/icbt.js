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

