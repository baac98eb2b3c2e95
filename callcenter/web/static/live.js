// Live updates over Server-Sent Events: the page names its stream in data-events.
(function () {
  "use strict";
  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value == null ? "" : String(value); }
  }
  function pathOf(call) {
    return (call.ivr_path || []).map(function (s) { return Array.isArray(s) ? s[0] : s; }).join(" → ");
  }
  function agentUpdate(data) {
    text("agent-state", data.state);
    var pop = document.getElementById("screen-pop");
    if (!pop) { return; }
    var call = data.call;
    if (!call) { return; }  // keep the last call on screen through wrap-up
    pop.hidden = false;
    text("pop-caller", call.caller_number);
    text("pop-queue", call.queue_id);
    text("pop-wait", call.wait_seconds == null ? "" : call.wait_seconds + " s");
    text("pop-path", pathOf(call));
    text("pop-digits", (call.digits || []).join(" "));
    var vars = call.variables || {};
    text("pop-vars", Object.keys(vars).map(function (k) { return k + "=" + vars[k]; }).join(" "));
    var form = document.getElementById("disposition-form");
    if (form) { form.action = "/agent/calls/" + encodeURIComponent(call.call_id) + "/disposition"; }
    var crm = document.getElementById("pop-crm");
    if (crm && call.crm_url) { crm.href = call.crm_url; crm.hidden = false; }
  }
  function number(value, unit) {
    // As `callcenter report` prints a ratio or average: "-" when undefined, one decimal
    // (JSON turns 50.0 into 50, so the decimal is forced here).
    if (value == null) { return "-"; }
    return Number(value).toFixed(1) + (unit || "");
  }
  function wallboardUpdate(data) {
    var kpis = data.kpis || {};
    (data.status.queues || []).forEach(function (q) {
      var id = q.queue_id || q.id;
      var row = document.querySelector('tr[data-queue="' + id + '"]');
      if (!row) { return; }
      row.querySelector(".waiting").textContent = q.waiting || 0;
      row.querySelector(".longest").textContent = Math.round(q.longest_wait || 0);
      var k = kpis[id] || {};
      row.querySelector(".offered").textContent = k.offered || 0;
      row.querySelector(".answered").textContent = k.answered || 0;
      row.querySelector(".service-level").textContent = number(k.service_level, "%");
      row.querySelector(".asa").textContent = number(k.asa);
      row.querySelector(".abandon-rate").textContent = number(k.abandon_rate, "%");
    });
    var needsReload = false;
    (data.status.agents || []).forEach(function (a) {
      var row = document.querySelector('tr[data-agent="' + (a.agent_id || a.id) + '"]');
      if (!row) { return; }
      row.querySelector(".state").textContent = a.state + (a.reason ? " (" + a.reason + ")" : "");
      var since = row.querySelector(".since");
      if (since) { since.textContent = a.since || ""; }
      var cell = row.querySelector(".call");
      if ((cell.textContent || "") !== (a.call_id || "")) { needsReload = true; }
      var supervisable = a.call_id && a.state === "on_call" ? "1" : "0";
      if (row.getAttribute("data-supervisable") !== supervisable) { needsReload = true; }
    });
    // A call started or ended: re-render so the listen/whisper/barge buttons match.
    if (needsReload) { window.location.reload(); }
  }
  var root = document.querySelector("[data-events]");
  if (!root || !window.EventSource) { return; }
  var source = new EventSource(root.getAttribute("data-events"));
  source.onmessage = function (message) {
    var data = JSON.parse(message.data);
    if (root.id === "agent") { agentUpdate(data); } else { wallboardUpdate(data); }
  };
  // The session ended on the server (signed out elsewhere, password changed, user disabled).
  source.addEventListener("signed-out", function () {
    source.close();
    window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
  });
}());
