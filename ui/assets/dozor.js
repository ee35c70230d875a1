/* dozor dashboard enhancements (the page works without this) */
(function () {
  "use strict";

  var D = document, R = D.documentElement;
  var tip = null, dragging = false, hostFilter = "";

  function $$(s, c) { return Array.from((c || D).querySelectorAll(s)); }
  function el(tag, cls, text) {
    var e = D.createElement(tag);
    e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function setKids(p, nodes) { p.replaceChildren.apply(p, nodes); }
  function attrs(e, o) { for (var k in o) e.setAttribute(k, o[k]); }

  /* ---- formatting: at most 3 significant digits ---- */
  function n3(a) { return String(Number(a.toPrecision(3))); }
  function scaled(v, base, units, sep) {
    var a = Math.abs(v), i = 0, top = units.length - 1;
    while (a >= base && i < top) { a /= base; i++; }
    if (Number(a.toPrecision(3)) >= base && i < top) { a /= base; i++; }
    return (v < 0 ? "-" : "") + n3(a) + sep + units[i];
  }
  var IEC = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  var SEC = [[86400, " d"], [3600, " h"], [60, " min"], [1, " s"], [1e-3, " ms"], [1e-6, " µs"]];
  function secs(v) {
    var a = Math.abs(v), i = 0;
    if (!a) return "0 s";
    while (i < 5 && a < SEC[i][0]) i++;
    return (v < 0 ? "-" : "") + n3(a / SEC[i][0]) + SEC[i][1];
  }
  function fmt(v, unit) {
    switch (unit) {
      case "bytes": return scaled(v, 1024, IEC, " ");
      case "bytes/s": return scaled(v, 1024, IEC, " ") + "/s";
      case "bits/s": return scaled(v, 1000, ["bit", "kbit", "Mbit", "Gbit", "Tbit"], " ") + "/s";
      case "percent": return n3(v) + "%";
      case "percentunit": return n3(v * 100) + "%";
      case "seconds": return secs(v);
      default: return scaled(v, 1000, ["", "k", "M", "G", "T", "P"], ""); // short, count
    }
  }
  function utc(ms) { return new Date(ms).toISOString().slice(0, 19).replace("T", " "); }

  /* ---- theme ---- */
  function initTheme() {
    var saved;
    try { saved = localStorage.getItem("dozor-theme"); } catch (e) { /* blocked */ }
    if (saved === "light" || saved === "dark") R.dataset.theme = saved;
    $$(".theme-toggle").forEach(function (b) {
      b.hidden = false;
      b.addEventListener("click", function () {
        var cur = R.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
        R.dataset.theme = cur === "dark" ? "light" : "dark";
        try { localStorage.setItem("dozor-theme", R.dataset.theme); } catch (e) { /* ignore */ }
      });
    });
  }

  /* ---- charts ---- */
  function hideTip() { if (tip) tip.hidden = true; }
  function placeTip(cx, cy) { // keep inside the viewport
    var w = tip.offsetWidth, h = tip.offsetHeight, vw = R.clientWidth, vh = R.clientHeight;
    var x = cx + 14, y = cy + 14;
    if (x + w > vw - 4) x = cx - w - 14;
    if (y + h > vh - 4) y = cy - h - 14;
    tip.style.left = Math.max(4, Math.min(x, vw - w - 4)) + "px";
    tip.style.top = Math.max(4, Math.min(y, vh - h - 4)) + "px";
  }

  // A series' values, read back from its path (data coordinates: step
  // index, value / 10^e; see ui/src/chart/paths.rs). Areas end each run
  // with two base points; stacked bands come back along their bottom, and
  // a step's value is top minus bottom.
  function pathValues(p, len, kind, scale) {
    var out = [], i;
    for (i = 0; i < len; i++) out.push(null);
    if (!p) return out;
    (p.getAttribute("d") || "").split("M").forEach(function (run) {
      if (!run) return;
      var pts = run.replace("Z", "").split("L").map(function (xy) {
        var a = xy.trim().split(/\s+/);
        return [+a[0], +a[1]];
      });
      if (kind === "area") pts = pts.slice(0, Math.max(0, pts.length - 2));
      var n = kind === "stacked" ? pts.length / 2 : pts.length;
      for (i = 0; i < n; i++) {
        var k = pts[i][0], y = pts[i][1];
        if (kind === "stacked") y -= pts[pts.length - 1 - i][1];
        if (k >= 0 && k < len && isFinite(y)) out[k] = y * scale;
      }
    });
    return out;
  }

  function model(chart) {
    var d, svg = chart.querySelector("svg.plot");
    try { d = JSON.parse(chart.dataset.chart); } catch (e) { return null; }
    if (!svg || !d || !d.s || !d.step) return null;
    var len = d.n || 0, ys = [], scale = Math.pow(10, d.e || 0);
    d.s.forEach(function (s, i) {
      s.v = pathValues(svg.querySelector('path.s[data-i="' + i + '"]'), len, d.k, scale);
    });
    var start = +chart.dataset.start, end = +chart.dataset.end;
    if (!(end > start)) { start = d.t0; end = d.t0 + Math.max(1, len - 1) * d.step; }
    // plot area's vertical extent = horizontal grid lines
    $$("line.grid", svg).forEach(function (l) {
      var y = +l.getAttribute("y1");
      if (y === +l.getAttribute("y2") && isFinite(y)) ys.push(y);
    });
    var vb = svg.viewBox.baseVal || {};
    return {
      d: d, svg: svg, len: len, start: start, end: end,
      x0: d.x0 != null ? d.x0 : 0, x1: d.x1 != null ? d.x1 : d.w || 800,
      top: ys.length ? Math.min.apply(null, ys) : 0,
      bot: ys.length ? Math.max.apply(null, ys) : vb.height || 220,
      col: d.s.map(function (s, i) {
        var p = svg.querySelector('path.s[data-i="' + i + '"]');
        var m = p && /(?:^|\s)(c\d+)\b/.exec(p.getAttribute("class"));
        return m ? m[1] : "c" + (i % 10);
      })
    };
  }

  function vbX(svg, e) {
    var p = svg.createSVGPoint();
    p.x = e.clientX; p.y = e.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse()).x;
  }

  function bindChart(chart) {
    if (chart.__dz) return;
    var m = model(chart);
    if (!m) return;
    chart.__dz = m;
    var svg = m.svg, cross = null, zoom = null, dragX = null;
    var clamp = function (x) { return Math.max(m.x0, Math.min(m.x1, x)); };
    var timeAt = function (x) { return m.start + (x - m.x0) / (m.x1 - m.x0) * (m.end - m.start); };
    var mk = function (tag, cls) {
      var e = D.createElementNS("http://www.w3.org/2000/svg", tag);
      e.setAttribute("class", cls);
      svg.appendChild(e);
      return e;
    };
    var leave = function () { hideTip(); if (cross) cross.style.display = "none"; };

    function show(e, x) {
      if (!m.len) return;
      var k = Math.max(0, Math.min(m.len - 1, Math.round((timeAt(x) - m.d.t0) / m.d.step)));
      var t = m.d.t0 + k * m.d.step;
      var cx = m.x0 + (t - m.start) / (m.end - m.start) * (m.x1 - m.x0);
      if (cx < m.x0 - 1 || cx > m.x1 + 1) return leave();
      cross = cross || mk("line", "crosshair");
      cross.style.display = "";
      attrs(cross, { x1: cx, x2: cx, y1: m.top, y2: m.bot });
      var solo = chart.dataset.solo, rows = [el("div", "t", utc(t))], n = 0, more = 0;
      m.d.s.forEach(function (s, i) {
        var v = s.v && s.v[k];
        if (v == null || (solo != null && String(i) !== solo)) return;
        if (n++ >= 25) return more++;
        var row = el("div", "r");
        row.appendChild(el("span", "sw " + m.col[i]));
        row.appendChild(el("span", "n", s.n));
        row.appendChild(el("span", "v", fmt(v, m.d.unit)));
        rows.push(row);
      });
      if (more) rows.push(el("div", "more", "… " + more + " more"));
      if (!tip) { tip = el("div", "tooltip"); D.body.appendChild(tip); }
      setKids(tip, rows);
      tip.hidden = false;
      placeTip(e.clientX, e.clientY);
    }

    svg.addEventListener("pointermove", function (e) {
      var x = vbX(svg, e);
      if (dragX != null) {
        var a = Math.min(dragX, clamp(x)), b = Math.max(dragX, clamp(x));
        zoom = zoom || mk("rect", "zoom");
        attrs(zoom, { x: a, width: b - a, y: m.top, height: Math.max(0, m.bot - m.top) });
      }
      show(e, x);
    });
    svg.addEventListener("pointerleave", function () { if (dragX == null) leave(); });
    svg.addEventListener("pointerdown", function (e) {
      if (e.button !== 0 || !m.len) return;
      dragX = clamp(vbX(svg, e));
      dragging = true;
      try { svg.setPointerCapture(e.pointerId); } catch (err) { /* ignore */ }
      e.preventDefault();
    });
    function end() { dragX = null; dragging = false; if (zoom) { zoom.remove(); zoom = null; } }
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("pointerup", function (e) {
      if (dragX == null) return;
      var x = clamp(vbX(svg, e)), a = Math.min(dragX, x), b = Math.max(dragX, x);
      end();
      if (b - a <= 8) return;
      var u = new URL(location.href), q = u.searchParams;
      q.set("from", String(Math.round(timeAt(a))));
      q.set("to", String(Math.round(timeAt(b))));
      q.delete("range");
      location.assign(u.toString());
    });

    $$(".legend li[data-i]", chart).forEach(function (li) { li.tabIndex = 0; li.setAttribute("role", "button"); });
  }

  // Show only series i; with toggle, isolating the isolated one shows all.
  function isolate(chart, i, toggle) {
    var only = toggle && chart.dataset.solo === i ? null : i;
    if (only == null) delete chart.dataset.solo; else chart.dataset.solo = only;
    $$(".legend li[data-i], path.s[data-i]", chart).forEach(function (n) {
      n.classList.toggle("off", only != null && n.getAttribute("data-i") !== only);
    });
  }

  function applyHostFilter() {
    var q = hostFilter.trim().toLowerCase();
    $$(".host-card").forEach(function (c) {
      c.hidden = q !== "" && (c.dataset.name || "").toLowerCase().indexOf(q) < 0;
    });
  }

  function bindAll(ctx) {
    $$(".chart", ctx).forEach(bindChart);
    $$("button.copy[data-copy]", ctx).forEach(function (b) { b.hidden = false; });
    $$("input.host-filter", ctx).forEach(function (i) { if (hostFilter) i.value = hostFilter; else hostFilter = i.value; });
    applyHostFilter();
  }

  /* ---- auto-refresh ---- */
  var busy = false, last = Date.now();
  function refresh() {
    var main = D.getElementById("main"), act = D.activeElement;
    if (!main || busy || D.hidden || dragging) return;
    // don't clobber a field being edited (typing in the host filter pauses refresh too)
    if (main.contains(act) && /^(INPUT|TEXTAREA|SELECT)$/.test(act.tagName)) return;
    busy = true;
    fetch(location.href, { headers: { "X-Dozor-Partial": "1" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw r.status; return r.text(); })
      .then(function (html) {
        var nd = new DOMParser().parseFromString(html, "text/html");
        var src = nd.getElementById("main") || nd.body;
        if (dragging) return;
        // keep isolated series (chart position + series name)
        var solos = $$(".chart", main).map(function (c) {
          var s = c.dataset.solo;
          return s != null && c.__dz ? c.__dz.d.s[s].n : null;
        });
        hideTip();
        // the log view follows by itself: keep the live one, lines and all
        var logs = main.querySelector("section.logs");
        setKids(main, Array.from(src.childNodes, function (n) { return D.importNode(n, true); }));
        var fresh = main.querySelector("section.logs");
        if (logs && fresh) fresh.replaceWith(logs);
        main.classList.remove("stale");
        bindAll(main);
        D.dispatchEvent(new Event("dozor:refreshed"));
        $$(".chart", main).forEach(function (c, j) {
          var s = c.__dz ? c.__dz.d.s : [];
          for (var i = 0; i < s.length; i++) if (solos[j] != null && s[i].n === solos[j]) return isolate(c, String(i));
        });
      })
      .catch(function () { main.classList.add("stale"); })
      .then(function () { busy = false; last = Date.now(); });
  }
  function initRefresh() {
    // only pages that draw data refresh (and have the picker); a form would lose its input
    if (!D.querySelector("form.picker")) return;
    var p = new URLSearchParams(location.search).get("refresh") || D.body.dataset.refresh;
    var ms = { "5s": 5e3, "10s": 1e4, "30s": 3e4, "1m": 6e4 }[p];
    if (!ms) return;
    setInterval(refresh, ms);
    D.addEventListener("visibilitychange", function () { if (!D.hidden && Date.now() - last >= ms) refresh(); });
  }

  /* ---- navigation: one section open at a time, closed by a click elsewhere or Escape ---- */
  function initNav() {
    var sections = $$(".nav details.section");
    if (!sections.length) return;
    function closeAll(except) { sections.forEach(function (o) { if (o !== except) o.open = false; }); }
    // "toggle" does not bubble: listen while it is captured
    D.addEventListener("toggle", function (e) {
      if (e.target.open && sections.indexOf(e.target) >= 0) closeAll(e.target);
    }, true);
    D.addEventListener("click", function (e) { if (!e.target.closest(".nav")) closeAll(null); });
    D.addEventListener("keydown", function (e) {
      if (e.key !== "Escape") return;
      var open = sections.filter(function (o) { return o.open; })[0];
      if (!open) return;
      var had = open.contains(D.activeElement);
      closeAll(null);
      if (had) open.querySelector("summary").focus();
    });
  }

  /* ---- time picker ---- */
  function initPicker() {
    $$("form.picker").forEach(function (form) {
      var range = form.querySelector("select[name=range]");
      var dates = $$("input[name=from], input[name=to]", form);
      var custom = function () { if (range) range.value = "custom"; };
      form.addEventListener("change", function (e) {
        var t = e.target;
        if (t === range && t.value !== "custom") {
          // omit from/to so the preset wins
          dates.forEach(function (d) { d.value = ""; d.disabled = true; });
          form.submit(); // the form data set is built synchronously
          dates.forEach(function (d) { d.disabled = false; });
        } else if (t.tagName === "SELECT" && t.name === "refresh") form.submit();
        else if (dates.indexOf(t) >= 0) custom();
      });
      dates.forEach(function (d) { d.addEventListener("input", custom); });
    });
  }

  /* ---- copy buttons ---- */
  function copy(btn) {
    var src = D.getElementById(btn.dataset.copy);
    if (!src) return;
    var label = btn.dataset.label || (btn.dataset.label = btn.textContent);
    function done(msg) {
      btn.textContent = msg;
      clearTimeout(btn.__t);
      btn.__t = setTimeout(function () { btn.textContent = label; }, 1500);
    }
    function fallback() { // e.g. plain http: select for a manual copy
      getSelection().selectAllChildren(src);
      done("Press Ctrl+C");
    }
    var c = navigator.clipboard;
    if (c) c.writeText(src.textContent).then(function () { done("Copied"); }, fallback);
    else fallback();
  }

  /* ---- explore: metric name autocomplete ---- */
  var namesReq = false;
  function loadNames() {
    var dl = D.getElementById("metric-names");
    if (namesReq || !dl || dl.querySelector("option")) return;
    namesReq = true;
    fetch("/prometheus/api/v1/label/__name__/values", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        var f = D.createDocumentFragment();
        if (j.status !== "success" || !Array.isArray(j.data)) throw 0;
        j.data.slice(0, 1e4).forEach(function (n) {
          var o = D.createElement("option");
          o.value = String(n);
          f.appendChild(o);
        });
        dl.appendChild(f);
      })
      .catch(function () { namesReq = false; });
  }

  /* ---- delegated handlers (survive refresh swaps) ---- */
  function initEvents() {
    D.addEventListener("click", function (e) {
      var li = e.target.closest(".chart .legend li[data-i]");
      if (li) return isolate(li.closest(".chart"), li.dataset.i, true);
      var b = e.target.closest("button.copy[data-copy]");
      if (b) { e.preventDefault(); copy(b); }
    });
    D.addEventListener("input", function (e) {
      if (e.target.matches("input.host-filter")) { hostFilter = e.target.value; applyHostFilter(); }
    });
    D.addEventListener("focusin", function (e) { if (e.target.id === "query") loadNames(); });
    D.addEventListener("keydown", function (e) {
      var t = e.target;
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && t.id === "query" && t.form) {
        e.preventDefault();
        if (t.form.requestSubmit) t.form.requestSubmit(); else t.form.submit();
      } else if ((e.key === "Enter" || e.key === " ") && t.matches(".chart .legend li[data-i]")) {
        e.preventDefault();
        isolate(t.closest(".chart"), t.dataset.i, true);
      }
    });
    D.addEventListener("submit", function (e) {
      var msg = e.target.getAttribute("data-confirm");
      if (msg && !confirm(msg)) e.preventDefault();
    });
    addEventListener("scroll", hideTip, { passive: true });
  }

  function init() {
    initTheme();
    initNav();
    initPicker();
    initEvents();
    bindAll(D);
    initRefresh();
  }
  if (D.readyState === "loading") D.addEventListener("DOMContentLoaded", init);
  else init();
})();
