/* dozor containers: sortable and filterable tables, and the live log view.
   Text only ever goes in through textContent: log lines are data, never HTML. */
(function () {
  "use strict";
  var D = document;

  /* ---- tables: click a header to sort, type to filter ---- */
  // table id → [column, ascending], and the filter text, kept across
  // the dashboard's auto-refresh (which replaces the tables)
  var sorted = {}, filters = {};
  function sortBy(th, asc) {
    var table = th.closest("table"), tb = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var num = th.dataset.sort === "num";
    if (asc == null) asc = th.getAttribute("aria-sort") !== "ascending";
    if (table.id) sorted[table.id] = [col, asc];
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var key = function (tr) {
      var td = tr.children[col];
      var v = td ? (td.dataset.v != null ? td.dataset.v : td.textContent) : "";
      return num ? parseFloat(v) : v.toLowerCase();
    };
    var rows = Array.from(tb.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b), c = num ? x - y : (x < y ? -1 : x > y ? 1 : 0);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { tb.appendChild(r); });
  }
  function filterTable(input) {
    var t = D.getElementById(input.dataset.table), q = input.value.trim().toLowerCase();
    if (!t) return;
    filters[input.dataset.table] = input.value;
    Array.from(t.tBodies[0].rows).forEach(function (r) {
      r.hidden = q !== "" && r.textContent.toLowerCase().indexOf(q) < 0;
    });
  }

  /* ---- logs: poll with the cursor every 1.5 s while following ---- */
  var MAX_KEPT = 5000;
  function ranges(text, m) {
    var out = [];
    if (typeof m === "string") {
      var low = text.toLowerCase(), i = 0;
      while ((i = low.indexOf(m, i)) >= 0) { out.push([i, i + m.length]); i += m.length; }
      return out;
    }
    m.lastIndex = 0;
    var r;
    while ((r = m.exec(text)) && out.length < 1000) {
      if (r[0].length === 0) { m.lastIndex++; continue; }
      out.push([r.index, r.index + r[0].length]);
    }
    return out;
  }
  function initLogs(sec) {
    if (sec.__dz) return;
    sec.__dz = true;
    var q = function (s) { return sec.querySelector(s); };
    var list = q(".log-lines"), status = q(".log-status"), follow = q(".log-follow");
    var filt = q(".log-filter"), rx = q(".log-regex"), out = q(".log-stdout"), err = q(".log-stderr");
    var lines = [], cursor = null, timer = null, busy = false, note = "";
    function matcher() {
      var v = filt.value;
      if (!v) return null;
      if (!rx.checked) return v.toLowerCase();
      try { return new RegExp(v, "gi"); } catch (e) { return false; }
    }
    function render() {
      var m = matcher(), f = D.createDocumentFragment(), shown = 0;
      lines.forEach(function (l) {
        if ((l.stream === "stdout" && !out.checked) || (l.stream === "stderr" && !err.checked)) return;
        var hits = m ? ranges(l.text, m) : [];
        if (m && !hits.length) return;
        var li = D.createElement("li");
        li.className = l.stream + (l.level ? " lvl-" + l.level : "");
        var t = D.createElement("time");
        t.textContent = l.ts.replace("T", " ").slice(0, 23);
        var s = D.createElement("span");
        var at = 0;
        hits.forEach(function (h) {
          s.appendChild(D.createTextNode(l.text.slice(at, h[0])));
          var mk = D.createElement("mark");
          mk.textContent = l.text.slice(h[0], h[1]);
          s.appendChild(mk);
          at = h[1];
        });
        s.appendChild(D.createTextNode(l.text.slice(at)));
        li.appendChild(t);
        li.appendChild(s);
        f.appendChild(li);
        shown++;
      });
      list.replaceChildren(f);
      if (follow.checked) list.scrollTop = list.scrollHeight;
      var bad = m === false ? " · not a valid regex" : "";
      status.textContent = shown + " of " + lines.length + " line(s)" + note + bad;
    }
    var behind = false;
    function schedule() {
      clearTimeout(timer);
      // Lines are waiting (the answer stopped at its limit): ask again now.
      if (follow.checked && !D.hidden) timer = setTimeout(poll, behind ? 0 : 1500);
    }
    function poll() {
      if (busy) return;
      busy = true;
      var u = sec.dataset.src + "&tail=200" + (cursor ? "&since=" + encodeURIComponent(cursor) : "");
      fetch(u, { credentials: "same-origin" })
        .then(function (r) {
          return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || String(r.status)); return j; });
        })
        .then(function (j) {
          if (j.lines.length) {
            lines = lines.concat(j.lines);
            if (lines.length > MAX_KEPT) lines = lines.slice(lines.length - MAX_KEPT);
          }
          cursor = j.cursor || cursor;
          behind = !!j.more;
          note = (j.truncated ? " · older lines left out (over the fetch limit)" : "") +
            (behind ? " · catching up" : "") +
            " · updated " + new Date().toLocaleTimeString();
          sec.classList.remove("failed");
          render();
        })
        .catch(function (e) {
          note = "";
          behind = false;
          status.textContent = String(e.message || e);
          sec.classList.add("failed");
        })
        .then(function () { busy = false; schedule(); });
    }
    follow.addEventListener("change", function () { if (follow.checked) poll(); else clearTimeout(timer); });
    [filt, rx, out, err].forEach(function (i) { i.addEventListener("input", render); i.addEventListener("change", render); });
    q(".log-download").addEventListener("click", function () {
      var text = lines.map(function (l) { return l.ts + " " + l.stream + " " + l.text; }).join("\n") + "\n";
      var a = D.createElement("a");
      a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      a.download = sec.dataset.file || "container.log";
      D.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    });
    D.addEventListener("visibilitychange", function () { if (!D.hidden && follow.checked) poll(); });
    // The page came with the last lines and their cursor: adopt them and
    // ask only for what follows.
    if (sec.dataset.cursor) {
      Array.prototype.forEach.call(list.children, function (li) {
        var l = { ts: li.dataset.ts || "", stream: li.dataset.stream || "stdout", text: li.querySelector("span").textContent };
        if (li.dataset.level) l.level = li.dataset.level;
        lines.push(l);
      });
      cursor = sec.dataset.cursor;
      note = " · as the page was made";
      render();
    }
    poll();
  }

  function init() {
    D.addEventListener("click", function (e) {
      var th = e.target.closest("table.sortable th[data-sort]");
      if (th) sortBy(th);
    });
    D.addEventListener("input", function (e) {
      if (e.target.matches("input.table-filter")) filterTable(e.target);
    });
    Array.from(D.querySelectorAll("section.logs[data-src]")).forEach(initLogs);
    D.addEventListener("dozor:refreshed", function () {
      Object.keys(sorted).forEach(function (id) {
        var th = D.querySelectorAll("#" + id + " thead th")[sorted[id][0]];
        if (th) sortBy(th, sorted[id][1]);
      });
      Array.from(D.querySelectorAll("input.table-filter")).forEach(function (i) {
        if (filters[i.dataset.table]) { i.value = filters[i.dataset.table]; filterTable(i); }
      });
    });
  }
  if (D.readyState === "loading") D.addEventListener("DOMContentLoaded", init);
  else init();
})();
