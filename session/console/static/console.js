// berth console: live updates without a build step. Elements marked
// data-live are replaced every few seconds by the same element of the
// page fetched again; lists with data-stream follow a Server-Sent Events
// stream, each line added as text (never as HTML).
"use strict";
(function () {
  var every = 2000;
  var live = document.getElementById("live");
  if (live && live.hasAttribute("data-live")) {
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(location.href, { credentials: "same-origin", headers: { "X-Berth-Live": "1", "Accept": "text/html" } })
        .then(function (r) {
          if (r.status === 401) { location.reload(); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
          if (fresh) live.innerHTML = fresh.innerHTML;
        })
        .catch(function () {})
        .finally(function () { busy = false; });
    }, every);
  }

  var keep = 1000; // lines a followed list keeps
  document.querySelectorAll("[data-stream]").forEach(function (list) {
    var es = new EventSource(list.getAttribute("data-stream"));
    function add(cls, parts) {
      var atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
      var li = document.createElement("li");
      if (cls) li.className = cls;
      parts.forEach(function (p) {
        if (!p[1]) return;
        var span = document.createElement("span");
        span.className = p[0];
        span.textContent = p[1];
        li.appendChild(span);
        li.appendChild(document.createTextNode(" "));
      });
      list.appendChild(li);
      while (list.children.length > keep) list.removeChild(list.firstChild);
      if (atEnd) list.scrollTop = list.scrollHeight;
    }
    es.addEventListener("reset", function () { list.textContent = ""; list.setAttribute("data-following", ""); });
    es.addEventListener("line", function (ev) {
      var l = JSON.parse(ev.data);
      add("", [["t", l.t], ["lvl l-" + (l.l || "").toUpperCase(), l.l], ["m", l.m], ["f", l.f]]);
    });
    es.addEventListener("idle", function (ev) {
      list.textContent = "";
      add("hint", [["m", JSON.parse(ev.data)]]);
    });
  });
})();
