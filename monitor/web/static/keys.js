// Review-queue keyboard shortcuts and focus (a file, not inline: the CSP allows only 'self').
//   j / k   next / previous alert (focus moves to the row's link)
//   t       take the focused alert (the row's Take form)
//   d       select the focused alert for dismissing and go to the reason
//   e       escalate the focused alert (its page, focus on the Escalate form)
// After an action the server names the row to focus (data-focus), so the keyboard stays on
// the next alert instead of jumping to the top. Keys typed into a field are left alone.
(function () {
  "use strict";
  var table = document.getElementById("queue");
  var escalate = document.getElementById("escalate-to");
  if (escalate && window.location.hash === "#escalate-to") { escalate.focus(); }
  if (!table) { return; }

  function rows() { return Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-alert]")); }
  function linkOf(row) { return row ? row.querySelector("[data-row-link]") : null; }
  function current() {
    var el = document.activeElement;
    return el && el.closest ? el.closest("tr[data-alert]") : null;
  }
  function focusRow(row) {
    var link = linkOf(row);
    if (link) { link.focus(); link.scrollIntoView({block: "nearest"}); }
  }

  var wanted = table.getAttribute("data-focus");
  if (wanted) { focusRow(document.getElementById("alert-" + wanted)); }

  // Dismissing a selection: the row after the last one selected keeps the focus afterwards.
  var bulk = document.getElementById("bulk");
  if (bulk) {
    bulk.addEventListener("submit", function () {
      var all = rows(), last = -1, i;
      for (i = 0; i < all.length; i++) {
        var box = all[i].querySelector("input[type=checkbox]");
        if (box && box.checked) { last = i; }
      }
      var next = null;
      for (i = last + 1; i < all.length && !next; i++) {
        var b = all[i].querySelector("input[type=checkbox]");
        if (!b || !b.checked) { next = all[i]; }
      }
      if (next) {
        var url = new URL(bulk.action, window.location.href);
        url.searchParams.set("focus", next.getAttribute("data-alert"));
        bulk.action = url.pathname + url.search;
      }
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var t = event.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName))) {
      if (!(t.tagName === "INPUT" && t.type === "checkbox") && t.tagName !== "BUTTON") { return; }
    }
    var all = rows();
    if (!all.length) { return; }
    var row = current();
    var at = row ? all.indexOf(row) : -1;
    var key = event.key;
    if (key === "j" || key === "k") {
      var next = key === "j" ? Math.min(at + 1, all.length - 1) : Math.max(at - 1, 0);
      focusRow(all[next]);
      event.preventDefault();
      return;
    }
    if (!row) { return; }
    if (key === "t") {
      var take = row.querySelector("form[data-take]");
      if (take) { event.preventDefault(); take.requestSubmit(); }
    } else if (key === "d") {
      var box = row.querySelector("input[type=checkbox]");
      var reason = document.getElementById("bulk-reason");
      if (box && reason) {
        event.preventDefault();
        box.checked = true;
        reason.focus();
        reason.scrollIntoView({block: "nearest"});
      }
    } else if (key === "e") {
      var link = row.querySelector("[data-escalate]");
      if (link) { event.preventDefault(); window.location.href = link.href; }
    }
  });
})();
