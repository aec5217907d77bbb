// icbt messaging: drafts that save themselves, and templates inserted where the cursor is.
// Every page works without this file: forms post normally and "Save draft" is a real button.
//
// Drafts: while the author types, the text (and the chosen items) is kept in localStorage at
// once and sent to the draft endpoint after a short pause. The local copy is removed only when
// the server has confirmed it, so a lost connection or a closed tab loses nothing. On load, a
// local copy newer than the server's draft and than the author's last sent message is restored.
(function () {
  "use strict";

  var DELAY_MS = 1500;
  var storage = null;
  try {
    storage = window.localStorage;
    storage.setItem("icbt-probe", "1");
    storage.removeItem("icbt-probe");
  } catch (e) {
    storage = null;
  }

  function text(id, fallback) {
    var node = document.getElementById(id);
    return node ? node.textContent : fallback;
  }

  function stamp(value) {
    var time = value ? Date.parse(value) : NaN;
    return isNaN(time) ? 0 : time;
  }

  function chosenItems(form) {
    var boxes = document.querySelectorAll('input[name="attach"][form="' + form.id + '"]:checked, #' +
      form.id + ' input[name="attach"]:checked');
    var values = [];
    Array.prototype.forEach.call(boxes, function (box) {
      if (values.indexOf(box.value) === -1) values.push(box.value);
    });
    return values;
  }

  function setupDraft(form) {
    var body = form.querySelector("[data-draft-body]");
    var status = form.querySelector("[data-draft-status]");
    var url = form.getAttribute("data-draft-url");
    var key = form.getAttribute("data-draft-key");
    var csrf = form.querySelector('input[name="csrfmiddlewaretoken"]');
    if (!body || !url || !key || !window.fetch) return;
    var timer = null;
    var sending = false;
    var again = false;
    // Local copies are stamped in server time, so they compare with the server's stamps
    // whatever this device's clock says.
    var serverNow = stamp(form.getAttribute("data-server-now"));
    var skew = serverNow ? Date.now() - serverNow : 0;

    function say(message) {
      if (status) status.textContent = message;
    }

    function keepLocally() {
      if (!storage) return;
      try {
        storage.setItem(key, JSON.stringify({ body: body.value, items: chosenItems(form), at: Date.now() - skew }));
      } catch (e) { /* storage full or blocked: the server copy still follows */ }
    }

    function save() {
      timer = null;
      if (sending) { again = true; return; }
      sending = true;
      var sentBody = body.value;
      var data = new FormData();
      data.append("csrfmiddlewaretoken", csrf ? csrf.value : "");
      data.append("body", sentBody);
      chosenItems(form).forEach(function (value) { data.append("attach", value); });
      fetch(url, {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (payload) { return { ok: response.ok, payload: payload }; });
      }).then(function (result) {
        if (result.ok && result.payload.saved) {
          if (storage && body.value === sentBody) storage.removeItem(key);
          var at = new Date();
          say(text("draft-saved-text", "Saved") + " " + at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
        } else {
          say(result.payload.error || text("draft-failed-text", "Not saved yet. Your text is kept on this device."));
        }
      }).catch(function () {
        say(text("draft-failed-text", "Not saved yet. Your text is kept on this device."));
      }).then(function () {
        sending = false;
        if (again) { again = false; schedule(); }
      });
    }

    function schedule() {
      keepLocally();
      if (timer) window.clearTimeout(timer);
      timer = window.setTimeout(save, DELAY_MS);
    }

    // Restore a local copy the server never confirmed.
    if (storage) {
      var raw = storage.getItem(key);
      var local = null;
      try { local = raw ? JSON.parse(raw) : null; } catch (e) { local = null; }
      var serverTime = Math.max(stamp(form.getAttribute("data-draft-saved-at")),
        stamp(form.getAttribute("data-last-sent-at")));
      if (local && local.at > serverTime && local.body && local.body !== body.value) {
        body.value = local.body;
        (local.items || []).forEach(function (value) {
          var box = document.querySelector('input[name="attach"][value="' + value.replace(/"/g, "") + '"]');
          if (box) box.checked = true;
        });
        say(text("draft-restored-text", "Your unsaved text has been restored."));
        schedule();
      } else if (local) {
        storage.removeItem(key);
      }
    }

    body.addEventListener("input", schedule);
    document.addEventListener("change", function (event) {
      if (event.target.name === "attach") schedule();
    });
    form.addEventListener("submit", function () {
      if (timer) window.clearTimeout(timer);
      keepLocally();
    });
  }

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
      setupDraft(form);
      setupTemplates(form);
    });
  });
})();
