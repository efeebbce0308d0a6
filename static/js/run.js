// The run page's side of the run websocket (studio/runs/consumers.py). htmx's ws extension swaps
// the fragments in; this script only
//  - tells the server the newest message the page holds on every (re)connect, so it sends the rest;
//  - drops an entry the page already shows (belt and braces: the server never sends a seq twice);
//  - asks for a fresh status line and usage chart after transcript or status frames;
//  - keeps the transcript scrolled to the end while the reader is there;
//  - asks again (`resume`) when an active run has been quiet for a while: the relay is a doorbell,
//    and a viewer that fell behind can miss a ring (channels_redis drops events for a full channel).
(function () {
  "use strict";

  var QUIET_MS = 15000;
  var ACTIVE = ["queued", "running", "awaiting_input"];
  var socket = null;
  var lastHeard = Date.now();

  function lastSeq() {
    var last = 0;
    document.querySelectorAll("#transcript [data-seq]").forEach(function (el) {
      last = Math.max(last, Number(el.dataset.seq) || 0);
    });
    return last;
  }

  function dropDuplicates() {
    var seen = {};
    document.querySelectorAll("#transcript [data-seq]").forEach(function (el) {
      if (seen[el.dataset.seq]) {
        el.remove();
      } else {
        seen[el.dataset.seq] = true;
      }
    });
  }

  function nearEnd() {
    var root = document.scrollingElement || document.documentElement;
    return root.scrollHeight - root.scrollTop - root.clientHeight < 160;
  }

  var follow = true;

  function resume() {
    lastHeard = Date.now();
    socket.send(JSON.stringify({type: "resume", last_seq: lastSeq()}));
  }

  document.addEventListener("htmx:wsOpen", function (event) {
    socket = event.detail.socketWrapper;
    resume();
  });

  document.addEventListener("htmx:wsClose", function () {
    socket = null;
  });

  setInterval(function () {
    var status = document.getElementById("run-status");
    var active = status && ACTIVE.indexOf(status.dataset.status) !== -1;
    if (socket && active && Date.now() - lastHeard > QUIET_MS) {
      resume();
    }
  }, 5000);

  document.addEventListener("htmx:wsBeforeMessage", function () {
    follow = nearEnd();
  });

  document.addEventListener("htmx:wsAfterMessage", function (event) {
    var text = String(event.detail.message || "");
    var transcript = text.indexOf('id="transcript"') !== -1;
    if (transcript) {
      dropDuplicates();
    }
    if (transcript || text.indexOf('id="run-status"') !== -1) {
      lastHeard = Date.now();
      htmx.trigger(document.body, "parley:refresh");
    }
    if (follow) {
      var stream = document.getElementById("run-stream");
      var input = document.getElementById("run-input");
      var target = input && input.children.length ? input : stream;
      if (target) {
        target.scrollIntoView({block: "end"});
      }
    }
  });
})();
