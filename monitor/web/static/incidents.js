// Live review queue of incidents (live.js): updates each incident's row in place (status, level,
// trend, counts) and says how many new ones opened.
(function () {
  "use strict";
  window.liveTable({
    table: document.getElementById("incidents"),
    event: "incident",
    freshStatus: "open",
    one: "new incident has opened",
    many: "new incidents have opened",
    update: function (row, incident, setField) {
      setField(row, "status", String(incident.status));
      setField(row, "level", String(incident.level));
      setField(row, "trend", String(incident.trend));
      setField(row, "post_count", String(incident.post_count));
      setField(row, "authors", String(incident.authors));
      setField(row, "alert_count", String(incident.alert_count));
    }
  });
})();
