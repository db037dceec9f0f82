// The review report's behaviour: timeline (waveform, lanes, zoom, pan, play a span), the
// paginated cue table with its "only flagged" filter, and the sections drawn from the data.
// Every string from the job goes in through textContent, never as HTML.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  const PAGE = 100;
  const LANE_H = 22;
  const WAVE_H = 60;
  const duration = Math.max(D.duration || 0, 0.01);
  const audio = document.getElementById("audio");
  let view = [0, duration];
  let stopAt = null;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svgEl(tag, attrs) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function clock(t) {
    const cs = Math.round(Math.max(t, 0) * 100);
    const h = Math.floor(cs / 360000), m = Math.floor(cs / 6000) % 60;
    const s = Math.floor(cs / 100) % 60, c = cs % 100;
    const pad = (n) => String(n).padStart(2, "0");
    return `${h}:${pad(m)}:${pad(s)}.${pad(c)}`;
  }
  function table(headers, rows) {
    const t = el("table");
    const tr = el("tr");
    headers.forEach((h) => tr.appendChild(el("th", {}, h)));
    t.appendChild(el("thead")).appendChild(tr);
    const body = t.appendChild(el("tbody"));
    rows.forEach((cells) => {
      const row = body.appendChild(el("tr"));
      cells.forEach((c) => {
        const td = row.appendChild(el("td", { dir: "auto" }));
        if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? "" : String(c);
      });
    });
    return t;
  }

  // ---- audio ------------------------------------------------------------------------
  function play(start, end) {
    if (!audio) return;
    audio.currentTime = start;
    stopAt = end;
    const p = audio.play();
    if (p && p.catch) p.catch(() => {});  // autoplay refused (headless, muted tab): the seek stays
  }
  if (audio) {
    audio.addEventListener("timeupdate", () => {
      if (stopAt !== null && audio.currentTime >= stopAt) { audio.pause(); stopAt = null; }
    });
  }

  // ---- lanes --------------------------------------------------------------------------
  const lanes = [{ label: "waveform", wave: true, height: WAVE_H }];
  lanes.push({ label: "speech (VAD)", items: (D.vad || []).map((r) => ({ start: r[0], end: r[1], cls: "vad", title: `speech ${clock(r[0])}–${clock(r[1])}` })) });
  const cueIndex = {};
  (D.tracks || []).forEach((track) => {
    lanes.push({
      label: track.note ? `${track.lang} (not subtitled)` : `cues ${track.lang}`, items: track.cues.map((c) => {
        cueIndex[`${track.lang}:${c.n}`] = c;
        return { start: c.start, end: c.end, cls: "cue-block" + (c.flags.length ? " flagged" : "") + (track.note ? " unsubtitled" : ""), lang: track.lang, n: c.n, title: `${track.lang} #${c.n} ${clock(c.start)} ${c.text}` };
      }),
    });
  });
  lanes.push({ label: "songs", items: (D.songs || []).map((s) => ({ start: s.start, end: s.end, cls: "song", title: `song ${s.title || ""}` })) });
  lanes.push({ label: "removed", items: (D.hallucinations || []).map((h) => ({ start: h.start, end: h.end, cls: "hallucination", title: `removed (${h.reason}): ${h.text}` })) });
  const flagItems = [];
  (D.tracks || []).forEach((track) => track.cues.forEach((c) => {
    if (c.flags.length) flagItems.push({ start: c.start, end: c.end, cls: "flag-block", lang: track.lang, n: c.n, title: `${track.lang} #${c.n}: ${c.flags.join(", ")}` });
  }));
  lanes.push({ label: "QC flags", items: flagItems });

  const lanesSvg = document.getElementById("lanes");
  const overview = document.getElementById("overview");
  const labels = document.getElementById("lane-labels");
  let y = 0;
  lanes.forEach((lane) => { lane.y = y; lane.h = lane.height || LANE_H; y += lane.h + 4; });
  const totalH = y;
  lanesSvg.setAttribute("height", totalH);
  lanesSvg.setAttribute("preserveAspectRatio", "none");

  function wavePath(top, height) {
    const peaks = (D.peaks && D.peaks.peaks) || [];
    const step = (D.peaks && D.peaks.bucket_s) || 0;
    const mid = top + height / 2;
    const parts = [];
    for (let i = 0; i < peaks.length; i++) {
      const h = Math.max(peaks[i] / 100 * height / 2, 0.3);
      const x = ((i + 0.5) * step).toFixed(3);
      parts.push(`M${x} ${(mid - h).toFixed(2)}V${(mid + h).toFixed(2)}`);
    }
    return parts.join("");
  }
  function drawLanes() {
    lanes.forEach((lane) => {
      labels.appendChild(el("div", { class: "lane-label", style: `height:${lane.h}px;margin-bottom:4px` }, lane.label));
      lanesSvg.appendChild(svgEl("rect", { x: 0, y: lane.y, width: duration, height: lane.h, class: "lane-bg" }));
      if (lane.wave) {
        lanesSvg.appendChild(svgEl("path", { d: wavePath(lane.y, lane.h), class: "wave", "vector-effect": "non-scaling-stroke" }));
        return;
      }
      const group = svgEl("g", { class: "lane" });
      lane.items.forEach((item) => {
        const r = svgEl("rect", { x: item.start, y: lane.y + 2, width: Math.max(item.end - item.start, 0.01), height: lane.h - 4, class: item.cls });
        r.dataset.start = item.start;
        r.dataset.end = item.end;
        if (item.lang) { r.dataset.lang = item.lang; r.dataset.n = item.n; }
        const title = svgEl("title");
        title.textContent = item.title;
        r.appendChild(title);
        group.appendChild(r);
      });
      lanesSvg.appendChild(group);
    });
    const cursor = svgEl("rect", { id: "cursor", x: 0, y: 0, width: 0, height: totalH, class: "cursor" });
    lanesSvg.appendChild(cursor);
    overview.setAttribute("viewBox", `0 0 ${duration} 40`);
    overview.setAttribute("preserveAspectRatio", "none");
    overview.appendChild(svgEl("path", { d: wavePath(0, 40), class: "wave", "vector-effect": "non-scaling-stroke" }));
    overview.appendChild(svgEl("rect", { id: "viewport", x: 0, y: 0, width: duration, height: 40, class: "viewport" }));
  }
  function setView(start, end) {
    const span = Math.min(Math.max(end - start, 0.5), duration);
    start = Math.min(Math.max(start, 0), duration - span);
    view = [start, start + span];
    lanesSvg.setAttribute("viewBox", `${view[0]} 0 ${span} ${totalH}`);
    const vp = document.getElementById("viewport");
    vp.setAttribute("x", view[0]);
    vp.setAttribute("width", span);
    document.getElementById("view-range").textContent = `${clock(view[0])} – ${clock(view[1])} of ${clock(duration)}`;
    lanesSvg.dataset.viewStart = view[0];
    lanesSvg.dataset.viewEnd = view[1];
  }
  function zoom(factor, centre) {
    const c = centre === undefined ? (view[0] + view[1]) / 2 : centre;
    const span = (view[1] - view[0]) * factor;
    setView(c - (c - view[0]) * factor, c - (c - view[0]) * factor + span);
  }
  function pan(fraction) {
    const span = view[1] - view[0];
    setView(view[0] + span * fraction, view[1] + span * fraction);
  }
  function timeAt(svgNode, clientX, range) {
    const box = svgNode.getBoundingClientRect();
    return range[0] + (clientX - box.left) / Math.max(box.width, 1) * (range[1] - range[0]);
  }
  drawLanes();
  setView(0, duration);
  document.getElementById("zoom-in").addEventListener("click", () => zoom(0.5));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(2));
  document.getElementById("zoom-fit").addEventListener("click", () => setView(0, duration));
  document.getElementById("pan-left").addEventListener("click", () => pan(-0.5));
  document.getElementById("pan-right").addEventListener("click", () => pan(0.5));
  lanesSvg.addEventListener("wheel", (e) => {
    e.preventDefault();
    zoom(e.deltaY > 0 ? 1.25 : 0.8, timeAt(lanesSvg, e.clientX, view));
  }, { passive: false });
  overview.addEventListener("click", (e) => {
    const t = timeAt(overview, e.clientX, [0, duration]);
    const span = view[1] - view[0];
    setView(t - span / 2, t + span / 2);
  });
  let drag = null;
  lanesSvg.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, view: view.slice(), moved: false }; });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (!drag.moved) return;
    const perPx = (drag.view[1] - drag.view[0]) / Math.max(lanesSvg.getBoundingClientRect().width, 1);
    setView(drag.view[0] - dx * perPx, drag.view[1] - dx * perPx);
  });
  window.addEventListener("pointerup", () => { setTimeout(() => { drag = null; }, 0); });
  lanesSvg.addEventListener("click", (e) => {
    if (drag && drag.moved) return;
    const r = e.target.closest("rect[data-start]");
    if (!r) return;
    if (r.dataset.lang) focusCue(r.dataset.lang, Number(r.dataset.n));
    else play(Number(r.dataset.start), Number(r.dataset.end));
  });

  // ---- cue table ------------------------------------------------------------------------
  const tracks = D.tracks || [];
  const primary = tracks.find((t) => t.cues.length) || null;
  const rows = [];
  if (primary) {
    primary.cues.forEach((c) => rows.push({ start: c.start, end: c.end, cells: { [primary.lang]: [c] } }));
    const starts = rows.map((r) => r.start);
    tracks.filter((t) => t !== primary).forEach((track) => track.cues.forEach((c) => {
      const mid = (c.start + c.end) / 2;
      let lo = 0, hi = starts.length - 1;
      while (lo < hi) { const m = (lo + hi + 1) >> 1; if (starts[m] <= mid) lo = m; else hi = m - 1; }
      (rows[lo].cells[track.lang] = rows[lo].cells[track.lang] || []).push(c);
    }));
  }
  rows.forEach((r, i) => {
    r.index = i;
    r.flagged = Object.values(r.cells).some((cs) => cs.some((c) => c.flags.length));
  });
  const head = document.getElementById("cue-head");
  head.appendChild(el("th", {}, "time"));
  tracks.forEach((t) => head.appendChild(el("th", {}, `${t.lang}${t.role ? " (" + t.role + ")" : ""}`)));
  let page = 0;
  let shown = rows;
  const onlyFlagged = document.getElementById("only-flagged");
  const notes = tracks.filter((t) => t.note).map((t) => t.note);
  const cueNote = document.getElementById("cue-note");
  cueNote.textContent = notes.join("; ");
  cueNote.hidden = !notes.length;
  function cueCell(lang, c, note) {
    const box = el("div", { class: "cue" + (c.flags.length ? " flagged" : "") + (note ? " unsubtitled" : ""), "data-lang": lang, "data-n": c.n, "data-flags": c.flags.join(" ") });
    box.appendChild(el("div", { class: "meta" }, `#${c.n} ${clock(c.start)}–${clock(c.end)} · ${c.cps.toFixed(1)} cps · lines ${c.lines.join("/")}`));
    c.text.split("\n").forEach((line) => box.appendChild(el("div", { class: "line", dir: "auto" }, c.lyrics ? `♪ ${line}` : line)));
    c.flags.forEach((f) => box.appendChild(el("span", { class: "badge" }, f)));
    box.addEventListener("click", () => focusCue(lang, c.n));
    return box;
  }
  function renderTable() {
    const body = document.getElementById("cue-body");
    body.replaceChildren();
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    shown.slice(page * PAGE, (page + 1) * PAGE).forEach((r) => {
      const tr = el("tr", { id: `row-${r.index}` });
      tr.appendChild(el("td", { class: "time" }, clock(r.start)));
      tracks.forEach((t) => {
        const td = tr.appendChild(el("td"));
        (r.cells[t.lang] || []).forEach((c) => td.appendChild(cueCell(t.lang, c, t.note)));
      });
      body.appendChild(tr);
    });
    document.getElementById("page-info").textContent = `page ${page + 1} of ${pages}`;
    const total = tracks.reduce((n, t) => n + t.cues.length, 0);
    document.getElementById("cue-count").textContent = rows.length ? `${shown.length} of ${rows.length} rows (${total} cues)` : "no cues: the subtitles stage has not finished";
  }
  onlyFlagged.addEventListener("change", () => {
    shown = onlyFlagged.checked ? rows.filter((r) => r.flagged) : rows;
    page = 0;
    renderTable();
  });
  document.getElementById("page-prev").addEventListener("click", () => { page = Math.max(0, page - 1); renderTable(); });
  document.getElementById("page-next").addEventListener("click", () => { page += 1; renderTable(); });
  renderTable();

  function focusCue(lang, n) {
    const c = cueIndex[`${lang}:${n}`];
    if (!c) return;
    const span = Math.max(4, (c.end - c.start) * 2);
    const mid = (c.start + c.end) / 2;
    setView(mid - span / 2, mid + span / 2);
    document.querySelectorAll(".current").forEach((x) => x.classList.remove("current"));
    lanesSvg.querySelectorAll(`rect.cue-block[data-n="${n}"]`).forEach((r) => { if (r.dataset.lang === lang) r.classList.add("current"); });
    const cursor = document.getElementById("cursor");
    cursor.setAttribute("x", c.start);
    cursor.setAttribute("width", Math.max(c.end - c.start, 0.01));
    const at = shown.findIndex((r) => (r.cells[lang] || []).includes(c));
    if (at >= 0 && Math.floor(at / PAGE) !== page) { page = Math.floor(at / PAGE); renderTable(); }
    document.querySelectorAll(`.cue[data-n="${n}"]`).forEach((x) => { if (x.dataset.lang === lang) x.classList.add("current"); });
    document.getElementById("timeline-section").scrollIntoView({ block: "start" });
    play(c.start, c.end);
  }

  // ---- sections ---------------------------------------------------------------------
  function section(id, node, empty) {
    const host = document.getElementById(id);
    if (node) host.appendChild(node); else host.appendChild(el("p", { class: "note" }, empty));
  }
  const qcBox = el("div");
  (D.qc || []).forEach((q) => {
    qcBox.appendChild(el("h3", {}, `${q.lang}: ${q.cues} cues, ${q.ok ? "all rules met" : "rules broken"}`));
    qcBox.appendChild(table(["rule", "limit", "before fixing", "after", "why left"], q.rules.map((r) => [r.rule, r.limit, r.before, r.after, r.why_left || ""])));
  });
  section("qc", (D.qc || []).length ? qcBox : null, "no subtitle QC yet");

  const trBox = el("div");
  (D.translation || []).forEach((t) => {
    const box = trBox.appendChild(el("div", { class: "translation", "data-lang": t.lang, "data-source-lang": t.source_lang || "" }));
    box.appendChild(el("h3", {}, `${t.lang}: ${t.engine || "?"} ${t.model || ""}`));
    box.appendChild(el("p", {}, "lines by engine: " + Object.entries(t.origins).map(([k, v]) => `${k} ${v}`).join(", ")));
    if (t.usage) box.appendChild(el("p", { class: "usage" }, `LLM ${t.usage.model || ""}: ${t.usage.requests} requests, ${t.usage.input_tokens} input + ${t.usage.output_tokens} output tokens, cost ${t.usage.cost}`));
    const lines = t.lines.slice(0, 500);
    const hits = (l) => l.glossary.map((g) => `${g.term} → ${g.translation}: ${g.kept ? "kept" : "lost"}`).join("; ");
    box.appendChild(table(["time", `source (${t.source_lang || "?"})`, `translation (${t.lang})`, "engine", "glossary"], lines.map((l) => [clock(l.start), l.source, l.text, l.origin, hits(l)])));
    if (t.lines.length > lines.length) box.appendChild(el("p", { class: "note" }, `first ${lines.length} of ${t.lines.length} lines; the cue table above has them all`));
  });
  section("translation", (D.translation || []).length ? trBox : null, "not translated in this job");

  const songs = D.songs || [];
  section("songs", songs.length ? table(["start", "end", "score", "soundtrack title"], songs.map((s) => [clock(s.start), clock(s.end), s.score, s.title || "(no match)"])) : null, D.songs_note || "no songs found");
  const hall = D.hallucinations || [];
  section("hallucinations", hall.length ? table(["start", "end", "reason", "text"], hall.map((h) => [clock(h.start), clock(h.end), h.reason, h.text])) : null, "nothing removed");
  const g = D.glossary || {};
  section("glossary", (g.terms || []).length ? table(["term", "translations", "applied", "lost by the model"], g.terms.map((t) => [t.source, t.targets, t.applied, t.lost])) : null, "no glossary terms");
  document.body.dataset.renderedMs = String(Math.round(performance.now()));
  document.body.dataset.ready = "1";
})();
