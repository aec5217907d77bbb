// icbt drafts: what a person types is kept on this device until the server has it. The one
// implementation of local copies and autosave for every form (patients' assignments, diaries,
// check-ins and questionnaires; the message box). Progressive enhancement only: without this
// file every form posts normally.
//
// Shared devices: a copy is keyed by the signed-in person's opaque owner value (the
// <meta name="icbt-draft-owner"> the server puts on signed-in pages; never an e-mail address or
// a name) and stores that owner inside, so it is put back only for the person who typed it.
// A signed-in page forgets every copy of anyone else, signing out forgets them all, and the
// server also sends Clear-Site-Data when a session ends (icbt/client_storage.py).
//
// Two ways to keep a form:
// - <form data-keep-local="SCOPE">: a copy on every change and at submit; the server confirms
//   it by redirecting after the save (the copy's id comes back in the owner meta's data-saved).
//   A copy the server never confirmed (a lost connection, a database outage) is put back into
//   the form when the page opens again, with a notice; it is never sent without the person
//   pressing the button. SCOPE names what the form belongs to (the enrollment's id).
// - <div data-autosave data-autosave-url=... data-autosave-key=...> around a form: the same
//   copy, and a draft posted to the server 1.5 s after the last change (assignments, messages).
(function () {
  "use strict";

  var PREFIX = "icbt-draft:";
  var COPY_FIELD = "icbt_local_copy";
  var DELAY = 1500;
  var meta = document.querySelector('meta[name="icbt-draft-owner"]');
  var owner = meta ? meta.getAttribute("content") || "" : "";
  var store = null;
  try {
    store = window.localStorage;
    store.setItem(PREFIX + "probe", "1");
    store.removeItem(PREFIX + "probe");
  } catch (e) {
    store = null; // private mode or storage switched off: the forms still post
  }

  function keyFor(name) { return PREFIX + owner + ":" + name; }

  function read(key) {
    if (!store || !owner) return null;
    var value = null;
    try { value = JSON.parse(store.getItem(key) || "null"); } catch (e) { return null; }
    if (value && value.owner === owner) return value;
    if (value) remove(key); // another person's copy is never used
    return null;
  }

  function write(key, value) {
    if (!store || !owner) return;
    value.owner = owner;
    try { store.setItem(key, JSON.stringify(value)); } catch (e) { /* storage full: the server save still runs */ }
  }

  function remove(key) { if (store) store.removeItem(key); }

  function draftKeys() {
    var keys = [];
    if (!store) return keys;
    for (var i = 0; i < store.length; i++) {
      var key = store.key(i);
      if (key && key.indexOf("icbt-draft") === 0) keys.push(key);
    }
    return keys;
  }

  function forgetAll() { draftKeys().forEach(remove); }

  // --- Clean-up ------------------------------------------------------------------------------
  if (store && owner) {
    var mine = keyFor("");
    draftKeys().forEach(function (key) { if (key.indexOf(mine) !== 0) remove(key); });
    var saved = (meta.getAttribute("data-saved") || "").split(/\s+/).filter(Boolean);
    if (saved.length) {
      draftKeys().forEach(function (key) {
        var copy = read(key);
        if (copy && copy.sent && saved.indexOf(copy.sent) !== -1 && JSON.stringify(copy.data) === copy.sentData) remove(key);
      });
    }
  }
  document.addEventListener("submit", function (event) {
    if (event.target.hasAttribute("data-sign-out")) forgetAll();
  });

  // --- Reading and filling a form --------------------------------------------------------------
  function skipped(name, type) {
    return !name || name === "csrfmiddlewaretoken" || name === "action" || name === COPY_FIELD || type === "hidden";
  }

  function serialize(form) {
    var pairs = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (skipped(el.name, el.type) || el.disabled || el.type === "submit" || el.type === "button" || el.type === "file") return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      if (el.type === "select-multiple") {
        Array.prototype.forEach.call(el.options, function (o) { if (o.selected) pairs.push([el.name, o.value]); });
        return;
      }
      pairs.push([el.name, String(el.value)]);
    });
    return pairs;
  }

  function fill(form, pairs) {
    var byName = {};
    pairs.forEach(function (pair) { (byName[pair[0]] = byName[pair[0]] || []).push(pair[1]); });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (skipped(el.name, el.type) || el.type === "submit" || el.type === "button" || el.type === "file") return;
      var values = byName[el.name] || [];
      if (el.type === "radio" || el.type === "checkbox") el.checked = values.indexOf(el.value) !== -1;
      else if (el.type === "select-multiple") {
        Array.prototype.forEach.call(el.options, function (o) { o.selected = values.indexOf(o.value) !== -1; });
      } else el.value = values.length ? values[0] : "";
    });
    // Let counters (the energy points in programs.js) count again.
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.hasAttribute && el.hasAttribute("data-energy-points")) el.dispatchEvent(new Event("change"));
    });
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function randomId() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function formPath(form) {
    var action = form.getAttribute("action") || "";
    try { return new URL(action || window.location.href, window.location.href).pathname; } catch (e) { return window.location.pathname; }
  }

  // The id the server hands back (icbt/client_storage.py) once it saved what this submit sends.
  function markSent(form) {
    var id = randomId();
    var field = form.querySelector('input[name="' + COPY_FIELD + '"]');
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = COPY_FIELD;
      form.appendChild(field);
    }
    field.value = id;
    return id;
  }

  // --- Forms kept on this device until the server confirms -------------------------------------
  function showNotice(form, onDiscard) {
    var source = document.getElementById("icbt-local-copy-notice");
    if (!source || !source.content) return;
    var notice = source.content.firstElementChild.cloneNode(true);
    form.parentNode.insertBefore(notice, form);
    var button = notice.querySelector("[data-local-copy-discard]");
    if (button) {
      button.addEventListener("click", function () {
        onDiscard();
        notice.remove();
        var first = form.querySelector("input:not([type=hidden]), textarea, select");
        if (first) first.focus();
      });
    }
  }

  function keepLocal(form) {
    if (form.closest("[data-autosave]")) return; // the autosave keeps its own copy
    var key = keyFor("form:" + form.getAttribute("data-keep-local") + ":" + formPath(form));
    var fromServer = serialize(form);

    function keep(extra) {
      var copy = { at: Date.now(), data: serialize(form) };
      if (extra) for (var name in extra) copy[name] = extra[name];
      write(key, copy);
    }

    var copy = read(key);
    if (copy && copy.data) {
      if (same(copy.data, fromServer)) {
        remove(key); // the page already shows exactly this
      } else {
        fill(form, copy.data);
        showNotice(form, function () { fill(form, fromServer); remove(key); });
      }
    }
    form.addEventListener("input", function () { keep(); });
    form.addEventListener("change", function () { keep(); });
    form.addEventListener("submit", function () {
      var id = markSent(form);
      keep({ sent: id, sentData: JSON.stringify(serialize(form)) });
    });
  }

  document.querySelectorAll("form[data-keep-local]").forEach(keepLocal);

  // --- Autosave: a local copy and a draft on the server ----------------------------------------
  // The container (or the form itself) carries data-autosave-url, data-autosave-key, the server's
  // last save (data-server-saved-at; for a conversation also data-last-sent-at) and optionally
  // the server's clock (data-server-now), so that copies compare with server stamps whatever
  // this device's clock says. The endpoint answers JSON with "saved_at" (and may give
  // "saved_at_display"); a refusal may carry "error" or "message" in plain words.
  function stamp(value) {
    var time = value ? Date.parse(value) : NaN;
    return isNaN(time) ? 0 : time;
  }

  function hhmm() {
    return new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function text(id) {
    var node = document.getElementById(id);
    return node ? node.textContent : null;
  }

  function autosave(box) {
    var form = box.tagName === "FORM" ? box : box.querySelector("form");
    if (!form || !window.fetch || !window.FormData) return;
    var url = box.getAttribute("data-autosave-url");
    var key = keyFor(box.getAttribute("data-autosave-key"));
    // The server's last word on this form: its last draft, or the last message sent from it.
    var serverStamps = [box.getAttribute("data-server-saved-at") || "", box.getAttribute("data-last-sent-at") || ""];
    var serverSavedAt = stamp(serverStamps[0]) >= stamp(serverStamps[1]) ? serverStamps[0] : serverStamps[1];
    var serverNow = stamp(box.getAttribute("data-server-now"));
    var skew = serverNow ? Date.now() - serverNow : 0;
    var loadedAt = box.getAttribute("data-loaded-at") || "";
    var status = box.querySelector("[data-autosave-status], [data-draft-status]");
    var labels = {
      saved: box.getAttribute("data-label-saved") || text("draft-saved-text"),
      saving: box.getAttribute("data-label-saving"),
      offline: box.getAttribute("data-label-offline") || text("draft-failed-text"),
      restored: box.getAttribute("data-label-restored") || text("draft-restored-text")
    };
    var timer = null;
    var inFlight = false;
    var again = false;
    var submitting = false;
    var note = ""; // "we put back what you typed", kept in view until the next save is confirmed

    function say(message) { if (status && message !== null) status.textContent = note + message; }

    function keep(extra) {
      var copy = { base: serverSavedAt, savedAt: Date.now() - skew, data: serialize(form) };
      if (extra) for (var name in extra) copy[name] = extra[name];
      write(key, copy);
    }

    function csrfToken() {
      var input = form.querySelector("input[name=csrfmiddlewaretoken]");
      return input ? input.value : "";
    }

    function save() {
      timer = null;
      if (submitting) return;
      if (inFlight) { again = true; return; }
      inFlight = true;
      if (labels.saving) say(labels.saving);
      var sent = JSON.stringify(serialize(form));
      var body = new FormData(form);
      body.delete("action");
      body.delete(COPY_FIELD);
      if (loadedAt) body.append("loaded_at", loadedAt);
      fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var error = new Error("HTTP " + response.status);
            error.reason = data.error || data.message || "";
            throw error;
          }
          return data;
        });
      }).then(function (data) {
        if (data.saved_at) serverSavedAt = data.saved_at;
        // Confirmed: the copy on this device is no longer needed, unless more was typed meanwhile.
        var local = read(key);
        if (local && JSON.stringify(local.data) === sent) remove(key);
        say(labels.saved + " " + (data.saved_at_display || hhmm()));
        note = "";
      }).catch(function (error) {
        say((error && error.reason) || labels.offline); // the copy stays; the next change tries again
      }).then(function () {
        inFlight = false;
        if (again) { again = false; save(); }
      });
    }

    function changed(event) {
      if (event.target.form !== form || submitting) return;
      keep();
      window.clearTimeout(timer);
      timer = window.setTimeout(save, DELAY);
    }

    // On the document: fields may belong to the form from elsewhere on the page (form="...").
    document.addEventListener("input", changed);
    document.addEventListener("change", changed);
    form.addEventListener("submit", function () {
      // The normal submit takes over; the copy stays until the server confirms.
      submitting = true;
      window.clearTimeout(timer);
      var id = markSent(form);
      keep({ sent: id, sentData: JSON.stringify(serialize(form)) });
    });

    // A copy on this device that the server never confirmed: put it back.
    var local = read(key);
    if (local && local.data) {
      var serverTime = stamp(serverSavedAt);
      var notOlder = local.base === serverSavedAt || !serverTime || local.savedAt > serverTime;
      if (notOlder && !same(local.data, serialize(form))) {
        fill(form, local.data);
        note = labels.restored + " ";
        say("");
        save();
      } else {
        remove(key);
      }
    }
  }

  document.querySelectorAll("[data-autosave]").forEach(autosave);

  // --- A page that shows a handed-in answer ----------------------------------------------------
  document.querySelectorAll("[data-draft-done]").forEach(function (el) {
    var key = keyFor(el.getAttribute("data-draft-done"));
    var local = read(key);
    if (!local) return;
    var submittedAt = Date.parse(el.getAttribute("data-submitted-at") || "") || 0;
    if (local.savedAt > submittedAt + 5000) {
      // Changes made after handing in that never reached the server: offer them.
      var notice = el.querySelector("[data-unsent-notice]");
      if (notice) notice.hidden = false;
    } else {
      remove(key);
    }
  });
})();
