// The report's table: filter, search and paginate the resources embedded below.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("tollgate-data").textContent);
  const checks = data.checks;
  const files = data.files;
  const rows = data.resources; // [file, document, kind, namespace, name, [check index...], [message...]]
  const PAGE = 50;
  const $ = (id) => document.getElementById(id);
  const state = { text: "", check: "", severity: "", failing: true, page: 0 };
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.has("check")) state.check = params.get("check");
  if (params.has("q")) state.text = params.get("q");
  if (params.has("all")) state.failing = false;

  const checkSelect = $("filter-check");
  checks.forEach((c, i) => {
    const o = document.createElement("option");
    o.value = c.id;
    o.textContent = c.id + " " + c.title;
    checkSelect.appendChild(o);
  });
  checkSelect.value = state.check;
  $("filter-text").value = state.text;
  $("filter-failing").checked = state.failing;

  function matches(r) {
    if (state.failing && r[5].length === 0) return false;
    if (state.check) {
      const i = checks.findIndex((c) => c.id === state.check);
      if (!r[5].includes(i)) return false;
    }
    if (state.severity && !r[5].some((i) => checks[i].severity === state.severity)) return false;
    if (state.text) {
      const t = state.text.toLowerCase();
      const hay = (files[r[0]] + " " + r[2] + " " + (r[3] || "") + " " + (r[4] || "")).toLowerCase();
      if (!hay.includes(t) && !r[5].some((i) => checks[i].id.toLowerCase().includes(t))) return false;
    }
    return true;
  }

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function render() {
    const hits = rows.filter(matches);
    const pages = Math.max(1, Math.ceil(hits.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    $("match-count").textContent = hits.length;
    $("page").textContent = (state.page + 1) + " / " + pages;
    const body = $("resources-body");
    body.textContent = "";
    for (const r of hits.slice(state.page * PAGE, state.page * PAGE + PAGE)) {
      const tr = document.createElement("tr");
      tr.className = "resource";
      cell(tr, r[2]);
      cell(tr, r[3] || "");
      cell(tr, r[4] || "(unnamed)");
      cell(tr, files[r[0]] + "#" + r[1], "file");
      const td = cell(tr, "");
      r[5].forEach((ci, k) => {
        const c = checks[ci];
        const d = document.createElement("details");
        d.className = "finding sev-" + c.severity.toLowerCase();
        d.dataset.check = c.id;
        const s = document.createElement("summary");
        s.textContent = c.severity + " " + c.id + " " + c.title;
        d.appendChild(s);
        const msg = r[6][k];
        for (const [label, text] of [["finding", msg], ["description", c.description], ["remediation", c.remediation]]) {
          if (!text) continue;
          const p = document.createElement("p");
          p.textContent = label + ": " + text;
          d.appendChild(p);
        }
        td.appendChild(d);
      });
      if (r[5].length === 0) td.textContent = "all checks pass";
      body.appendChild(tr);
    }
  }

  const update = () => { state.page = 0; render(); };
  $("filter-text").addEventListener("input", (e) => { state.text = e.target.value; update(); });
  checkSelect.addEventListener("change", (e) => { state.check = e.target.value; update(); });
  $("filter-severity").addEventListener("change", (e) => { state.severity = e.target.value; update(); });
  $("filter-failing").addEventListener("change", (e) => { state.failing = e.target.checked; update(); });
  $("prev").addEventListener("click", () => { state.page = Math.max(0, state.page - 1); render(); });
  $("next").addEventListener("click", () => { state.page += 1; render(); });
  render();
  document.body.dataset.ready = "true";
})();
