// The operator's 话务台 (issues 4, 12): the screen pop (call.answered for this seat over SSE),
// the 来电登记 form's draft (autosaved to the server every few seconds and on each change of
// field, and kept in this browser too), one submit per form (the button is disabled while it
// is in flight; the form's key makes a repeat harmless on the server), a second call beside a
// form being typed (never into it), the department suggestion beside the operator's own pick,
// and the saved case's number read back.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var form = $("register-form");
  if (!form) return;
  var conn = $("conn"), current = $("f-linkedid").value || null;
  var LOCAL = "hotline.operator.draft", QUEUE = "hotline.operator.calls", SAVE_EVERY = 3000;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var dirty = false, saving = false, inflight = false;

  function note(id, text) { var el = $(id); if (el) el.textContent = text; }

  // ---- fetch that never parses a login page as JSON ---------------------------------------------
  function fetchJSON(url, opts) {
    return fetch(url, Object.assign({ credentials: "same-origin", headers: { "Accept": "application/json" } }, opts || {}))
      .then(function (r) {
        var type = r.headers.get("content-type") || "";
        if (r.status === 401 || r.status === 403 || (r.redirected && /\/login/.test(r.url))) {
          throw new Error("会话已失效，请重新登录（已填写的内容已保存在本机，登录后自动恢复）");
        }
        if (!r.ok || type.indexOf("application/json") < 0) throw new Error("服务器暂时无法处理（" + r.status + "）");
        return r.json();
      });
  }

  function loadHistory(phone) {
    var url = "/operator/history?phone=" + encodeURIComponent(phone || "");
    if (window.htmx) { window.htmx.ajax("GET", url, "#history"); return; }
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { if (html) $("history").innerHTML = html; });
  }

  // ---- the form's values ------------------------------------------------------------------------
  var FIELDS = ["caller_phone", "caller_name", "address", "kind", "category", "content", "urgent", "confidential",
                "no_callback", "department", "department_manual", "kind_manual", "answer", "into", "linkedid",
                "call_time", "form_key"];

  function values() {
    var v = {};
    FIELDS.forEach(function (name) {
      var el = form.elements[name];
      if (!el) return;
      v[name] = el.type === "checkbox" ? (el.checked ? "1" : "") : el.value;
    });
    return v;
  }

  function fill(v) {
    FIELDS.forEach(function (name) {
      var el = form.elements[name];
      if (!el || v[name] === undefined) return;
      if (el.type === "checkbox") el.checked = !!v[name]; else el.value = v[name];
    });
    current = $("f-linkedid").value || null;
  }

  // typed by the operator: a call that arrives now must not land in it
  function busy() {
    var v = values();
    return !!(v.caller_name || v.address || v.content.trim() || v.answer || v.into);
  }

  // ---- drafts -----------------------------------------------------------------------------------
  function keepLocal() {
    try { localStorage.setItem(LOCAL, JSON.stringify({ at: Date.now(), fields: values() })); } catch (e) { /* full */ }
  }

  function dropLocal(key) {
    try {
      var d = JSON.parse(localStorage.getItem(LOCAL) || "null");
      if (d && (!key || d.fields.form_key === key)) localStorage.removeItem(LOCAL);
    } catch (e) { localStorage.removeItem(LOCAL); }
  }

  function saveDraft() {
    if (!dirty || saving || inflight) return;
    dirty = false; saving = true;
    var body = new FormData(form);
    body.delete("then");
    fetchJSON("/operator/draft", { method: "POST", body: body, headers: { "X-CSRF-Token": csrf, "Accept": "application/json" } })
      .then(function (r) { note("draft-state", "草稿已保存 " + r.saved); })
      .catch(function (e) { dirty = true; note("draft-state", "草稿未能保存到服务器：" + e.message); })
      .then(function () { saving = false; });
  }

  function changed() { dirty = true; keepLocal(); }
  form.addEventListener("input", changed);
  form.addEventListener("change", function () { changed(); saveDraft(); });
  setInterval(saveDraft, SAVE_EVERY);
  window.addEventListener("pagehide", function () {
    if (dirty && navigator.sendBeacon && !inflight) {
      var body = new FormData(form); body.set("csrf_token", csrf);
      navigator.sendBeacon("/operator/draft", body);
    }
  });

  // the server's draft is in the page already (values); a newer copy kept in this browser — the
  // session had expired, the server could not be reached — wins when the form came back empty
  (function restoreLocal() {
    var submitted = form.dataset.submittedKey;
    var d = null;
    try { d = JSON.parse(localStorage.getItem(LOCAL) || "null"); } catch (e) { d = null; }
    if (!d || !d.fields) return;
    if (submitted && d.fields.form_key === submitted) { dropLocal(); return; }
    if (Date.now() - d.at > 86400000) { dropLocal(); return; }
    if (busy()) return;
    var f = d.fields;
    if (!(f.caller_name || f.address || (f.content || "").trim() || f.answer || f.into || f.caller_phone)) return;
    fill(f);
    note("draft-state", "已恢复本机保存的草稿");
    dirty = true;
  })();

  // ---- department: the suggestion never overrides the operator's pick ------------------------------
  var manual = $("f-department-manual");
  $("f-department").addEventListener("change", function () { manual.value = this.value ? "1" : ""; suggest(); });
  $("f-kind").addEventListener("change", function () {
    $("f-kind-manual").value = "1";
    // 干部举报: the caller's identity is kept from the departments (举报人信息保密)
    if (this.value === "report") $("f-confidential").checked = true;
  });

  var suggestTimer = null;
  function suggest() {
    var cat = $("f-category").value;
    if (!cat) return;
    var q = "category=" + encodeURIComponent(cat) + "&content=" + encodeURIComponent($("f-content").value) +
            "&address=" + encodeURIComponent($("f-address").value);
    fetchJSON("/operator/suggest?" + q).then(function (s) {
      if (!s.department_code) { note("suggest-note", "（无推荐，请选择）"); return; }
      if (manual.value !== "1") $("f-department").value = s.department_code;
      var picked = manual.value === "1" && $("f-department").value !== s.department_code;
      note("suggest-note", "（推荐：" + s.department + (s.reason ? "，依据 " + s.reason : "") + (picked ? "；已按您的选择派单" : "") + "）");
      $("suggest-note").dataset.department = s.department_code;
    }).catch(function (e) { note("suggest-note", "（" + e.message + "）"); });
  }
  function suggestLater() { clearTimeout(suggestTimer); suggestTimer = setTimeout(suggest, 400); }
  $("f-category").addEventListener("change", suggest);
  $("f-content").addEventListener("input", suggestLater);
  $("f-address").addEventListener("input", suggestLater);
  if ($("f-category").value) suggest();

  // ---- one submit, one case -----------------------------------------------------------------------
  form.addEventListener("submit", function (e) {
    if (inflight) { e.preventDefault(); return; }
    inflight = true;
    keepLocal();
    note("submit-state", "正在提交，请稍候…");
    // disabled after the browser has taken the form's data (the clicked button's value included)
    setTimeout(function () {
      Array.prototype.forEach.call(document.querySelectorAll('button[type="submit"]'), function (b) {
        if (b.form === form || b.getAttribute("form") === "register-form") b.disabled = true;
      });
    }, 0);
  });
  window.addEventListener("pageshow", function (e) {
    if (!e.persisted) return;  // back to this page from the cache: the same form, the same key
    inflight = false;
    note("submit-state", "");
    Array.prototype.forEach.call(form.querySelectorAll('button[type="submit"]'), function (b) { b.disabled = false; });
  });

  // ---- the saved case's number, read back ---------------------------------------------------------
  var copy = $("copy-case");
  if (copy) {
    copy.addEventListener("click", function () {
      var n = copy.dataset.number;
      var done = function () { note("copy-note", "已复制 " + n); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(n).then(done, function () { fallbackCopy(n); done(); });
      } else { fallbackCopy(n); done(); }
    });
  }
  function fallbackCopy(text) {
    var t = document.createElement("textarea");
    t.value = text; document.body.appendChild(t); t.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(t);
  }

  // ---- calls: into the form, or beside it when the form is being typed ------------------------------
  function queued() { try { return JSON.parse(sessionStorage.getItem(QUEUE) || "[]"); } catch (e) { return []; } }
  function setQueued(list) { sessionStorage.setItem(QUEUE, JSON.stringify(list)); }

  function pop(call) {
    current = call.linkedid;
    var last = $("last-case");
    if (last) last.classList.add("hidden");  // the number stays until the next call
    $("pop-number").textContent = call.number || "（未显示号码）";
    $("pop-time").textContent = call.time;
    $("pop-line").textContent = call.line ? "第 " + call.line + " 线" : "—";
    $("pop-state").textContent = call.ended ? "已挂机" : "通话中";
    $("pop-state").className = call.ended ? "badge" : "badge busy";
    $("pop").classList.remove("hidden");
    $("f-linkedid").value = call.linkedid || "";
    $("f-time").value = call.time;
    $("f-phone").value = call.number || "";
    $("f-phone").dispatchEvent(new Event("input", { bubbles: true }));  // the number's likely duplicates (similar.js)
    $("f-name").focus();
    loadHistory(call.number);
    document.title = "来电 " + (call.number || "") + " · 话务台";
    changed(); saveDraft();
  }

  function card(call) {
    var box = $("waiting-calls");
    if (box.querySelector('[data-linkedid="' + call.linkedid + '"]')) return;
    var node = $("call-card-tpl").content.firstElementChild.cloneNode(true);
    node.dataset.linkedid = call.linkedid;
    node.querySelector(".cc-number").textContent = call.number || "（未显示号码）";
    node.querySelector(".cc-time").textContent = call.time;
    if (call.ended) { var st = node.querySelector(".cc-state"); st.textContent = "已挂机"; st.className = "cc-state badge"; }
    node.querySelector(".cc-take").addEventListener("click", function () {
      if (busy()) { note("submit-state", "请先保存或放弃当前登记，再登记新来电"); return; }
      take(call.linkedid);
    });
    box.appendChild(node);
  }

  function take(linkedid) {
    var list = queued(), call = null;
    list = list.filter(function (c) { if (c.linkedid === linkedid) { call = c; return false; } return true; });
    setQueued(list);
    var node = document.querySelector('#waiting-calls [data-linkedid="' + linkedid + '"]');
    if (node) node.parentNode.removeChild(node);
    if (call) pop(call);
  }

  function arrive(call) {
    if (busy() && call.linkedid !== current) {
      var list = queued();
      if (!list.some(function (c) { return c.linkedid === call.linkedid; })) { list.push(call); setQueued(list); }
      card(call);
      document.title = "新来电 " + (call.number || "") + " · 话务台";
      return;
    }
    pop(call);
  }

  // calls that waited beside the form before this page (re)loaded: shown again; the first goes
  // into the form once it is free
  (function restoreQueue() {
    var list = queued();
    if (!list.length) return;
    if (!busy()) { take(list[0].linkedid); list = queued(); }
    list.forEach(card);
  })();

  // 示忙/置闲/话后整理 as the PBX has it (AgentBoard.pause_view)
  function showPause(v) {
    var badge = $("seat-state");
    badge.textContent = v.label;
    badge.className = "badge " + (v.acw ? "acw" : v.paused ? "paused" : "ready");
    $("seat-reason").textContent = v.paused && v.reason && !v.acw ? v.reason : "";
    $("seat-pending").classList.toggle("hidden", !v.pending);
    $("seat-target").value = v.paused ? "0" : "1";
    $("toggle-ready").textContent = v.paused ? "置闲（接听来电）" : "示忙（暂停接听）";
    $("pause-error").textContent = v.error || "";
    $("pause-error").classList.toggle("hidden", !v.error);
  }

  if (!window.EventSource) { conn.title = "浏览器不支持来电推送"; return; }
  var es = new EventSource("/operator/stream");
  es.addEventListener("hello", function () { conn.classList.add("on"); conn.title = "来电推送已连接"; });
  es.addEventListener("call", function (e) { arrive(JSON.parse(e.data)); });
  es.addEventListener("pause", function (e) { showPause(JSON.parse(e.data)); });
  es.addEventListener("ended", function (e) {
    var d = JSON.parse(e.data);
    if (d.linkedid === current) {
      $("pop-state").textContent = d.acw_max_s ? "已挂机 · 话后整理（最长 " + d.acw_max_s + " 秒）" : "已挂机";
      $("pop-state").className = "badge";
    }
    var list = queued().map(function (c) { if (c.linkedid === d.linkedid) c.ended = true; return c; });
    setQueued(list);
    var node = document.querySelector('#waiting-calls [data-linkedid="' + d.linkedid + '"] .cc-state');
    if (node) { node.textContent = "已挂机"; node.className = "cc-state badge"; }
  });
  es.onerror = function () { conn.classList.remove("on"); conn.title = "来电推送重连中…"; };
  window.addEventListener("beforeunload", function () { es.close(); });
})();
