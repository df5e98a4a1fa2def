// 大屏: the wall's figures pushed over SSE (/wall/stream), the 24-hour curve and the 超期 count
// polled every 30 s (/wall/screen/extra); seats show the state the agents board gives.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("wall-data").textContent);
  var extra = JSON.parse(document.getElementById("wall-extra").textContent);
  var conn = document.getElementById("conn");
  // the board's state codes; a state this page does not know is shown as the board gives it
  var STATE = { ready: "空闲", busy: "通话中", paused: "示忙", offline: "未登录", acw: "话后整理",
                wrapup: "话后整理", after_call: "话后整理" };
  var chart = null;

  function get(obj, path) { return path.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, obj); }
  function pct(v) { return v == null ? "—" : (v * 100).toFixed(1) + "%"; }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }
  function label(s) { return s.state_label || STATE[s.state] || s.state || ""; }

  function curve() {
    var h = extra.hourly || [];
    var max = Math.max.apply(null, h.concat([1]));
    document.querySelectorAll("#curve-bars li").forEach(function (li, i) {
      li.dataset.n = h[i] || 0;
      li.title = i + " 时：" + (h[i] || 0);
      li.firstChild.style.height = Math.round(100 * (h[i] || 0) / max) + "%";
    });
    if (!window.echarts) return;
    document.body.classList.add("has-chart");
    var el = document.getElementById("curve");
    chart = chart || window.echarts.init(el, null, { renderer: "canvas" });
    var fs = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    chart.setOption({
      grid: { left: fs * 3, right: fs, top: fs, bottom: fs * 2 },
      xAxis: { type: "category", data: h.map(function (_, i) { return i + "时"; }), axisLabel: { color: "#8ea3c0", fontSize: fs * 0.9 } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { color: "#8ea3c0", fontSize: fs * 0.9 }, splitLine: { lineStyle: { color: "#22324d" } } },
      series: [{ type: "line", smooth: true, data: h, areaStyle: { opacity: 0.25 }, lineStyle: { width: fs / 5 }, itemStyle: { color: "#58a6ff" } }],
      animation: false,
    });
  }

  function render() {
    document.querySelectorAll("[data-k]").forEach(function (el) {
      var v = get(data, el.dataset.k);
      el.textContent = el.dataset.f === "pct" ? pct(v) : (v == null ? "—" : v);
    });
    document.querySelectorAll("[data-x]").forEach(function (el) { el.textContent = extra[el.dataset.x]; });
    document.getElementById("seats").innerHTML = (data.board.seats || []).map(function (s) {
      return '<li class="seat ' + esc(s.state || "") + '"><b>' + esc(s.seat || "") + "</b> " + esc(s.name || "") +
             " <span>" + esc(label(s)) + "</span></li>";
    }).join("");
  }

  function poll() {
    fetch("/wall/screen/extra", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (x) { if (x) { extra = x; render(); curve(); } })
      .catch(function () { /* keep the last figures */ });
  }

  document.getElementById("go-full").addEventListener("click", function () {
    var el = document.documentElement;
    if (el.requestFullscreen) el.requestFullscreen().catch(function () {});
  });
  window.addEventListener("resize", function () { if (chart) { chart.resize(); curve(); } });
  window.addEventListener("load", function () { render(); curve(); });
  setInterval(poll, 30000);
  var es = new EventSource("/wall/stream");
  es.addEventListener("wall", function (e) { data = JSON.parse(e.data); conn.classList.add("on"); render(); });
  es.onerror = function () { conn.classList.remove("on"); };
  window.hotlineScreen = { data: function () { return data; }, extra: function () { return extra; } };
})();
