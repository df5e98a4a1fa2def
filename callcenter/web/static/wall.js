// The supervisor's wall: figures pushed over SSE (/wall/stream), charts with the vendored
// ECharts when present (hidden with a notice otherwise), the due list refreshed via htmx.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("wall-data").textContent);
  var conn = document.getElementById("conn");
  var STATE = { ready: "空闲", busy: "通话中", paused: "示忙", offline: "未登录", acw: "话后整理", wrapup: "话后整理",
                after_call: "话后整理" };
  var charts = {}, lastTickets = null;

  function get(obj, path) { return path.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, obj); }
  function pct(v) { return v == null ? "—" : (v * 100).toFixed(1) + "%"; }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]; }); }

  // a figure's drill-down list (reports/drill): the cases it counts
  function drill(figure, period, key, text) {
    var d = (data.dates || {})[period];
    if (!d) return String(text);
    return '<a class="drill" href="/reports/drill?figure=' + figure + "&from=" + d.from + "&to=" + d.to +
           (key == null ? "" : "&key=" + encodeURIComponent(key)) + '">' + text + "</a>";
  }

  function table(id, key) {
    var p = data.periods, names = {};
    ["today", "month", "year"].forEach(function (n) { Object.keys(p[n][key] || {}).forEach(function (k) { names[k] = 1; }); });
    var rows = Object.keys(names).sort(function (a, b) { return (p.year[key][b] || 0) - (p.year[key][a] || 0); });
    document.querySelector("#" + id + " tbody").innerHTML = rows.map(function (k) {
      return "<tr><td>" + esc(k) + "</td><td>" + drill(key, "today", k, p.today[key][k] || 0) + "</td><td>" +
             drill(key, "month", k, p.month[key][k] || 0) + "</td><td>" + drill(key, "year", k, p.year[key][k] || 0) +
             "</td></tr>";
    }).join("") || '<tr><td colspan="4" class="muted">暂无数据</td></tr>';
  }

  // each department's and each category's rates for the period chosen above the charts
  function rates(period, label, field, id, title) {
    var r = data.periods[period][field] || {};
    var dim = field === "department_rates" ? "by_department" : "by_category";
    document.getElementById(id + "-title").textContent = title + "（" + label + "）";
    var rows = Object.keys(r).sort(function (a, b) { return r[b].registered - r[a].registered; });
    document.querySelector("#" + id + " tbody").innerHTML = rows.map(function (k) {
      var d = r[k];
      return "<tr><td>" + esc(k) + "</td><td>" + drill(dim, period, k, d.registered) + "</td><td>" + d.resolved + "</td><td>" +
             pct(d.completion_rate) + "</td><td>" + pct(d.on_time_rate) + "</td><td>" + pct(d.callback_rate) +
             "</td><td>" + pct(d.satisfaction_rate) + '</td><td class="warn">' + d.overdue + "</td></tr>";
    }).join("") || '<tr><td colspan="8" class="muted">暂无数据</td></tr>';
  }

  function chart(id, title, obj) {
    if (!window.echarts) return;
    var el = document.getElementById(id);
    if (!el) return;
    charts[id] = charts[id] || window.echarts.init(el);
    var keys = Object.keys(obj).sort(function (a, b) { return obj[b] - obj[a]; }).slice(0, 15);
    // text scales with the page's root size (larger on wall screens, see console.css)
    var fs = parseFloat(getComputedStyle(document.documentElement).fontSize) || 14;
    var axis = { fontSize: Math.round(fs * 0.85) };
    charts[id].setOption({
      title: { text: title, textStyle: { fontSize: fs } },
      grid: { left: Math.round(fs * 8), right: fs, top: Math.round(fs * 2.5), bottom: Math.round(fs * 1.5) },
      tooltip: {}, xAxis: { type: "value", minInterval: 1, axisLabel: axis },
      yAxis: { type: "category", data: keys.slice().reverse(), axisLabel: axis },
      series: [{ type: "bar", data: keys.map(function (k) { return obj[k]; }).reverse(), itemStyle: { color: "#1f6feb" } }],
      animation: false,
    });
  }

  function render() {
    document.querySelectorAll("[data-k]").forEach(function (el) {
      var v = get(data, el.dataset.k);
      el.textContent = el.dataset.f === "pct" ? pct(v) : (v == null ? "—" : v);
    });
    var seats = data.board.seats || [];
    document.getElementById("seats").innerHTML = seats.map(function (s) {
      // the state is the PBX's; whether the operator's console page is open is told beside it
      var console = s.state !== "offline" && s.console === false ? ' <i class="console-off">控制台未开</i>' : "";
      return '<li class="seat ' + s.state + '"><b>' + esc(s.seat || "") + "</b> " + esc(s.name) + " <span>" + esc(s.state_label || STATE[s.state] || s.state || "") + "</span>" + console + "</li>";
    }).join("");
    table("tbl-department", "by_department");
    table("tbl-category", "by_category");
    var period = document.getElementById("chart-period").value;
    var label = { today: "今日", month: "本月", year: "本年" }[period];
    chart("chart-category", label + "各问题分类受理量", data.periods[period].by_category);
    chart("chart-department", label + "各承办单位受理量", data.periods[period].by_department);
    rates(period, label, "department_rates", "tbl-department-rates", "各承办单位指标");
    rates(period, label, "category_rates", "tbl-category-rates", "各问题分类指标");
    if (lastTickets !== null && lastTickets !== data.board.ticket_seq) refreshDue();
    lastTickets = data.board.ticket_seq;
  }

  function refreshDue() {
    if (window.htmx) { document.body.dispatchEvent(new Event("refresh")); return; }
    fetch("/wall/due", { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) { document.getElementById("due").innerHTML = html; });
  }

  document.getElementById("chart-period").addEventListener("change", render);
  window.addEventListener("resize", function () {
    render();  // the charts' text follows the root font size, which follows the screen
    Object.keys(charts).forEach(function (k) { charts[k].resize(); });
  });
  window.addEventListener("load", function () { render(); if (!window.htmx) refreshDue(); });

  var es = new EventSource("/wall/stream");
  es.addEventListener("wall", function (e) { data = JSON.parse(e.data); conn.classList.add("on"); render(); });
  es.onerror = function () { conn.classList.remove("on"); };
  window.hotlineWall = { data: function () { return data; } };
})();
