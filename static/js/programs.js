// icbt programs: read-aloud and the energy-points counter. Progressive enhancement only:
// every step works without this file (the server checks the points budget too).
(function () {
  "use strict";

  // --- Read aloud (the browser's own speech synthesis; nothing leaves the device) ---------
  var synth = window.speechSynthesis;
  var canSpeak = !!(synth && window.SpeechSynthesisUtterance);

  function textOf(element) {
    // Read what a sighted reader sees: the text, without form controls and hidden parts.
    var clone = element.cloneNode(true);
    clone.querySelectorAll("input, select, textarea, button, form, [hidden], [aria-hidden='true'], .visually-hidden")
      .forEach(function (node) { node.remove(); });
    return (clone.innerText || clone.textContent || "").replace(/\s+/g, " ").trim();
  }

  function setState(button, speaking) {
    button.setAttribute("aria-pressed", speaking ? "true" : "false");
    button.textContent = button.getAttribute(speaking ? "data-label-stop" : "data-label-start");
  }

  document.querySelectorAll("[data-read-aloud]").forEach(function (button) {
    if (!canSpeak) return; // stays hidden
    button.hidden = false;
    button.addEventListener("click", function () {
      if (synth.speaking || synth.pending) {
        synth.cancel();
        setState(button, false);
        return;
      }
      var target = document.getElementById(button.getAttribute("data-read-aloud"));
      if (!target) return;
      var title = document.getElementById("step-title");
      var text = (title ? textOf(title) + ". " : "") + textOf(target);
      var utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = button.getAttribute("data-lang") || document.documentElement.lang || "en";
      utterance.rate = 0.95;
      utterance.onend = utterance.onerror = function () { setState(button, false); };
      setState(button, true);
      synth.speak(utterance);
    });
  });
  window.addEventListener("pagehide", function () { if (canSpeak) synth.cancel(); });

  // --- Energy points: a live "points left" counter -----------------------------------------
  document.querySelectorAll("[data-energy-group]").forEach(function (group) {
    var name = group.getAttribute("data-energy-group");
    var budget = parseInt(group.getAttribute("data-budget"), 10) || 0;
    var output = group.querySelector("[data-energy-remaining='" + name + "']");
    if (!output) return;
    var label = output.querySelector("[data-energy-label]");
    var count = output.querySelector("[data-energy-count]");
    var inputs = group.querySelectorAll("input[data-energy-points='" + name + "']");
    var timer = null;

    function update() {
      var used = 0;
      inputs.forEach(function (input) {
        var value = parseInt(input.value, 10);
        if (!isNaN(value) && value > 0) used += value;
      });
      var left = budget - used;
      var over = left < 0;
      output.classList.toggle("over", over);
      label.textContent = output.getAttribute(over ? "data-label-over" : "data-label-left");
      count.textContent = String(Math.abs(left));
    }

    inputs.forEach(function (input) {
      input.addEventListener("input", function () {
        // Update at once for the eye; the live region announces the settled value.
        window.clearTimeout(timer);
        timer = window.setTimeout(update, 250);
      });
      input.addEventListener("change", update);
    });
    update();
  });

  // --- Move focus to the error summary after a failed submit -------------------------------
  var summary = document.querySelector(".step-form .error-summary");
  if (summary) summary.focus();
})();
