// The 调度 badge in the nav: cases waiting in the dispatcher's queues (/queues/count).
(function () {
  "use strict";
  var badge = document.getElementById("queue-badge");
  if (!badge) return;
  function refresh() {
    fetch("/queues/count", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (!d) return;
        badge.textContent = d.total > 99 ? "99+" : String(d.total);
        badge.title = "待派 " + d.dispatch + " · 退单待审核 " + d.returned + " · 派单异议 " + d.disputed + " · 重办待派 " + d.reopened;
        badge.hidden = !d.total;
      })
      .catch(function () { /* keep the last figure */ });
  }
  refresh();
  setInterval(refresh, 60000);
})();
