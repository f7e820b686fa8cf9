// Live tables shared by the review queues: listens to /events (server-sent events), updates each
// shown row in place through the page's own `update`, and says how many new items arrived since
// the page was loaded. It only ever sets textContent (never HTML), so nothing sent can become
// markup.
window.liveTable = function (options) {
  "use strict";
  var table = options.table;
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
      n + " " + (n === 1 ? options.one : options.many) + " since this page was loaded. "));
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

  source.addEventListener(options.event, function (event) {
    var item;
    try { item = JSON.parse(event.data); } catch (e) { return; }
    var row = table ? document.getElementById(options.event + "-" + String(item.id)) : null;
    if (row) {
      options.update(row, item, setField);
    } else if (item.status === options.freshStatus) {
      fresh[item.id] = true;
      announce();
    }
  });
};
