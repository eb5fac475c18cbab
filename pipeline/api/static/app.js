// newswatch page: search, article view, alert rules, feed health.
//
// Every piece of text that comes from a news page goes into the DOM with
// textContent. The one exception is a search snippet, which the backends
// send HTML-escaped with <mark> around matches: it is inserted as HTML only
// after safeSnippet() has checked that it holds nothing but text, character
// references and <mark> tags.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const FILTER_KEYS = ["source", "lang", "event", "place", "since", "until"];
const PAGE_SIZE = 20;
const LIBYA_BOX = { west: 9.0, east: 25.6, south: 19.2, north: 33.6 };
const KEY_STORE = "newswatch.apiKey";

// ------------------------------------------------------------------ helpers
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c);
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

const SNIPPET_OK = /^(?:[^<>&]|&(?:amp|lt|gt|quot|apos|#39|#x27|#\d{1,7}|#x[0-9a-fA-F]{1,6});|<mark>|<\/mark>)*$/;

// The snippet as DOM: HTML only when it is text + <mark>, plain text otherwise.
function safeSnippet(html) {
  const p = el("p", { class: "snippet", dir: "auto" });
  if (typeof html === "string" && SNIPPET_OK.test(html)) {
    p.innerHTML = html;
  } else {
    p.textContent = String(html || "").replace(/<[^>]*>/g, "");
  }
  return p;
}

function safeHref(url) {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (_) {
    return null;
  }
}

function day(iso) {
  return iso ? iso.slice(0, 10) : "no date";
}

function label(value) {
  return String(value).replace(/_/g, " ");
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  let body = null;
  if (resp.status !== 204) {
    try {
      body = await resp.json();
    } catch (_) {
      body = null;
    }
  }
  if (resp.status === 401) {
    askForKey();
  }
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

function askForKey() {
  const dialog = $("#key-dialog");
  if (!dialog.open) dialog.showModal();
}

// ------------------------------------------------------------------ routing
function currentView() {
  const path = location.pathname;
  if (path.startsWith("/articles/")) return "article";
  if (path.startsWith("/incidents/")) return "incident"; // incidents.js
  if (path === "/incidents") return "incidents";
  if (path === "/rules") return "rules";
  if (path === "/feeds") return "feeds";
  return "search";
}

function navigate(url) {
  history.pushState(null, "", url);
  render();
}

function showView(name) {
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${name}`;
  for (const a of document.querySelectorAll("nav a[data-view]")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function render() {
  const view = currentView();
  showView(view);
  if (view === "article") renderArticle(decodeURIComponent(location.pathname.slice(10)));
  else if (view === "rules") renderRules();
  else if (view === "feeds") renderFeeds();
  else if (view === "incidents") renderIncidents(new URLSearchParams(location.search));
  else if (view === "incident") renderIncident(decodeURIComponent(location.pathname.slice(11)));
  else runSearch(new URLSearchParams(location.search));
}

// ------------------------------------------------------------------ search
let lastSearchUrl = "/";
let searchSeq = 0;

function stateFromForm() {
  const params = new URLSearchParams(location.search);
  const q = $("#q").value.trim();
  if (q) params.set("q", q);
  else params.delete("q");
  const sort = $("#sort").value;
  if (sort === "date") params.set("sort", "date");
  else params.delete("sort");
  params.delete("cursor");
  return params;
}

function withFilter(params, key, value, on = true) {
  const next = new URLSearchParams(params);
  const values = next.getAll(key).filter((v) => v !== value);
  next.delete(key);
  if (key === "since" || key === "until") {
    if (on) next.set(key, value);
  } else {
    for (const v of values) next.append(key, v);
    if (on) next.append(key, value);
  }
  return next;
}

function searchUrl(params) {
  const s = params.toString();
  return s ? `/?${s}` : "/";
}

function apiParams(params, cursor) {
  const p = new URLSearchParams();
  p.set("q", params.get("q") || "");
  for (const key of FILTER_KEYS) for (const v of params.getAll(key)) p.append(key, v);
  if (params.get("sort") === "date") p.set("sort", "date");
  p.set("size", String(PAGE_SIZE));
  p.set("collapse", "true");
  p.set("facets", cursor ? "false" : "true");
  if (cursor) p.set("cursor", cursor);
  return p;
}

function skeleton(n) {
  const list = $("#results");
  list.replaceChildren();
  for (let i = 0; i < n; i++) {
    list.append(
      el("li", { class: "hit skeleton", "aria-hidden": "true" },
        el("div", { class: "bar title" }), el("div", { class: "bar short" }),
        el("div", { class: "bar" }), el("div", { class: "bar" })),
    );
  }
}

async function runSearch(params) {
  lastSearchUrl = searchUrl(params);
  $("#q").value = params.get("q") || "";
  $("#sort").value = params.get("sort") === "date" ? "date" : "relevance";
  $("#q").removeAttribute("aria-invalid");
  $("#q-error").textContent = "";
  renderActiveFilters(params);
  const seq = ++searchSeq;
  const list = $("#results");
  list.setAttribute("aria-busy", "true");
  skeleton(4);
  $("#more").hidden = true;
  try {
    const data = await api(`/api/search?${apiParams(params)}`);
    if (seq !== searchSeq) return;
    list.replaceChildren();
    renderHits(data.hits, params);
    $("#result-count").textContent = countLine(data);
    renderWarnings(data.warnings || []);
    renderFacets(data.facets, params, data.histogram);
    setMore(data.next_cursor, params);
    document.title = params.get("q") ? `${params.get("q")} · newswatch` : "newswatch";
  } catch (err) {
    if (seq !== searchSeq) return;
    list.replaceChildren();
    $("#result-count").textContent = "";
    renderWarnings([]);
    showQueryError(err, params.get("q") || "");
    renderFacets(null, params);
  } finally {
    if (seq === searchSeq) list.setAttribute("aria-busy", "false");
  }
}

// "18 articles in 17 stories": the facets count articles, the list shows stories.
function countLine(data) {
  const n = (k, one, many) => (k === 1 ? `1 ${one}` : `${k} ${many}`);
  const articles = typeof data.articles === "number" ? data.articles : data.total;
  const line = n(articles, "article", "articles");
  if (typeof data.stories === "number" && data.stories !== articles) {
    return `${line} in ${n(data.stories, "story", "stories")}`;
  }
  return line;
}

function renderWarnings(warnings) {
  const box = $("#q-warnings");
  box.replaceChildren();
  for (const w of warnings) box.append(el("li", { text: w }));
  box.hidden = !warnings.length;
}

function showQueryError(err, q) {
  const box = $("#q-error");
  if (err instanceof ApiError && err.status === 422 && Number.isInteger(err.body.position)) {
    const pos = Math.min(err.body.position, q.length);
    box.textContent = `${err.message}\n${q}\n${" ".repeat(pos)}^`;
    const input = $("#q");
    input.setAttribute("aria-invalid", "true");
    input.focus();
    input.setSelectionRange(pos, Math.min(pos + 1, q.length));
  } else {
    box.textContent = err.message;
  }
}

function setMore(cursor, params) {
  const more = $("#more");
  more.hidden = !cursor;
  more.onclick = async () => {
    more.disabled = true;
    try {
      const data = await api(`/api/search?${apiParams(params, cursor)}`);
      renderHits(data.hits, params);
      setMore(data.next_cursor, params);
    } finally {
      more.disabled = false;
    }
  };
}

function chip(text, cls, onclick, title) {
  return el("button", { type: "button", class: `chip ${cls}`, onclick, title, text });
}

function renderHits(hits, params) {
  const list = $("#results");
  for (const hit of hits) list.append(renderHit(hit, params));
}

function renderHit(hit, params) {
  const li = el("li", { class: "hit", "data-id": hit.id });
  const link = el("a", { href: `/articles/${encodeURIComponent(hit.id)}`, "data-nav": true });
  link.textContent = hit.title || "(no title)";
  li.append(el("h3", { dir: "auto", lang: hit.lang || null }, link));
  li.append(
    el("div", { class: "meta" },
      el("span", { class: "source", text: hit.source }),
      el("span", { class: "lang", text: hit.lang || "?" }),
      el("time", { datetime: hit.published || null, text: day(hit.published) })),
  );
  const snip = safeSnippet(hit.snippet);
  if (hit.lang) snip.setAttribute("lang", hit.lang);
  li.append(snip);
  const chips = el("div", { class: "chips" });
  for (const ev of hit.events || []) {
    chips.append(chip(label(ev), "event", () => navigate(searchUrl(withFilter(params, "event", ev))),
      `Only ${label(ev)} reports`));
  }
  for (const ent of (hit.entities || []).slice(0, 8)) {
    const onclick = ent.type === "place"
      ? () => navigate(searchUrl(withFilter(params, "place", ent.id)))
      : () => navigate(searchUrl(narrowQuery(params, `entity:${ent.id}`)));
    chips.append(chip(ent.name, "entity", onclick, `Narrow to ${ent.name}`));
  }
  if (chips.childElementCount) li.append(chips);
  if (hit.collapsed > 0) li.append(copiesToggle(hit));
  return li;
}

function narrowQuery(params, clause) {
  const next = new URLSearchParams(params);
  const q = (params.get("q") || "").trim();
  next.set("q", q ? `(${q}) AND ${clause}` : clause);
  return next;
}

function copiesToggle(hit) {
  const n = hit.collapsed;
  const box = el("div");
  const list = el("ol", { class: "copies", hidden: true });
  const button = el("button", {
    type: "button", class: "more-reports", "aria-expanded": "false",
    text: n === 1 ? "1 more report of this story" : `${n} more reports of this story`,
  });
  button.addEventListener("click", async () => {
    const open = button.getAttribute("aria-expanded") === "true";
    button.setAttribute("aria-expanded", String(!open));
    list.hidden = open;
    if (open || list.childElementCount) return;
    const p = new URLSearchParams({ q: `story:${hit.story_id}`, sort: "date", size: "50", facets: "false" });
    const data = await api(`/api/search?${p}`);
    for (const other of data.hits.filter((h) => h.id !== hit.id)) {
      const a = el("a", { href: `/articles/${encodeURIComponent(other.id)}`, "data-nav": true, dir: "auto" });
      a.textContent = other.title || "(no title)";
      list.append(el("li", {}, a, el("span", { class: "meta", text: ` ${other.source} · ${day(other.published)}` })));
    }
  });
  box.append(button, list);
  return box;
}

function renderActiveFilters(params) {
  const box = $("#active-filters");
  box.replaceChildren();
  for (const key of FILTER_KEYS) {
    for (const v of params.getAll(key)) {
      box.append(chip(`${key}: ${label(v)}`, "remove", () => navigate(searchUrl(withFilter(params, key, v, false))),
        `Remove filter ${key}: ${v}`));
    }
  }
}

const FACET_TITLES = {
  events: ["Event types", "event"],
  sources: ["Sources", "source"],
  languages: ["Languages", "lang"],
  places: ["Places", "place"],
  entities: ["Entities", null],
};

function renderFacets(facets, params, histogram) {
  const box = $("#facets");
  box.replaceChildren();
  renderHistogram(histogram || null, params);
  renderMap(facets ? facets.places : [], params);
  if (!facets) return;
  for (const [name, [title, key]] of Object.entries(FACET_TITLES)) {
    const values = facets[name] || [];
    if (!values.length) continue;
    const ul = el("ul");
    for (const fv of values.slice(0, 12)) {
      const text = fv.name || label(fv.value);
      const onclick = key
        ? () => navigate(searchUrl(withFilter(params, key, fv.value)))
        : () => navigate(searchUrl(narrowQuery(params, `entity:${fv.value}`)));
      ul.append(el("li", {}, el("button", { type: "button", onclick, dir: "auto", text }), el("span", { class: "n", text: String(fv.count) })));
    }
    box.append(el("section", { class: "facet panel" }, el("h2", { text: title }), ul));
  }
}

// A real time axis: one bar per day, week or month of the whole range (the
// server picks the bucket), empty buckets left as gaps, dates labelled below.
const BUCKET_WORDS = { day: "per day", week: "per week", month: "per month", year: "per year" };

function renderHistogram(hist, params) {
  const box = $("#histogram");
  const title = $("#histogram-title");
  box.replaceChildren();
  const bins = hist ? hist.bins : [];
  title.textContent = hist && bins.length ? `Articles ${BUCKET_WORDS[hist.bucket] || ""}` : "Articles over time";
  box.setAttribute("aria-label", title.textContent);
  if (!bins.length) {
    box.append(el("p", { class: "note", text: "No dated articles." }));
    return;
  }
  const max = Math.max(1, ...bins.map((b) => b.count));
  const bars = el("div", { class: "bars", role: "list" });
  for (const b of bins) {
    const span = b.label === b.start ? b.start : `${b.label} (${b.start} to ${b.end})`;
    if (!b.count) {
      bars.append(el("span", { class: "gap", role: "listitem", "aria-label": `${span}: none`, title: `${b.label}: 0` }));
      continue;
    }
    const bar = el("button", {
      type: "button", role: "listitem", class: "bar", title: `${b.label}: ${b.count}`,
      "aria-label": `${span}: ${b.count} articles`, "data-start": b.start,
      onclick: () => {
        let next = withFilter(params, "since", b.start);
        next = withFilter(next, "until", b.end);
        navigate(searchUrl(next));
      },
    });
    bar.style.height = `${Math.max(4, Math.round((b.count / max) * 100))}%`;
    bars.append(bar);
  }
  // Labels: the first and last bucket and a few evenly spaced between them.
  const axis = el("div", { class: "axis", "aria-hidden": "true" });
  const ticks = Math.min(bins.length, 4);
  const seen = new Set();
  for (let t = 0; t < ticks; t++) {
    const i = ticks === 1 ? 0 : Math.round((t * (bins.length - 1)) / (ticks - 1));
    if (seen.has(i)) continue;
    seen.add(i);
    const pos = ((i + 0.5) / bins.length) * 100;
    const tick = el("span", { class: "tick", text: bins[i].label });
    tick.style.left = `${pos}%`;
    if (t === 0) tick.classList.add("first");
    if (t === ticks - 1 && ticks > 1) tick.classList.add("last");
    axis.append(tick);
  }
  box.append(bars, axis);
}

// Equirectangular, scaled by cos(27°) so Libya keeps its shape.
const KX = Math.cos((27 * Math.PI) / 180);
function project(lon, lat) {
  const w = (LIBYA_BOX.east - LIBYA_BOX.west) * KX;
  const h = LIBYA_BOX.north - LIBYA_BOX.south;
  const s = 480 / Math.max(w, h);
  const x = 10 + (lon - LIBYA_BOX.west) * KX * s + (480 - w * s) / 2;
  const y = 10 + (LIBYA_BOX.north - lat) * s + (480 - h * s) / 2;
  return [x, y];
}

let outlineLoaded = false;
async function loadOutline() {
  if (outlineLoaded) return;
  outlineLoaded = true;
  const resp = await fetch("/static/libya.geojson");
  const gj = await resp.json();
  let d = "";
  for (const f of gj.features) {
    const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    for (const poly of polys) {
      for (const ring of poly) {
        d += ring.map(([lon, lat], i) => `${i ? "L" : "M"}${project(lon, lat).map((n) => n.toFixed(1)).join(" ")}`).join("") + "Z";
      }
    }
  }
  $("#outline").setAttribute("d", d);
}

function renderMap(places, params) {
  loadOutline();
  const g = $("#map-points");
  g.replaceChildren();
  const max = Math.max(1, ...places.map((p) => p.count));
  for (const p of places) {
    if (typeof p.lat !== "number" || typeof p.lon !== "number") continue;
    if (p.lon < LIBYA_BOX.west || p.lon > LIBYA_BOX.east || p.lat < LIBYA_BOX.south || p.lat > LIBYA_BOX.north) continue;
    const [x, y] = project(p.lon, p.lat);
    const a = svg("a", { href: searchUrl(withFilter(params, "place", p.value)), "data-nav": "", "aria-label": `${p.name || p.value}: ${p.count}` });
    const c = svg("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: (5 + 10 * Math.sqrt(p.count / max)).toFixed(1), class: "point" });
    const t = svg("title");
    t.textContent = `${p.name || p.value}: ${p.count}`;
    c.append(t);
    a.append(c);
    g.append(a);
  }
}

// ------------------------------------------------------------------ article
async function renderArticle(id) {
  const box = $("#article");
  $("#back-link").setAttribute("href", lastSearchUrl);
  box.replaceChildren(el("p", { class: "note", text: "Loading…" }));
  let a;
  try {
    a = await api(`/api/articles/${encodeURIComponent(id)}`);
  } catch (err) {
    box.replaceChildren(el("p", { class: "error", role: "alert", text: err.message }));
    return;
  }
  document.title = `${a.title} · newswatch`;
  const lang = a.lang || null;
  const meta = el("dl");
  const add = (k, v) => meta.append(el("dt", { text: k }), el("dd", {}, v));
  add("Source", a.source);
  add("Language", a.lang || "unknown");
  add("Published", a.published ? `${a.published} (date from ${a.date_source})` : `unknown (date source: ${a.date_source})`);
  add("Extraction", a.extraction_method || "unknown");
  const href = safeHref(a.url);
  add("Original", href ? el("a", { href, rel: "noopener noreferrer", target: "_blank", text: a.url }) : a.url);
  const events = el("ul", { class: "events" });
  for (const ev of a.events) {
    events.append(el("li", {},
      chip(label(ev.type), "event", () => navigate(searchUrl(new URLSearchParams({ event: ev.type })))),
      el("span", { text: ` ${Math.round(ev.confidence * 100)}% · ` }),
      el("q", { dir: "auto", lang, text: ev.evidence })));
  }
  const ents = el("div", { class: "chips" });
  for (const ent of a.entities) {
    ents.append(el("a", { class: "chip entity", href: `/?q=${encodeURIComponent(`entity:${ent.id}`)}`, "data-nav": true, text: ent.name }));
  }
  const text = el("div", { class: "text", dir: "auto", lang });
  for (const para of a.text.split(/\n+/)) {
    if (para.trim()) text.append(markEvidence(para, a.events));
  }
  box.replaceChildren(
    el("h1", { dir: "auto", lang, text: a.title || "(no title)" }),
    meta,
    a.events.length ? el("h2", { text: "Events" }) : null,
    a.events.length ? events : null,
    a.entities.length ? el("h2", { text: "Entities" }) : null,
    ents,
    el("h2", { text: "Text" }),
    text,
  );
}

// A paragraph with each event's evidence sentence wrapped in <mark class="evidence">.
function markEvidence(para, events) {
  const p = el("p");
  const spans = [];
  for (const ev of events) {
    const ev_text = (ev.evidence || "").trim();
    if (!ev_text) continue;
    const at = para.indexOf(ev_text);
    if (at >= 0) spans.push([at, at + ev_text.length, ev.type]);
  }
  spans.sort((x, y) => x[0] - y[0]);
  let pos = 0;
  for (const [start, end, type] of spans) {
    if (start < pos) continue; // overlapping evidence: the first one wins
    p.append(para.slice(pos, start));
    p.append(el("mark", { class: "evidence", "data-event": type, title: label(type), text: para.slice(start, end) }));
    pos = end;
  }
  p.append(para.slice(pos));
  return p;
}

// ------------------------------------------------------------------ rules
function ruleFromForm(form) {
  const data = new FormData(form);
  const list = (s, sep) => String(s || "").split(sep).map((x) => x.trim()).filter(Boolean);
  return {
    name: String(data.get("name") || "").trim(),
    query: String(data.get("query") || ""),
    channels: list(data.get("channels"), /\n/),
    languages: list(data.get("languages"), /,/),
    force: data.get("force") === "on",
  };
}

async function renderRules() {
  const tbody = $("#rules-table tbody");
  const note = $("#rules-note");
  note.textContent = "";
  try {
    const rules = await api("/api/rules");
    tbody.replaceChildren();
    for (const r of rules) {
      const toggle = el("input", { type: "checkbox", "aria-label": `Rule ${r.name} enabled` });
      toggle.checked = !!r.enabled;
      toggle.addEventListener("change", async () => {
        try {
          await api(`/api/rules/${encodeURIComponent(r.name)}`, {
            method: "PATCH", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ enabled: toggle.checked }),
          });
        } catch (err) {
          toggle.checked = !toggle.checked;
          note.textContent = err.message;
        }
      });
      const del = el("button", { type: "button", text: "Delete", "aria-label": `Delete rule ${r.name}` });
      del.addEventListener("click", async () => {
        try {
          await api(`/api/rules/${encodeURIComponent(r.name)}`, { method: "DELETE" });
          renderRules();
        } catch (err) {
          note.textContent = err.message;
        }
      });
      tbody.append(el("tr", {},
        el("td", { text: r.name }),
        el("td", { dir: "auto" }, el("a", { href: `/?q=${encodeURIComponent(r.query)}`, "data-nav": true, text: r.query })),
        el("td", { text: (r.channels || []).join("\n") }),
        el("td", {}, toggle), el("td", {}, del)));
    }
    if (!rules.length) note.textContent = "No rules yet.";
  } catch (err) {
    note.textContent = err.message;
  }
  renderAlerts();
}

async function renderAlerts() {
  const tbody = $("#alerts-table tbody");
  try {
    const alerts = await api("/api/alerts?limit=50");
    tbody.replaceChildren();
    for (const a of alerts) {
      const link = el("a", { href: `/articles/${encodeURIComponent(a.article_id)}`, "data-nav": true, dir: "auto", text: a.title || a.article_id });
      const states = (a.deliveries || []).map((d) => `${d.channel}: ${d.state}`).join("\n");
      tbody.append(el("tr", {}, el("td", { text: (a.created_at || "").slice(0, 19) }), el("td", { text: a.rule }), el("td", {}, link), el("td", { text: states })));
    }
  } catch (err) {
    tbody.replaceChildren(el("tr", {}, el("td", { colspan: 4, text: err.message })));
  }
}

function bindRuleForm() {
  const form = $("#rule-form");
  const errBox = $("#rule-error");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    errBox.textContent = "";
    try {
      await api("/api/rules", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(ruleFromForm(form)),
      });
      form.reset();
      renderRules();
    } catch (err) {
      errBox.textContent = err.message;
    }
  });
  $("#rule-test").addEventListener("click", async () => {
    errBox.textContent = "";
    const rule = ruleFromForm(form);
    const p = new URLSearchParams({ q: rule.query, sort: "date", size: "10", facets: "false", collapse: "true" });
    for (const l of rule.languages) p.append("lang", l);
    const out = $("#rule-test-results");
    out.replaceChildren();
    try {
      const data = await api(`/api/search?${p}`);
      out.append(el("li", { class: "note", text: `${data.total} matching stories; the latest:` }));
      for (const h of data.hits) out.append(renderHit(h, new URLSearchParams({ q: rule.query })));
    } catch (err) {
      errBox.textContent = err.message;
    }
  });
}

// ------------------------------------------------------------------ feeds
async function renderFeeds() {
  const tbody = $("#feeds-table tbody");
  const summary = $("#health-summary");
  try {
    const h = await api("/api/health");
    summary.replaceChildren();
    const add = (k, v) => summary.append(el("dt", { text: k }), el("dd", { text: String(v) }));
    add("Status", h.status);
    add("Search backend", `${h.backend}${h.backend_ok ? "" : " (unreachable)"}`);
    add("Articles", h.articles);
    add("Waiting for the index", h.pending_index);
    add("Alert outbox backlog", h.outbox_backlog === null ? "n/a" : h.outbox_backlog);
    add("Last run", h.last_run ? `${h.last_run.started_at} (${h.last_run.status})` : "never");
    tbody.replaceChildren();
    for (const f of h.feeds) {
      const bad = f.consecutive_errors > 0;
      tbody.append(el("tr", {},
        el("td", { dir: "auto", text: f.name }),
        el("td", { class: bad ? "bad" : null, text: f.last_status || "never polled" }),
        el("td", { text: String(f.consecutive_errors) }),
        el("td", { text: (f.last_success_at || "").slice(0, 19) }),
        el("td", { text: String(f.items_seen) }),
        el("td", { text: f.last_error || f.last_warning || "" })));
    }
  } catch (err) {
    summary.replaceChildren(el("dt", { text: "Error" }), el("dd", { text: err.message }));
  }
}

// ------------------------------------------------------------------ start
function start() {
  document.addEventListener("click", (e) => {
    const a = e.target.closest("a[data-nav]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const href = a.getAttribute("href");
    if (!href || !href.startsWith("/")) return;
    e.preventDefault();
    navigate(href);
  });
  window.addEventListener("popstate", render);
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    navigate(searchUrl(stateFromForm()));
  });
  $("#sort").addEventListener("change", () => navigate(searchUrl(stateFromForm())));
  $("#key-button").addEventListener("click", askForKey);
  $("#key-form").addEventListener("submit", (e) => {
    if (e.submitter && e.submitter.value === "save") {
      const key = $("#key-input").value.trim();
      if (key) sessionStorage.setItem(KEY_STORE, key);
      else sessionStorage.removeItem(KEY_STORE);
      $("#key-input").value = "";
      setTimeout(render, 0);
    }
  });
  bindRuleForm();
  render();
}

document.addEventListener("DOMContentLoaded", start);
