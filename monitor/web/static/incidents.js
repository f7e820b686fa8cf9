// Live review queue of incidents: listens to /events (server-sent events) and updates each
// incident's row in place (status, level, trend, counts); says how many new ones arrived.
// It only ever sets textContent (never HTML), so nothing sent can become markup.
(function () {
  "use strict";
  var table = document.getElementById("incidents");
  var status = document.getElementById("live-status");
  if (!status || !window.EventSource) { return; }
  var since = status.getAttribute("data-since") || "";
  var source = new EventSource("/events?since=" + encodeURIComponent(since));
  var fresh = {};

  function announce() {
    var n = Object.keys(fresh).length;
    status.textContent = "";
    if (n === 0) { return; }
    status.appendChild(document.createTextNode(
      n + (n === 1 ? " new incident has" : " new incidents have") + " opened since this page was loaded. "));
    var link = document.createElement("a");
    link.href = window.location.pathname + window.location.search;
    link.textContent = "Show them";
    status.appendChild(link);
  }

  function setField(row, name, value) {
    var cell = row.querySelector('[data-field="' + name + '"]');
    if (cell) { cell.textContent = value; }
  }

  source.addEventListener("signed-out", function () { source.close(); });

  source.addEventListener("incident", function (event) {
    var incident;
    try { incident = JSON.parse(event.data); } catch (e) { return; }
    var row = table ? document.getElementById("incident-" + String(incident.id)) : null;
    if (row) {
      setField(row, "status", String(incident.status));
      setField(row, "level", String(incident.level));
      setField(row, "trend", String(incident.trend));
      setField(row, "post_count", String(incident.post_count));
      setField(row, "authors", String(incident.authors));
      setField(row, "alert_count", String(incident.alert_count));
    } else if (incident.status === "open") {
      fresh[incident.id] = true;
      announce();
    }
  });
})();
