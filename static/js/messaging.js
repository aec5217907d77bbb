// icbt messaging: templates inserted where the cursor is. Every page works without this file:
// forms post normally and "Save draft" is a real button. Drafts save themselves through
// drafts.js (the composer carries data-autosave); an inserted template counts as typing.
(function () {
  "use strict";

  function setupTemplates(form) {
    var button = form.querySelector("[data-template-insert]");
    var select = form.querySelector('select[name="template"]');
    var body = form.querySelector("[data-draft-body]");
    if (!button || !select || !body) return;
    button.addEventListener("click", function (event) {
      var source = document.querySelector('template[data-template-id="' + select.value + '"]');
      if (!source) return; // nothing chosen: let the server say so
      event.preventDefault();
      var insert = source.content ? source.content.textContent : source.textContent;
      var start = body.selectionStart || 0;
      var end = body.selectionEnd || 0;
      var before = body.value.slice(0, start);
      var after = body.value.slice(end);
      if (before && !/\n\n$/.test(before)) insert = (/\n$/.test(before) ? "\n" : "\n\n") + insert;
      body.value = before + insert + after;
      var caret = (before + insert).length;
      body.focus();
      body.setSelectionRange(caret, caret);
      body.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-draft-form]"), function (form) {
      setupTemplates(form);
    });
    // A message that was not sent: focus its error summary at the top (as the diary form does),
    // so a phone shows it and a screen reader reads it; its link leads to the kept text.
    var summary = document.querySelector("[data-error-summary]");
    if (summary) summary.focus();
  });
})();
