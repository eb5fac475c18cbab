// newswatch page: the incidents tab and one incident's view (timeline of
// reports, map, evidence in each language). Uses el/api/project/loadOutline
// from app.js; every text from a news page goes in with textContent.
"use strict";

const LANG_NAME = { en: "English", ar: "Arabic" };

function incidentSummary(inc) {
  const places = (inc.places || []).slice(0, 3).map((p) => p.name).join(", ");
  const langs = (inc.languages || []).map((l) => LANG_NAME[l] || l).join(" and ");
  return `${inc.reports} report${inc.reports === 1 ? "" : "s"} in ${(inc.outlets || []).length} outlet(s), ${langs} · ${places}`;
}

async function renderIncidents(params) {
  const form = document.querySelector("#incidents-form");
  if (!form.dataset.bound) {
    form.dataset.bound = "1";
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const q = new URLSearchParams();
      for (const k of ["type", "place"]) {
        const v = form.elements[k].value.trim();
        if (v) q.set(k, v);
      }
      navigate(`/incidents${q.toString() ? "?" + q : ""}`);
    });
  }
  form.elements.type.value = params.get("type") || "";
  form.elements.place.value = params.get("place") || "";
  const list = document.querySelector("#incidents");
  const error = document.querySelector("#inc-error");
  error.textContent = "";
  list.replaceChildren();
  let data;
  try {
    data = await api(`/api/incidents?${params}`);
  } catch (err) {
    error.textContent = err.message;
    return;
  }
  document.querySelector("#inc-count").textContent = `${data.count} incident(s)`;
  for (const inc of data.incidents) {
    list.append(
      el("li", { class: "hit incident" },
        el("h3", {}, el("a", { href: `/incidents/${encodeURIComponent(inc.id)}`, "data-nav": "",
          text: `${inc.type.replace(/_/g, " ")} · ${inc.event_date}` })),
        el("p", { class: "meta", text: incidentSummary(inc) }),
        el("p", { dir: "auto", text: (inc.evidence[0] || {}).evidence || "" })));
  }
}

async function renderIncident(id) {
  const box = document.querySelector("#incident");
  box.replaceChildren(el("p", { text: "Loading…" }));
  let inc;
  try {
    inc = await api(`/api/incidents/${encodeURIComponent(id)}`);
  } catch (err) {
    box.replaceChildren(el("p", { class: "error", role: "alert", text: err.message }));
    return;
  }
  const actors = (inc.actors || []).map((a) => a.name).join(", ") || "unknown";
  const facts = el("dl", { class: "facts" },
    el("dt", { text: "Event" }), el("dd", { text: `${inc.type} (ACLED: ${inc.acled_event_type} / ${inc.sub_event_type}; PLOVER ${inc.plover})` }),
    el("dt", { text: "Date" }), el("dd", { text: `${inc.event_date} (from ${inc.date_provenance})` }),
    el("dt", { text: "Actors" }), el("dd", { text: actors }),
    el("dt", { text: "Reports" }), el("dd", { text: incidentSummary(inc) }));
  // map: the places on the outline of Libya
  const ns = "http://www.w3.org/2000/svg";
  const map = document.createElementNS(ns, "svg");
  map.setAttribute("viewBox", "0 0 500 500");
  map.setAttribute("class", "incident-map");
  map.setAttribute("width", "320");
  map.setAttribute("height", "320");
  map.setAttribute("role", "img");
  map.setAttribute("aria-label", `Places: ${(inc.places || []).map((p) => p.name).join(", ")}`);
  const outline = document.createElementNS(ns, "path");
  outline.setAttribute("class", "outline");
  map.append(outline);
  const copyOutline = (tries) => {
    const d = document.querySelector("#outline").getAttribute("d") || "";
    if (d) outline.setAttribute("d", d);
    else if (tries > 0) setTimeout(() => copyOutline(tries - 1), 200);
  };
  loadOutline().then(() => copyOutline(20));
  for (const p of inc.places || []) {
    if (typeof p.lat !== "number") continue;
    const [x, y] = project(p.lon, p.lat);
    const c = document.createElementNS(ns, "circle");
    c.setAttribute("cx", x.toFixed(1));
    c.setAttribute("cy", y.toFixed(1));
    c.setAttribute("r", "7");
    c.setAttribute("class", "point");
    const t = document.createElementNS(ns, "title");
    t.textContent = p.name;
    c.append(t);
    map.append(c);
  }
  const evidence = el("section", { class: "evidence" }, el("h2", { text: "Evidence" }));
  for (const lang of inc.languages || []) {
    const items = (inc.evidence || []).filter((e) => e.lang === lang);
    if (!items.length) continue;
    evidence.append(el("h3", { text: LANG_NAME[lang] || lang }));
    const ul = el("ul", { lang, dir: "auto" });
    for (const e of items) {
      ul.append(el("li", {}, el("q", { text: e.evidence }), " — ",
        el("a", { href: `/articles/${encodeURIComponent(e.article_id)}`, "data-nav": "", text: e.source })));
    }
    evidence.append(ul);
  }
  const timeline = el("ol", { class: "timeline" });
  for (const a of inc.articles || []) {
    timeline.append(el("li", {},
      el("time", { text: (a.published || "").slice(0, 16).replace("T", " ") }), " ",
      el("a", { href: `/articles/${encodeURIComponent(a.article_id)}`, "data-nav": "", dir: "auto", text: a.title || a.url }),
      el("span", { class: "meta", text: ` · ${a.source} · ${LANG_NAME[a.lang] || a.lang || ""}` })));
  }
  box.replaceChildren(
    el("h1", { text: `${inc.type.replace(/_/g, " ")} — ${(inc.places || []).map((p) => p.name).slice(0, 3).join(", ")}` }),
    facts, map, evidence, el("h2", { text: "Timeline of reports" }), timeline);
}
