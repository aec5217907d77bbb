// icbt: the warning before an idle sign-out (patients). The server ends the session after the
// idle time (icbt.middleware.IdleTimeoutMiddleware); this script only warns shortly before and
// offers "Stay signed in", which posts to the keep-alive URL without leaving the page.
// When the time is up it dispatches "icbt:idle-signout" on document (clean-up code can listen)
// and reloads the page, so the server's ordinary sign-out runs and shows the sign-in page.
(function () {
  "use strict";
  var box = document.getElementById("idle-warning");
  if (!box) { return; }
  var idle = parseInt(box.getAttribute("data-idle-seconds"), 10);
  var warn = parseInt(box.getAttribute("data-warn-seconds"), 10);
  if (!(idle > 0)) { return; }
  var form = box.querySelector("form");
  var countdown = box.querySelector("[data-idle-countdown]");
  var stay = box.querySelector("[data-idle-stay]");
  var deadline = 0;
  var timer = null;
  var previousFocus = null;

  function minutesText(seconds) {
    var minutes = Math.max(1, Math.ceil(seconds / 60));
    if (minutes === 1) { return box.getAttribute("data-label-minutes-one"); }
    return box.getAttribute("data-label-minutes-many").replace("{n}", String(minutes));
  }

  function start() {
    deadline = Date.now() + idle * 1000;
    box.hidden = true;
    if (timer) { window.clearInterval(timer); }
    timer = window.setInterval(tick, 1000);
  }

  function tick() {
    var left = (deadline - Date.now()) / 1000;
    if (left <= -5) {
      window.clearInterval(timer);
      document.dispatchEvent(new CustomEvent("icbt:idle-signout"));
      window.location.reload();
      return;
    }
    if (left <= warn) {
      countdown.textContent = minutesText(Math.max(left, 0));
      if (box.hidden) {
        box.hidden = false;
        previousFocus = document.activeElement;
        stay.focus();
      }
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    request.onload = function () {
      if (request.status === 204) {
        start();
        if (previousFocus && previousFocus.focus) { previousFocus.focus(); }
      } else {
        window.location.reload();
      }
    };
    request.send(new FormData(form));
  });

  box.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { form.requestSubmit ? form.requestSubmit() : stay.click(); }
  });

  start();
})();
