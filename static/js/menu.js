// The menu button on narrow screens: a disclosure for the main navigation. Without this script
// the button stays hidden and the links stay in view. Loaded right after the header and not
// deferred, so that the links fold before the first paint and the page does not jump.
(function () {
  "use strict";
  function setUp() {
    var header = document.querySelector("[data-site-header]");
    var button = header && header.querySelector("[data-menu-button]");
    var nav = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!nav) return;
    function setOpen(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) nav.removeAttribute("data-closed");
      else nav.setAttribute("data-closed", "");
    }
    header.classList.add("has-menu");
    button.hidden = false;
    setOpen(false);
    button.addEventListener("click", function () {
      setOpen(button.getAttribute("aria-expanded") !== "true");
    });
    header.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        button.focus();
      }
    });
  }
  setUp();
})();
