// icbt patient pages: the worked example beside the form on wide screens. Progressive
// enhancement only. What a patient types is kept by drafts.js.
(function () {
  "use strict";

  // --- The worked example: open beside the form on wide screens ---------------------------
  if (window.matchMedia) {
    var wide = window.matchMedia("(min-width: 62rem)");
    var openWide = function () {
      if (wide.matches) document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
    };
    openWide();
    if (wide.addEventListener) wide.addEventListener("change", openWide);
  }
})();
