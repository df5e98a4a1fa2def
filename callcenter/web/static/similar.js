// 可能重复的工单 beside 来电登记 (并单): as the operator types the number, the address, the
// 诉求内容 or picks the 问题分类, the open cases that are probably the same matter are fetched
// (debounced, stale requests aborted) into #similar-results. 并入此单 submits the 来电登记
// form (CSRF token and all) with then=merge and into=<that case>: the existing merge path.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var out = $("similar-results"), form = $("register-form"), count = $("similar-count");
  if (!out || !form) return;
  var timer = null, ctl = null, last = null, DELAY = 300;
  var FIELDS = { phone: "f-phone", address: "f-address", category: "f-category", text: "f-content" };

  function query() {
    var p = [];
    Object.keys(FIELDS).forEach(function (k) {
      var el = $(FIELDS[k]);
      var v = el ? el.value.trim() : "";
      if (k === "text") v = v.slice(0, 2000);
      if (v) p.push(k + "=" + encodeURIComponent(v));
    });
    return p.join("&");
  }

  function show(html) {
    out.innerHTML = html;
    out.removeAttribute("aria-busy");
    var list = out.querySelector(".sim-list");
    var n = list ? list.querySelectorAll(".sim-item").length : 0;
    if (count) { count.textContent = n ? String(n) : ""; count.classList.toggle("hidden", !n); }
  }

  function run() {
    var q = query();
    if (q === last) return;
    last = q;
    if (ctl && ctl.abort) ctl.abort();
    ctl = window.AbortController ? new AbortController() : null;
    out.setAttribute("aria-busy", "true");
    fetch("/operator/similar?" + q, { credentials: "same-origin", headers: { "Accept": "text/html" },
                                      signal: ctl ? ctl.signal : undefined })
      .then(function (r) {
        if (r.redirected && /\/login/.test(r.url)) throw new Error("login");
        if (!r.ok && r.status !== 422) throw new Error(String(r.status));
        return r.text();
      })
      .then(show)
      .catch(function (e) {
        if (e && e.name === "AbortError") return;
        last = null;
        show('<p class="muted">查重暂不可用' + (e && e.message === "login" ? "（会话已失效，请刷新页面）" : "") + "</p>");
      });
  }

  function later() { clearTimeout(timer); timer = setTimeout(run, DELAY); }
  Object.keys(FIELDS).forEach(function (k) {
    var el = $(FIELDS[k]);
    if (!el) return;
    el.addEventListener("input", later);
    el.addEventListener("change", later);
  });

  // 并入此单: the case to merge into, and its 问题分类 when the operator has chosen none yet
  out.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button.sim-merge") : null;
    if (!b) return;
    $("f-into").value = b.getAttribute("data-into");
    var cat = $("f-category"), want = b.getAttribute("data-category");
    if (cat && !cat.value && want) {
      for (var i = 0; i < cat.options.length; i++) {
        if (cat.options[i].value === want || cat.options[i].text === want) { cat.selectedIndex = i; break; }
      }
    }
  });
  if (query()) later();
})();
