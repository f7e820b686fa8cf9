// The rule editor checks the draft as it is typed: the server's loader runs on it (POST
// /api/v1/admin/rules/validate) and its file:line problems and the examples' result are shown
// in a live region. Text is only ever set with textContent (the page's CSP allows no inline
// script, and a rule file is text, never markup).
(() => {
  "use strict";
  const area = document.getElementById("rule-text");
  const out = document.getElementById("live-check");
  const token = document.querySelector("#rule-form input[name=csrf_token]");
  if (!area || !out || !token) return;
  let timer = null;
  let sent = 0;

  function line(text, tag) {
    const el = document.createElement(tag || "li");
    el.textContent = text;
    return el;
  }

  function show(body) {
    out.replaceChildren();
    if (body.error) {
      out.append(line(body.error, "p"));
      return;
    }
    const failed = body.examples.failed.length;
    const summary = body.ok
      ? `Loads cleanly: ${body.rules.length} rules; examples ${body.examples.passed} passed, ${failed} failed.`
      : `Does not load: ${body.problems.filter((p) => p.level === "error").length} error(s).`;
    out.append(line(summary, "p"));
    const list = document.createElement("ul");
    for (const p of body.problems) {
      list.append(line(`${p.file}${p.line ? ":" + p.line : ""}: ${p.level}: ${p.message}`));
    }
    for (const e of body.examples.failed) {
      list.append(line(`${e.rule} (line ${e.line}): expected ${e.expected}: ${e.text}`));
    }
    if (list.children.length) out.append(list);
  }

  async function check() {
    const mine = ++sent;
    try {
      const response = await fetch("/api/v1/admin/rules/validate", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token.value },
        body: JSON.stringify({ pack: area.dataset.pack, file: area.dataset.file, text: area.value }),
      });
      const body = await response.json();
      if (mine === sent) show(body);
    } catch (err) {
      if (mine === sent) show({ error: "The draft could not be checked just now." });
    }
  }

  area.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 600);
  });
})();
