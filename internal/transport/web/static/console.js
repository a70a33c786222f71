// The console's only script: live countdowns to deadlines, and queues that
// follow the watch stream. Pages work without it (times are also printed);
// it is loaded from our origin, and the Content-Security-Policy forbids
// inline script.
"use strict";

(function () {
  var words = document.body.dataset;
  // The deadlines run on the service's clock: count from the service's
  // time when the page was made (data-now), carried forward by the
  // browser's clock, so that a browser whose clock is wrong still shows
  // the colours the service goes by.
  var served = Date.parse(words.now || "");
  var offset = isNaN(served) ? 0 : served - Date.now();

  // countdown writes how long is left (or how late) and colours it: amber
  // past the deadline's first warning point, red once overdue.
  function countdown(el, now) {
    var due = Date.parse(el.getAttribute("datetime"));
    var warn = Date.parse(el.dataset.warn || "");
    if (isNaN(due)) return;
    var ms = due - now;
    var late = ms < 0;
    var m = Math.floor(Math.abs(ms) / 60000);
    var d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), min = m % 60;
    var text = (d ? d + " " + words.days + " " : "") + (d || h ? h + " " + words.hours + " " : "") + min + " " + words.minutes;
    el.textContent = late ? words.overdue + " " + text : text + " " + words.left;
    el.classList.toggle("red", late);
    el.classList.toggle("amber", !late && !isNaN(warn) && now >= warn);
    el.classList.toggle("ok", !late && !(now >= warn));
  }

  function tick() {
    var now = Date.now() + offset;
    document.querySelectorAll("time.countdown").forEach(function (el) { countdown(el, now); });
  }

  // A live list reloads its part of the page when the watch stream says
  // something changed; the stream reconnects by itself. The refresh is
  // marked as the page's own (X-Childcase-Live), so it does not keep an
  // unattended session from its idle timeout; when the session has ended
  // (the stream says so, or the refresh is sent to sign in) the page goes
  // to the sign-in page rather than keep showing cases.
  function live() {
    var box = document.querySelector("[data-live]");
    if (!box || !window.EventSource) return;
    var src = new EventSource("/events");
    var pending = false;
    // data-stream tells whether the list is following the stream now.
    src.onopen = function () { box.setAttribute("data-stream", "open"); };
    src.onerror = function () { box.setAttribute("data-stream", "closed"); };
    src.addEventListener("end", function (e) {
      src.close();
      if (e.data === "signed-out") location.assign("/signin");
    });
    src.onmessage = function () {
      if (pending) return;
      pending = true;
      setTimeout(function () {
        fetch(box.dataset.live, { credentials: "same-origin", headers: { "X-Childcase-Live": "1" } })
          .then(function (r) {
            if (r.redirected && new URL(r.url).pathname === "/signin") { location.assign("/signin"); return Promise.reject(401); }
            return r.ok ? r.text() : Promise.reject(r.status);
          })
          .then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.querySelector("[data-live]");
            if (fresh) { box.replaceChildren.apply(box, Array.from(fresh.childNodes)); tick(); }
          })
          .catch(function () {})
          .finally(function () { pending = false; });
      }, 300);
    };
  }

  tick();
  setInterval(tick, 1000);
  live();
})();
