// The console's only script: live countdowns to deadlines, queues that
// follow the watch stream, a session kept alive while a form is typed,
// and a warning before typed text would be left unsent. Pages work
// without it (times are also printed); it is loaded from our origin, and
// the Content-Security-Policy forbids inline script.
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
    var pending = false;
    // Not over a form being typed: keep() says the session ended there.
    function signIn() {
      if (!document.querySelector('form[data-typed="1"]')) location.assign("/signin");
    }
    // load fetches the list and shows it. It tells what it found:
    // "shown", "signin" (the session is gone), "refused" (the server
    // answered no list) or "down" (no answer from the service: the
    // network, or a proxy's 502 while the service restarts).
    function load() {
      return fetch(box.dataset.live, { credentials: "same-origin", headers: { "X-Childcase-Live": "1" } })
        .then(function (r) {
          if (r.redirected && new URL(r.url).pathname === "/signin") { signIn(); return "signin"; }
          if (!r.ok) return r.status >= 500 ? "down" : "refused";
          return r.text().then(function (html) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var fresh = doc.querySelector("[data-live]");
            if (fresh) { box.replaceChildren.apply(box, Array.from(fresh.childNodes)); tick(); }
            return "shown";
          });
        })
        .catch(function () { return "down"; });
    }
    function refresh() {
      if (pending) return;
      pending = true;
      setTimeout(function () { load().finally(function () { pending = false; }); }, 300);
    }
    // givenUp runs when the browser has given the stream up for good
    // (CLOSED, not CONNECTING), which it does when the answer is no
    // stream: after a restart, which signs everyone out, the server that
    // comes back sends the sign-in page instead, and the stream cannot
    // say the session ended; behind a proxy, a reconnection while the
    // service is still down is answered 502. The list's own refresh
    // finds out, and goes to sign in as the "end" event would, rather
    // than keep showing cases no longer followed. A refresh the service
    // did not answer is asked again after the stream's retry delay, and
    // once it answers with the list, the page follows the stream again.
    // A stream refused while the session is live (the list is shown at
    // the first ask) is not asked again: the page stays as it is.
    var retryEvery = 5000; // the stream's own retry (events.go, retryMillis)
    function givenUp(wasDown) {
      load().then(function (found) {
        if (found === "down") setTimeout(function () { givenUp(true); }, retryEvery);
        else if (found === "shown" && wasDown) follow();
      });
    }
    function follow() {
      var src = new EventSource("/events");
      // data-stream tells whether the list is following the stream now.
      src.onopen = function () { box.setAttribute("data-stream", "open"); };
      src.onerror = function () {
        box.setAttribute("data-stream", "closed");
        if (src.readyState === EventSource.CLOSED) givenUp(false);
      };
      src.addEventListener("end", function (e) {
        src.close();
        if (e.data === "signed-out") signIn();
      });
      src.onmessage = refresh;
    }
    follow();
  }

  // Typing is the person's activity, though it sends no request: a
  // hotline operator may type a report for longer than the session's idle
  // timeout. While someone types in a form, the page tells the server so
  // at most once a minute (POST /session/touch with the form's token),
  // which keeps the session from its idle end; nothing the page does by
  // itself counts. When the session has ended (idle, signed out in
  // another tab, a restart of the server), the page says so at once, and
  // "Lưu" checks the session before the form may leave the page: a form
  // sent to an ended session would be answered with the sign-in page and
  // its text lost. After the person signs in again in another tab, the
  // form takes the new session's token (the old one is bound to the
  // ended session), but only if it is the same person's. A touch carries
  // the form's token only: what was typed is sent by the form alone, and
  // kept nowhere but in it.
  var touchEvery = 60000;

  function keep() {
    if (!words.user || !window.fetch) return;
    var lastTouch = Date.now(); // the page's own request counted
    var touches = 0;
    document.addEventListener("input", function (e) {
      var form = e.target.form;
      if (!e.isTrusted || !form || !form.elements.csrf) return;
      form.dataset.typed = "1";
      if (Date.now() - lastTouch < touchEvery) return;
      lastTouch = Date.now();
      check(form).then(function (state) {
        document.body.setAttribute("data-touches", String(++touches));
        said(form, state);
      });
    });
    // A page the browser shows again from its history checks again.
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("form[data-checked]").forEach(function (f) { f.dataset.checked = ""; });
    });
    document.addEventListener("submit", function (e) {
      var form = e.target;
      // A form a send answered, kept as typed and not saved
      // (data-unsaved), is checked too, though nobody typed in this page.
      if ((form.dataset.typed !== "1" && form.dataset.unsaved !== "1") || form.dataset.checked === "1") return;
      e.preventDefault();
      if (form.dataset.checking === "1") return; // a double click
      form.dataset.checking = "1";
      var by = e.submitter;
      check(form).then(function (state) {
        form.dataset.checking = "";
        said(form, state);
        if (state !== "live") return;
        form.dataset.checked = "1";
        if (by) form.requestSubmit(by); else form.requestSubmit();
      });
    });
  }

  // check asks whether the form's session is live, marking it used:
  // "live", "ended", "other" (another person signed in in this browser)
  // or "unreachable".
  function check(form) {
    return touch(form).then(function (status) {
      if (status !== 403) return status;
      return renew(form).then(function (state) { return state === "live" ? touch(form) : state; });
    }).then(function (status) {
      if (typeof status === "string") return status;
      return status === 204 ? "live" : status === 401 ? "ended" : "unreachable";
    }, function () { return "unreachable"; });
  }

  function touch(form) {
    return fetch("/session/touch", {
      method: "POST", credentials: "same-origin", redirect: "error",
      body: new URLSearchParams({ csrf: form.elements.csrf.value })
    }).then(function (r) { return r.status; });
  }

  // renew gives the page's forms the token of the browser's session, when
  // it is a later session of the same person.
  function renew(form) {
    return fetch("/session/token", { credentials: "same-origin", redirect: "error" }).then(function (r) {
      if (r.status === 401) return "ended";
      if (!r.ok) return "unreachable";
      return r.json().then(function (s) {
        if (s.user !== words.user) return "other";
        document.querySelectorAll('form input[name="csrf"]').forEach(function (el) { el.value = s.csrf; });
        return "live";
      });
    });
  }

  // said shows, above the form, that it is not saved and why, or takes
  // that away once the session is live again. The page stays as it is.
  function said(form, state) {
    document.body.setAttribute("data-session", state);
    var box = document.getElementById("keep-alert");
    if (state === "live") {
      if (box) box.remove();
      return;
    }
    if (!box) {
      box = document.createElement("div");
      box.id = "keep-alert";
      box.className = "notsaved";
      box.setAttribute("role", "alert");
      form.parentNode.insertBefore(box, form);
    }
    var big = document.createElement("p");
    big.className = "big";
    big.textContent = words.notsaved;
    var help = document.createElement("p");
    help.textContent = state === "other" ? words.keepOther : state === "ended" ? words.keepEnded : words.keepUnreachable;
    var parts = [big, help];
    if (state !== "unreachable") {
      var a = document.createElement("a");
      a.href = "/signin";
      a.target = "_blank";
      a.rel = "noopener";
      a.textContent = words.keepSignin;
      var p = document.createElement("p");
      p.append(a);
      parts.push(p);
    }
    box.replaceChildren.apply(box, parts);
    box.scrollIntoView({ block: "nearest" });
  }

  // Leaving a page by any way but a form's own send (a link, the menu,
  // the language switch, closing the tab) would drop what the person
  // typed into it without a word: while a form that sends (method post)
  // holds text typed and not sent, the browser asks before the page
  // goes. So does a form a send answered, kept as typed and not saved
  // (data-unsaved: a check, a refusal), while it holds text: what it
  // holds is no more saved than before its send. A form's own send
  // takes its text along, so it asks nothing, and neither does a page
  // nobody typed in, nor a form whose typing was all taken back. What
  // the browser asks is its own words: no page may choose them.
  function guard() {
    document.addEventListener("input", function (e) {
      var form = e.target.form;
      if (e.isTrusted && form && form.method === "post") form.dataset.edited = "1";
    });
    // On the window, so after keep(): a send it holds back until the
    // session is checked is not sent yet, and its form still guards.
    window.addEventListener("submit", function (e) {
      if (!e.defaultPrevented) e.target.dataset.edited = e.target.dataset.unsaved = "";
    });
    window.addEventListener("beforeunload", function (e) {
      if (!Array.prototype.some.call(document.forms, unsent)) return;
      e.preventDefault();
      e.returnValue = ""; // what older browsers look for
    });
  }

  // unsent tells whether a form holds something typed in it and not sent:
  // a field that differs from what the page was served with, or, in a
  // form served unsaved, a field that holds text.
  function unsent(form) {
    if (form.dataset.unsaved === "1" && Array.prototype.some.call(form.elements, holds)) return true;
    return form.dataset.edited === "1" && Array.prototype.some.call(form.elements, changed);
  }

  // holds tells whether a field holds text: what a send answered with
  // errors keeps of the person's typing. A choice, a date or a time may
  // be the blank form's own (the time of the call, the usual channel),
  // so a form sent empty, refused, asks nothing.
  function holds(el) {
    switch (el.type) {
      case "textarea": case "text": case "search": case "tel": case "email": case "url":
        return el.value.trim() !== "";
      default:
        return false;
    }
  }

  function changed(el) {
    switch (el.type) {
      case "hidden": case "submit": case "button": case "reset":
        return false; // nothing a person types
      case "checkbox": case "radio":
        return el.checked !== el.defaultChecked;
      case "select-one": case "select-multiple":
        var served = Array.prototype.some.call(el.options, function (o) { return o.defaultSelected; });
        return Array.prototype.some.call(el.options, function (o, i) {
          // A single choice served with none marked shows its first.
          return o.selected !== (served ? o.defaultSelected : el.type === "select-one" && i === 0);
        });
      default:
        return "defaultValue" in el && el.value !== el.defaultValue;
    }
  }

  tick();
  setInterval(tick, 1000);
  live();
  keep();
  guard();
})();
