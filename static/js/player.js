// icbt guided player: an exercise script played part by part (templates/programs/steps/guided_player.html).
// Each part is shown in turn (read aloud slowly by the browser's own voice if the patient asks,
// or played from the clinic's recording of that part), then its silence is kept, then a soft
// sound marks the next part. Progressive enhancement: without this file every part is shown
// with its pause written out. Nothing leaves the device.
(function () {
  "use strict";

  var SPEECH_RATE = 0.8; // slow, calm reading
  var SECONDS_PER_WORD = 0.45; // reading along at a calm pace when nothing is read aloud
  var MIN_SHOW_SECONDS = 4;
  var synth = window.speechSynthesis;
  var canSpeak = !!(synth && window.SpeechSynthesisUtterance);

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_match, key) { return values[key]; });
  }

  // A timer that can be paused and resumed where it stopped.
  function Countdown() {
    this.id = null;
    this.remaining = 0;
    this.deadline = 0;
    this.callback = null;
  }
  Countdown.prototype.start = function (ms, callback) {
    this.clear();
    this.callback = callback;
    this.remaining = ms;
    this.resume();
  };
  Countdown.prototype.resume = function () {
    if (!this.callback) return;
    var callback = this.callback;
    var self = this;
    this.deadline = Date.now() + this.remaining;
    this.id = window.setTimeout(function () { self.callback = null; self.id = null; callback(); }, this.remaining);
  };
  Countdown.prototype.hold = function () {
    if (this.id === null) return;
    window.clearTimeout(this.id);
    this.id = null;
    this.remaining = Math.max(0, this.deadline - Date.now());
  };
  Countdown.prototype.clear = function () {
    if (this.id !== null) window.clearTimeout(this.id);
    this.id = null;
    this.callback = null;
  };

  function Player(root) {
    this.root = root;
    this.parts = Array.prototype.slice.call(root.querySelectorAll(".guided-segment"));
    this.recorded = root.classList.contains("guided-player-recorded");
    this.toggle = root.querySelector("[data-player-toggle]");
    this.status = root.querySelector("[data-player-status]");
    this.speakBox = root.querySelector("[data-player-speak]");
    this.chimeBox = root.querySelector("[data-player-chime]");
    this.timer = new Countdown();
    this.index = -1;
    this.phase = "idle"; // idle | part | silence | done
    this.paused = false;
    this.token = 0; // which showing of a part a late speech or timer event belongs to
    this.quiet = null;
    this.bind();
  }

  Player.prototype.label = function (name) { return this.root.getAttribute("data-label-" + name) || ""; };

  Player.prototype.bind = function () {
    var self = this;
    this.root.querySelector("[data-player-controls]").hidden = false;
    var speakOption = this.root.querySelector("[data-speak-option]");
    if (speakOption && canSpeak) speakOption.hidden = false;
    this.toggle.addEventListener("click", function () {
      if (self.phase === "idle" || self.phase === "done") self.start();
      else if (self.paused) self.resume();
      else self.pause();
    });
    this.root.querySelector("[data-player-restart]").addEventListener("click", function () { self.start(); });
    this.parts.forEach(function (part, index) {
      var audio = part.querySelector("audio");
      if (audio) audio.addEventListener("ended", function () { if (self.index === index) self.silence(); });
    });
  };

  Player.prototype.say = function (text) {
    // Only short, rare messages: the part number, a silence, paused, finished.
    this.status.textContent = text;
  };

  Player.prototype.setToggle = function (running) {
    this.toggle.textContent = this.label(running ? "pause" : (this.phase === "idle" || this.phase === "done" ? "start" : "resume"));
    this.toggle.setAttribute("aria-pressed", running ? "true" : "false");
  };

  Player.prototype.start = function () {
    this.stopSound();
    this.timer.clear();
    this.paused = false;
    this.root.classList.add("is-running");
    this.keepAwake(true);
    this.show(0);
  };

  Player.prototype.show = function (index) {
    var self = this;
    this.index = index;
    this.token += 1;
    this.phase = "part";
    this.parts.forEach(function (part, i) {
      part.classList.toggle("is-current", i === index);
      part.classList.toggle("is-done", i < index);
    });
    if (index > 0) this.chime();
    this.setToggle(true);
    this.say(format(this.label("part"), { number: index + 1, count: this.parts.length }));
    this.playPart(function () { self.silence(); });
  };

  Player.prototype.playPart = function (done) {
    var part = this.parts[this.index];
    var audio = part.querySelector("audio");
    var text = part.getAttribute("data-text") || "";
    if (this.recorded && audio) {
      audio.currentTime = 0;
      var playing = audio.play();
      if (playing && playing.catch) playing.catch(function () {});
    } else if (canSpeak && this.speakBox && this.speakBox.checked && text) {
      this.speak(text, done);
    } else {
      var words = text.split(/\s+/).filter(Boolean).length;
      this.timer.start(Math.max(MIN_SHOW_SECONDS, words * SECONDS_PER_WORD + 2) * 1000, done);
    }
  };

  Player.prototype.speak = function (text, done) {
    var self = this;
    var lang = this.root.getAttribute("data-lang") || document.documentElement.lang || "en";
    var utterance = new SpeechSynthesisUtterance(text);
    var voice = synth.getVoices().filter(function (v) { return v.lang && v.lang.indexOf(lang) === 0; })[0];
    if (voice) utterance.voice = voice;
    utterance.lang = lang;
    utterance.rate = SPEECH_RATE;
    var token = this.token;
    utterance.onend = function () { if (!self.paused && self.token === token && self.phase === "part") done(); };
    synth.cancel();
    synth.speak(utterance);
  };

  Player.prototype.silence = function () {
    var self = this;
    var seconds = parseInt(this.parts[this.index].getAttribute("data-pause"), 10) || 0;
    if (!seconds) { this.next(); return; }
    this.phase = "silence";
    this.say(format(this.label("silence"), { seconds: seconds }));
    this.timer.start(seconds * 1000, function () { self.next(); });
  };

  Player.prototype.next = function () {
    if (this.index + 1 < this.parts.length) this.show(this.index + 1);
    else this.finish();
  };

  Player.prototype.finish = function () {
    this.phase = "done";
    this.index = -1;
    this.chime();
    this.root.classList.remove("is-running");
    this.parts.forEach(function (part) { part.classList.remove("is-current", "is-done"); });
    this.keepAwake(false);
    this.setToggle(false);
    this.say(this.label("done"));
  };

  Player.prototype.pause = function () {
    this.paused = true;
    this.timer.hold();
    this.stopSound();
    this.keepAwake(false);
    this.setToggle(false);
    this.say(this.label("paused"));
  };

  Player.prototype.resume = function () {
    var self = this;
    this.paused = false;
    this.keepAwake(true);
    this.setToggle(true);
    this.say(format(this.label("part"), { number: this.index + 1, count: this.parts.length }));
    var audio = this.parts[this.index].querySelector("audio");
    if (this.phase === "part" && this.recorded && audio) {
      var playing = audio.play();
      if (playing && playing.catch) playing.catch(function () {});
    } else if (this.phase === "part" && this.timer.callback === null) {
      this.playPart(function () { self.silence(); }); // speech was stopped: read this part again
    } else {
      this.timer.resume();
    }
  };

  Player.prototype.stopSound = function () {
    if (canSpeak) synth.cancel();
    this.parts.forEach(function (part) {
      var audio = part.querySelector("audio");
      if (audio && !audio.paused) audio.pause();
    });
  };

  Player.prototype.chime = function () {
    if (!this.chimeBox || !this.chimeBox.checked) return;
    var sound = new Audio(this.root.getAttribute("data-chime"));
    sound.volume = 0.5;
    var playing = sound.play();
    if (playing && playing.catch) playing.catch(function () {});
  };

  // Phones stop pages that make no sound when the screen goes off. While the exercise runs, a
  // silent sound loops, so that the browser keeps it going where it allows, and the lock
  // screen shows the exercise with pause and play (Media Session API).
  Player.prototype.keepAwake = function (on) {
    var self = this;
    if (!this.quiet) {
      this.quiet = new Audio(this.root.getAttribute("data-quiet"));
      this.quiet.loop = true;
    }
    if (on) {
      var playing = this.quiet.play();
      if (playing && playing.catch) playing.catch(function () {});
    } else {
      this.quiet.pause();
    }
    if (!("mediaSession" in navigator)) return;
    if (on && window.MediaMetadata) {
      navigator.mediaSession.metadata = new MediaMetadata({ title: this.root.getAttribute("data-title") || "" });
      navigator.mediaSession.setActionHandler("play", function () { if (self.paused) self.resume(); });
      navigator.mediaSession.setActionHandler("pause", function () { if (!self.paused) self.pause(); });
    }
    navigator.mediaSession.playbackState = on ? "playing" : "paused";
  };

  document.querySelectorAll("[data-guided-player]").forEach(function (root) { new Player(root); });
})();
