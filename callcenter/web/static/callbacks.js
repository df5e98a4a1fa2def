// 回访 / 回拨: while a call is up, poll its state (1.5 s) — 呼叫中 → 已接通 / 未接通.
(function () {
  "use strict";
  function rows() { return Array.prototype.slice.call(document.querySelectorAll(".cb-row[data-id]")); }
  var LIVE = ["calling", "talking", "unanswered"];
  var polls = 0;
  function tick() {
    var live = rows().filter(function (r) { return LIVE.indexOf(r.dataset.state) >= 0; });
    if (!live.length) return;
    polls += 1;
    var ids = live.map(function (r) { return r.dataset.id; }).join(",");
    fetch("/callbacks/state?ids=" + ids, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) {
        if (!body) return;
        live.forEach(function (r) {
          var d = body.rows[r.dataset.id];
          if (!d) { location.reload(); return; }  // no longer pending: recorded elsewhere
          r.dataset.state = d.state;
          var cell = r.querySelector(".cb-state");
          if (cell) { cell.textContent = d.label; cell.className = "cb-state st-" + (d.state || "none"); }
          document.querySelectorAll(".cb-attempts").forEach(function (el) {
            if (el.closest(".cb-row") === r || !el.closest(".cb-row")) el.textContent = d.attempts;
          });
          var btn = r.querySelector(".cb-dial button");
          if (btn) btn.disabled = d.state === "calling" || d.state === "talking";
          var nr = document.querySelector("#cb-form-" + r.dataset.id + " button[value=not_reached]");
          if (nr) nr.disabled = d.state === "unanswered_done";
        });
      })
      .catch(function () { /* a blip: try again */ })
      .then(function () { if (polls < 800) setTimeout(tick, 1500); });
  }
  setTimeout(tick, 1000);
})();
