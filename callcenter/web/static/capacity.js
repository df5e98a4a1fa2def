// 容量规划: the two heat maps (hour × weekday of mean offered calls and of Erlang B blocking)
// from the page's JSON island, with the vendored ECharts when present.
(function () {
  "use strict";
  var island = document.getElementById("capacity-data");
  if (!island || !window.echarts) return;
  var data = JSON.parse(island.textContent);
  var days = data.weekdays, hours = [];
  for (var h = 0; h < 24; h++) hours.push((h < 10 ? "0" : "") + h + ":00");

  function heat(id, title, field, fmt) {
    var el = document.getElementById(id);
    if (!el) return;
    var cells = data.hours.map(function (c) { return [c.hour, c.weekday, c[field] == null ? 0 : c[field]]; });
    var max = cells.reduce(function (m, c) { return Math.max(m, c[2]); }, 0) || 1;
    var chart = window.echarts.init(el);
    chart.setOption({
      animation: false,  // drawn at once: the page is read, not watched (and frames cost CPU)
      title: { text: title, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { formatter: function (p) { return days[p.value[1]] + " " + hours[p.value[0]] + "：" + fmt(p.value[2]); } },
      grid: { top: 40, bottom: 70, left: 50, right: 20 },
      xAxis: { type: "category", data: hours, splitArea: { show: true } },
      yAxis: { type: "category", data: days, splitArea: { show: true } },
      visualMap: { min: 0, max: max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
                   formatter: function (v) { return fmt(v); } },
      series: [{ type: "heatmap", data: cells, label: { show: false } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
    el.setAttribute("data-ready", "1");
  }
  heat("heat-offered", "平均每小时呼入量", "offered", function (v) { return Number(v).toFixed(1); });
  heat("heat-blocking", "阻塞率（现有 " + data.lines + " 条线路，Erlang B）", "blocking",
       function (v) { return (v * 100).toFixed(2) + "%"; });
})();
