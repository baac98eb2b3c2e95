// Live updates over Server-Sent Events: the page names its stream in data-events.
// No framework and nothing from another site (the pages' Content-Security-Policy is 'self').
(function () {
  "use strict";
  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value == null ? "" : String(value); }
  }
  function pathOf(call) {
    return (call.ivr_path || []).map(function (s) { return Array.isArray(s) ? s[0] : s; }).join(" → ");
  }
  function setState(el, state) {
    // The element's state-<name> class gives the state's colour (style.css).
    el.className = el.className.replace(/\bstate-[a-z_]+\b/g, "").trim() + " state-" + state;
    el.setAttribute("data-state", state);
  }
  function loadHistory(callId) {
    var box = document.getElementById("history");
    if (!box || box.getAttribute("data-call") === callId) { return; }
    box.setAttribute("data-call", callId);
    fetch("/agent/calls/" + encodeURIComponent(callId) + "/history", {credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        // Our own server-rendered fragment (escaped by Jinja), for the call still shown.
        if (box.getAttribute("data-call") === callId) { box.innerHTML = html; }
      });
  }
  function agentUpdate(data) {
    var root = document.getElementById("agent");
    if (root) { setState(root, data.state); }
    text("agent-state", data.label);
    text("agent-for", data["for"]);
    var wrapup = document.getElementById("wrapup");
    if (wrapup) {
      wrapup.hidden = !data.wrapup_left;
      text("wrapup-left", data.wrapup_left);
    }
    var pop = document.getElementById("screen-pop");
    if (!pop) { return; }
    var call = data.call;
    if (!call) { return; }  // keep the last call on screen through wrap-up
    pop.hidden = false;
    text("pop-caller", call.caller_number);
    text("pop-name", call.caller_name || "");
    text("pop-queue", call.queue_name);
    text("pop-wait", call.wait);
    if (call.talk) { text("pop-talk", call.talk); }  // through wrap-up: the talk it had
    text("pop-path", pathOf(call));
    text("pop-digits", (call.digits || []).join(" "));
    var vars = call.variables || {};
    text("pop-vars", Object.keys(vars).map(function (k) { return k + "=" + vars[k]; }).join(" "));
    var form = document.getElementById("disposition-form");
    if (form) { form.action = "/agent/calls/" + encodeURIComponent(call.call_id) + "/disposition"; }
    var crm = document.getElementById("pop-crm");
    if (crm && call.crm_url) { crm.href = call.crm_url; crm.hidden = false; }
    loadHistory(call.call_id);
  }
  function field(row, selector, value) {
    var el = row.querySelector(selector);
    if (el) { el.textContent = value == null ? "" : String(value); }
  }
  function wallboardUpdate(data) {
    text("board-clock", data.clock);
    text("board-period", data.period);
    var tiles = document.getElementById("tiles");
    // The tiles have no controls: they are redrawn from the server's HTML (escaped by Jinja).
    if (tiles && typeof data.tiles === "string") { tiles.innerHTML = data.tiles; }
    (data.agents || []).forEach(function (a) {
      var row = document.querySelector('tr[data-agent="' + a.id + '"]');
      if (!row) { return; }
      // In place, never a reload: a keyboard user's focus stays where it is.
      setState(row, a.state);
      field(row, ".state", a.label);
      field(row, ".wrapup-left", a.wrapup_left ? " " + a.wrapup_left + " left" : "");
      field(row, ".for", a["for"]);
      field(row, ".calls-today", a.calls_today);
      var cell = row.querySelector(".call");
      if (cell) {
        cell.textContent = "";
        if (a.call) {
          [["caller", a.call.caller], ["queue", a.call.queue], ["talk", a.call.talk]].forEach(function (part) {
            var span = document.createElement("span");
            span.className = part[0];
            span.textContent = part[1];
            cell.appendChild(span);
            cell.appendChild(document.createTextNode(" "));
          });
        }
      }
      var supervise = row.querySelector("form.supervise");
      if (supervise) {
        supervise.hidden = !a.call_id;
        if (a.call_id) { supervise.action = "/wallboard/calls/" + encodeURIComponent(a.call_id) + "/listen"; }
      }
    });
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
