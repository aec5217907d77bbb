// icbt: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  // Keep the chosen text size between visits (patients with low energy or poor eyesight).
  var KEY = "icbt-font-scale";
  var stored = window.localStorage ? localStorage.getItem(KEY) : null;
  if (stored) document.documentElement.style.setProperty("--font-scale", stored);
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-font-scale]");
    if (!button) return;
    var value = button.getAttribute("data-font-scale");
    document.documentElement.style.setProperty("--font-scale", value);
    if (window.localStorage) localStorage.setItem(KEY, value);
  });
})();
