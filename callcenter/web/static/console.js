// Shared bits of the console: CSRF header for htmx requests, deadline countdowns.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  document.addEventListener("htmx:configRequest", function (e) { e.detail.headers["X-CSRF-Token"] = csrf; });

  function remaining(iso) {
    var secs = Math.round((new Date(iso) - new Date()) / 1000), over = secs < 0;
    secs = Math.abs(secs);
    var d = Math.floor(secs / 86400), h = Math.floor(secs % 86400 / 3600), m = Math.floor(secs % 3600 / 60);
    var t = d ? d + "天" + h + "小时" : (h ? h + "小时" + m + "分" : m + "分");
    return (over ? "超期 " : "剩余 ") + t;
  }
  function tick() {
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      el.textContent = remaining(el.dataset.due);
      var tr = el.closest("tr");
      if (tr && new Date(el.dataset.due) < new Date()) { tr.classList.add("overdue"); tr.classList.remove("soon"); }
    });
  }
  window.hotline = { csrf: csrf, remaining: remaining };
  // no inline handlers (the Content-Security-Policy refuses them): 打印 buttons carry
  // data-print, forms asking for confirmation carry data-confirm="question"
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-print]");
    if (b) { e.preventDefault(); window.print(); }
  });
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) { e.preventDefault(); }
  }, true);
  setInterval(tick, 30000);
})();
