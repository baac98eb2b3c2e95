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
    text("pop-wait", call.wait_seconds);
    text("pop-path", pathOf(call));
    text("pop-digits", (call.digits || []).join(" "));
    var vars = call.variables || {};
    text("pop-vars", Object.keys(vars).map(function (k) { return k + "=" + vars[k]; }).join(" "));
    var form = document.getElementById("disposition-form");
    if (form) { form.action = "/agent/calls/" + encodeURIComponent(call.call_id) + "/disposition"; }
    var crm = document.getElementById("pop-crm");
    if (crm && call.crm_url) { crm.href = call.crm_url; crm.hidden = false; }
  }
  function wallboardUpdate(data) {
    (data.status.queues || []).forEach(function (q) {
      var row = document.querySelector('tr[data-queue="' + (q.queue_id || q.id) + '"]');
      if (!row) { return; }
      row.querySelector(".waiting").textContent = q.waiting || 0;
      row.querySelector(".longest").textContent = Math.round(q.longest_wait || 0);
    });
    var needsReload = false;
    (data.status.agents || []).forEach(function (a) {
      var row = document.querySelector('tr[data-agent="' + (a.agent_id || a.id) + '"]');
      if (!row) { return; }
      row.querySelector(".state").textContent = a.state + (a.reason ? " (" + a.reason + ")" : "");
      var cell = row.querySelector(".call");
      if ((cell.textContent || "") !== (a.call_id || "")) { needsReload = true; }
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
}());
