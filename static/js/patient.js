// icbt patient pages: assignment drafts that save as the patient types, and the worked example
// beside the form on wide screens. Progressive enhancement only: without this file the form
// still has "Hand in" and "Save and finish later" buttons that work.
//
// "Nothing a patient wrote is lost": every change is first kept in this browser (localStorage),
// then posted to the server 1.5 s after the last keystroke. The browser copy is removed only
// when the server has confirmed the save. When the page loads and the browser holds a copy
// that the server never confirmed (a lost connection, a closed tab), it is put back into the
// form and saved again.
(function () {
  "use strict";

  var DELAY = 1500;
  var PREFIX = "icbt-draft:";
  var store = null;
  try {
    store = window.localStorage;
    store.setItem(PREFIX + "test", "1");
    store.removeItem(PREFIX + "test");
  } catch (e) {
    store = null; // private mode or storage switched off: the server save still works
  }

  function readLocal(key) {
    if (!store) return null;
    try { return JSON.parse(store.getItem(key) || "null"); } catch (e) { return null; }
  }

  // --- The worked example: open beside the form on wide screens ---------------------------
  if (window.matchMedia) {
    var wide = window.matchMedia("(min-width: 62rem)");
    var openWide = function () {
      if (wide.matches) document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
    };
    openWide();
    if (wide.addEventListener) wide.addEventListener("change", openWide);
  }

  // --- Autosave ------------------------------------------------------------------------------
  document.querySelectorAll("[data-autosave]").forEach(function (box) {
    var form = box.querySelector("form");
    if (!form || !window.fetch || !window.FormData) return;
    var url = box.getAttribute("data-autosave-url");
    var key = PREFIX + box.getAttribute("data-autosave-key");
    var serverSavedAt = box.getAttribute("data-server-saved-at") || "";
    var loadedAt = box.getAttribute("data-loaded-at") || "";
    var status = box.querySelector("[data-autosave-status]");
    var labels = {
      saved: box.getAttribute("data-label-saved"),
      saving: box.getAttribute("data-label-saving"),
      offline: box.getAttribute("data-label-offline"),
      restored: box.getAttribute("data-label-restored")
    };
    var timer = null;
    var inFlight = false;
    var again = false;
    var submitting = false;
    var note = ""; // "we put back what you typed", kept in view until the next save is confirmed

    function serialize() {
      var pairs = [];
      new FormData(form).forEach(function (value, name) {
        if (name !== "csrfmiddlewaretoken" && name !== "action") pairs.push([name, String(value)]);
      });
      return pairs;
    }

    function restore(pairs) {
      var byName = {};
      pairs.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]); });
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.name === "csrfmiddlewaretoken" || el.type === "submit" || el.type === "button" ||
            el.type === "hidden") return;
        var values = byName[el.name] || [];
        if (el.type === "radio" || el.type === "checkbox") el.checked = values.indexOf(el.value) !== -1;
        else el.value = values.length ? values[0] : "";
      });
      // Let the energy-points counter (programs.js) count again.
      form.querySelectorAll("input[data-energy-points]").forEach(function (input) {
        input.dispatchEvent(new Event("change"));
      });
    }

    function say(text) { if (status) status.textContent = note + text; }

    function keepLocal() {
      if (!store) return;
      try {
        store.setItem(key, JSON.stringify({ base: serverSavedAt, savedAt: Date.now(), data: serialize() }));
      } catch (e) { /* storage full: the server save still runs */ }
    }

    function csrfToken() {
      var input = form.querySelector("input[name=csrfmiddlewaretoken]");
      return input ? input.value : "";
    }

    function save() {
      if (submitting) return;
      if (inFlight) { again = true; return; }
      inFlight = true;
      say(labels.saving);
      var sent = JSON.stringify(serialize());
      var body = new FormData(form);
      body.delete("action");
      body.append("loaded_at", loadedAt);
      fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
      }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      }).then(function (data) {
        if (data.saved_at) serverSavedAt = data.saved_at;
        // Confirmed: the browser copy is no longer needed, unless the patient typed more meanwhile.
        var local = readLocal(key);
        if (store && local && JSON.stringify(local.data) === sent) store.removeItem(key);
        if (data.saved_at_display) say(labels.saved + " " + data.saved_at_display);
        note = "";
      }).catch(function () {
        say(labels.offline); // the browser copy stays; the next change tries again
      }).then(function () {
        inFlight = false;
        if (again) { again = false; save(); }
      });
    }

    function changed() {
      keepLocal();
      window.clearTimeout(timer);
      timer = window.setTimeout(save, DELAY);
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", function () {
      // The normal submit takes over; the browser copy stays until the handed-in answer is shown.
      submitting = true;
      window.clearTimeout(timer);
      keepLocal();
    });

    // A copy in this browser that the server never confirmed: put it back.
    var local = readLocal(key);
    if (local && local.data) {
      var serverTime = serverSavedAt ? Date.parse(serverSavedAt) : 0;
      var notOlder = local.base === serverSavedAt || !serverTime || local.savedAt > serverTime;
      if (notOlder && JSON.stringify(local.data) !== JSON.stringify(serialize())) {
        restore(local.data);
        note = labels.restored + " ";
        save();
      } else if (store) {
        store.removeItem(key);
      }
    }
  });

  // --- A page that shows a handed-in answer ---------------------------------------------------
  document.querySelectorAll("[data-draft-done]").forEach(function (el) {
    var key = PREFIX + el.getAttribute("data-draft-done");
    var local = readLocal(key);
    if (!local) return;
    var submittedAt = Date.parse(el.getAttribute("data-submitted-at") || "") || 0;
    if (local.savedAt > submittedAt + 5000) {
      // Changes made after handing in that never reached the server: offer them.
      var notice = el.querySelector("[data-unsent-notice]");
      if (notice) notice.hidden = false;
    } else if (store) {
      store.removeItem(key);
    }
  });
})();
