// icbt recording studio (templates/programs/media_studio.html): record one part of an exercise
// with the microphone (and the camera for a video step), listen to the take, record it again or
// keep it. Keeping sends the take through the part's own upload form, so the server checks it
// exactly like an uploaded file. Without this file (or without MediaRecorder) the upload forms
// remain.
(function () {
  "use strict";

  var TYPES = {
    audio: [["audio/webm;codecs=opus", "webm"], ["audio/webm", "webm"], ["audio/ogg;codecs=opus", "ogg"], ["audio/mp4", "m4a"]],
    video: [["video/webm;codecs=vp8,opus", "webm"], ["video/webm", "webm"], ["video/mp4", "mp4"]]
  };

  function chooseType(kind) {
    var options = TYPES[kind] || TYPES.audio;
    for (var i = 0; i < options.length; i++) {
      if (window.MediaRecorder.isTypeSupported(options[i][0])) return options[i];
    }
    return null;
  }

  function show(element, visible) { if (element) element.hidden = !visible; }

  function Recorder(root) {
    this.root = root;
    this.kind = root.getAttribute("data-kind") === "video" ? "video" : "audio";
    this.type = chooseType(this.kind);
    this.form = root.parentNode.querySelector("[data-part-form]");
    this.take = root.querySelector("[data-take]");
    this.status = root.querySelector("[data-recorder-status]");
    this.blob = null;
    this.url = null;
    this.stream = null;
    this.recorder = null;
    var self = this;
    root.querySelector("[data-record]").addEventListener("click", function () { self.record(); });
    root.querySelector("[data-stop]").addEventListener("click", function () { self.stop(); });
    root.querySelector("[data-again]").addEventListener("click", function () { self.record(); });
    root.querySelector("[data-keep]").addEventListener("click", function () { self.keep(); });
    root.hidden = false;
  }

  Recorder.prototype.buttons = function (state) {
    // state: ready | recording | listening | saving
    show(this.root.querySelector("[data-record]"), state === "ready");
    show(this.root.querySelector("[data-stop]"), state === "recording");
    show(this.root.querySelector("[data-recording]"), state === "recording");
    show(this.take, state === "listening");
    show(this.root.querySelector("[data-keep]"), state === "listening");
    show(this.root.querySelector("[data-again]"), state === "listening");
  };

  Recorder.prototype.record = function () {
    var self = this;
    this.status.textContent = "";
    var constraints = { audio: true, video: this.kind === "video" };
    navigator.mediaDevices.getUserMedia(constraints).then(function (stream) {
      self.stream = stream;
      var chunks = [];
      self.recorder = new MediaRecorder(stream, { mimeType: self.type[0] });
      self.recorder.ondataavailable = function (event) { if (event.data && event.data.size) chunks.push(event.data); };
      self.recorder.onstop = function () {
        stream.getTracks().forEach(function (track) { track.stop(); });
        self.blob = new Blob(chunks, { type: self.type[0].split(";")[0] });
        if (self.url) URL.revokeObjectURL(self.url);
        self.url = URL.createObjectURL(self.blob);
        self.take.src = self.url;
        self.buttons("listening");
        self.take.focus();
      };
      self.recorder.start();
      self.buttons("recording");
      self.root.querySelector("[data-stop]").focus();
    }).catch(function () {
      self.status.textContent = self.root.getAttribute("data-label-denied");
    });
  };

  Recorder.prototype.stop = function () {
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
  };

  Recorder.prototype.keep = function () {
    var self = this;
    var data = new FormData(this.form);
    data.set("file", this.blob, "part-" + this.root.getAttribute("data-number") + "." + this.type[1]);
    this.buttons("saving");
    this.status.textContent = this.root.getAttribute("data-label-saving");
    fetch(this.form.action, { method: "POST", body: data, credentials: "same-origin" }).then(function (response) {
      if (response.ok) {
        window.location.hash = self.root.parentNode.id;
        window.location.reload();
        return null;
      }
      return response.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var error = page.querySelector("#" + self.root.parentNode.id + " .error");
        self.status.textContent = self.root.getAttribute("data-label-failed") + (error ? " " + error.textContent : "");
        self.buttons("listening");
      });
    }).catch(function () {
      self.status.textContent = self.root.getAttribute("data-label-failed");
      self.buttons("listening");
    });
  };

  var recorders = document.querySelectorAll("[data-recorder]");
  var canRecord = !!(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  if (!canRecord || (recorders.length && !chooseType(recorders[0].getAttribute("data-kind")))) {
    show(document.querySelector("[data-studio-unsupported]"), recorders.length > 0);
    return;
  }
  recorders.forEach(function (root) { new Recorder(root); });
})();
