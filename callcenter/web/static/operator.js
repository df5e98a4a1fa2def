// The operator's screen pop: call.answered for this seat arrives over SSE; the 来电登记 form
// is filled from the call and the caller's history loads beside it.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var conn = $("conn"), current = null;

  function loadHistory(phone) {
    var url = "/operator/history?phone=" + encodeURIComponent(phone || "");
    if (window.htmx) { window.htmx.ajax("GET", url, "#history"); return; }
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) { $("history").innerHTML = html; });
  }

  function suggest() {
    var cat = $("f-category").value, content = $("f-content").value;
    if (!cat) return;
    fetch("/operator/suggest?category=" + encodeURIComponent(cat) + "&content=" + encodeURIComponent(content),
          { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (!s.department_code) { $("suggest-note").textContent = "无推荐，请选择"; return; }
        $("f-department").value = s.department_code;
        $("suggest-note").textContent = "推荐：" + s.department;
      });
  }
  $("f-category").addEventListener("change", suggest);
  $("f-content").addEventListener("blur", suggest);
  $("f-kind").addEventListener("change", function () {
    // 干部举报: the caller's identity is kept from the departments (举报人信息保密)
    if (this.value === "report") $("f-confidential").checked = true;
  });

  function pop(call) {
    current = call.linkedid;
    $("pop-number").textContent = call.number || "（未显示号码）";
    $("pop-time").textContent = call.time;
    $("pop-line").textContent = call.line ? "第 " + call.line + " 线" : "—";
    $("pop-state").textContent = "通话中"; $("pop-state").className = "badge busy";
    $("pop").classList.remove("hidden");
    $("f-linkedid").value = call.linkedid || "";
    $("f-time").value = call.time;
    $("f-phone").value = call.number || "";
    $("f-phone").dispatchEvent(new Event("input"));  // the number's likely duplicates (similar.js)
    $("f-name").focus();
    loadHistory(call.number);
    document.title = "来电 " + (call.number || "") + " · 话务台";
  }

  // 示忙/置闲 as the PBX has it (AgentBoard.pause_view): a request shows at once as pending;
  // the PBX's answer, a refusal (with its reason) or a change made on the phone follow here
  function showPause(v) {
    var badge = $("seat-state");
    badge.textContent = v.label;
    badge.className = "badge " + (v.paused ? "paused" : "ready");
    $("seat-reason").textContent = v.paused && v.reason ? v.reason : "";
    $("seat-pending").classList.toggle("hidden", !v.pending);
    $("seat-target").value = v.paused ? "0" : "1";
    $("toggle-ready").textContent = v.paused ? "置闲（接听来电）" : "示忙（暂停接听）";
    $("pause-error").textContent = v.error || "";
    $("pause-error").classList.toggle("hidden", !v.error);
  }

  if (!window.EventSource) { conn.title = "浏览器不支持来电推送"; return; }
  var es = new EventSource("/operator/stream");
  es.addEventListener("hello", function () { conn.classList.add("on"); conn.title = "来电推送已连接"; });
  es.addEventListener("call", function (e) { pop(JSON.parse(e.data)); });
  es.addEventListener("pause", function (e) { showPause(JSON.parse(e.data)); });
  es.addEventListener("ended", function (e) {
    var d = JSON.parse(e.data);
    if (d.linkedid === current) { $("pop-state").textContent = "已挂机"; $("pop-state").className = "badge"; }
  });
  es.onerror = function () { conn.classList.remove("on"); conn.title = "来电推送重连中…"; };
  window.addEventListener("beforeunload", function () { es.close(); });
})();
