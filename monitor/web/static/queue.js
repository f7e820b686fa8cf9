// Live review queue of alerts (live.js): updates each alert's row in place (status, count,
// owner) and says how many new ones arrived.
(function () {
  "use strict";
  window.liveTable({
    table: document.querySelector("[data-live-queue]"),
    event: "alert",
    freshStatus: "new",
    one: "new alert has arrived",
    many: "new alerts have arrived",
    update: function (row, alert, setField) {
      setField(row, "status", String(alert.status));
      setField(row, "post_count", String(alert.post_count));
      var open = alert.status === "new" || alert.status === "acknowledged";
      setField(row, "owner", !alert.owner ? "—" : open ? "Locked: " + String(alert.owner)
        : String(alert.status) + " by " + String(alert.owner));
      if (alert.owner) {
        var take = row.querySelector("form[data-take]");
        if (take) { take.remove(); }
      }
    }
  });
})();
