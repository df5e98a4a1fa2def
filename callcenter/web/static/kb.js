// 知识库 beside 来电登记 (issue 8): as the operator types into 诉求内容 (or the search box),
// the ranked entries are fetched (debounced, stale requests aborted) and shown in #kb-results
// without a reload. Each entry's 直接答复 button submits the 来电登记 form to
// /console/kb/answer (CSRF token and all): the server registers the case and answers it.
// #kb-searched carries the text whose suggestions are shown: the server proposes it to the
// chosen entry's department as a caller's phrasing (issue 16).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var box = $("kb-q"), content = $("f-content"), out = $("kb-results"), searched = $("kb-searched");
  if (!box || !content || !out) return;
  var timer = null, ctl = null, last = null, DELAY = 250;

  function query() { return (box.value.trim() || content.value.trim()).slice(0, 500); }

  function run() {
    var q = query();
    if (q === last) return;
    last = q;
    if (ctl && ctl.abort) ctl.abort();
    ctl = window.AbortController ? new AbortController() : null;
    out.setAttribute("aria-busy", "true");
    fetch("/console/kb/suggest?q=" + encodeURIComponent(q),
          { credentials: "same-origin", headers: { "Accept": "text/html" }, signal: ctl ? ctl.signal : undefined })
      .then(function (r) {
        if (r.redirected && /\/login/.test(r.url)) throw new Error("login");
        if (!r.ok) throw new Error(String(r.status));
        return r.text();
      })
      .then(function (html) {
        out.innerHTML = html; out.dataset.q = q; out.removeAttribute("aria-busy");
        if (searched) searched.value = q;
      })
      .catch(function (e) {
        if (e && e.name === "AbortError") return;
        out.removeAttribute("aria-busy");
        last = null;
        out.innerHTML = '<p class="muted">知识库暂不可用' + (e && e.message === "login" ? "（会话已失效，请刷新页面）" : "") + "</p>";
      });
  }

  function later() { clearTimeout(timer); timer = setTimeout(run, DELAY); }
  content.addEventListener("input", later);
  box.addEventListener("input", later);
  box.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); clearTimeout(timer); run(); } });
  // a form brought back (a refused submit, a draft): its entries at once
  if (query()) run();
})();
