// Live review queue: listens to /events (server-sent events) and updates the table in place.
// It only ever sets textContent (never HTML), so nothing sent can become markup.
(function () {
  "use strict";
  var table = document.querySelector("[data-live-queue]");
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
      n + (n === 1 ? " new alert has" : " new alerts have") + " arrived since this page was loaded. "));
    var link = document.createElement("a");
    link.href = window.location.pathname + window.location.search;
    link.textContent = "Show them";
    status.appendChild(link);
  }

  function setField(row, name, value) {
    var cell = row.querySelector('[data-field="' + name + '"]');
    if (cell) { cell.textContent = value; }
  }

  // The session ended (signed out, expired, disabled): stop, rather than reconnect for ever.
  source.addEventListener("signed-out", function () { source.close(); });

  source.addEventListener("alert", function (event) {
    var alert;
    try { alert = JSON.parse(event.data); } catch (e) { return; }
    var row = table ? document.getElementById("alert-" + String(alert.id)) : null;
    if (row) {
      setField(row, "status", String(alert.status));
      setField(row, "post_count", String(alert.post_count));
      var open = alert.status === "new" || alert.status === "acknowledged";
      setField(row, "owner", !alert.owner ? "—" : open ? "Locked: " + String(alert.owner)
        : String(alert.status) + " by " + String(alert.owner));
      if (alert.owner) {
        var take = row.querySelector("form[data-take]");
        if (take) { take.remove(); }
      }
    } else if (alert.status === "new") {
      fresh[alert.id] = true;
      announce();
    }
  });
})();
