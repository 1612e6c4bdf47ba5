// The homepage demo: plain JS against the API's own origin (no build step, nothing external).
// Flow: POST /v1/recommendations -> GET /v1/items (names, categories, images) -> render;
// a click POSTs a View to /v1/demo/events (forwarded to the event service), then refreshes
// and reports what changed. Catalog text is only ever set through textContent.
// Two pictures below: the experiment's arms (GET /v1/demo/experiment, re-read after each click)
// and the serving version's evaluation report (GET /v1/demo/report), drawn as inline SVG.
"use strict";

const DAY_MS = 86400e3;
const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const $ = (id) => document.getElementById(id);
const items = new Map(); // item_id -> ItemInfo (cached across refreshes)
const state = { visitors: null, page: null, busy: false, pending: null, refreshes: 0, experiment: null, experimentLoads: 0 };
const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function newEventId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  return `evt-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

async function getJson(url, init) {
  const resp = await fetch(url, init);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || body);
    throw new Error(`${init && init.method ? init.method : "GET"} ${url}: ${resp.status} ${detail}`);
  }
  return { body, resp };
}

function showError(err) {
  const box = $("error");
  box.textContent = err ? String(err.message || err) : "";
  box.hidden = !err;
}

// --- visitor, device and time -------------------------------------------------------------

function visitor() {
  const [kind, id] = $("visitor").value.split("|");
  return { kind, id };
}

function pickedTimestamp() {
  // The picked time sets the homepage's context (hour, weekday). A weekday resolves to today
  // or one of the next six UTC days: Triton's graph filters seen items at the server clock,
  // the popularity fallback at the request's time, and either way today's clicks (events are
  // stamped by the server) stay inside the seven-day window.
  const day = $("weekday").value;
  if (day === "now") return null;
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const ahead = (Number(day) - ((now.getUTCDay() + 6) % 7) + 7) % 7;
  return Math.floor((today + ahead * DAY_MS + Number($("hour").value) * 3600e3) / 1000);
}

function contextText(ts) {
  const device = $("device").value || "unknown device";
  if (ts === null) return `${device}, now`;
  const d = new Date(ts * 1000);
  return `${device}, ${DAYS[(d.getUTCDay() + 6) % 7]} ${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

function fillVisitors(visitors) {
  const select = $("visitor");
  const previous = select.value;
  select.replaceChildren();
  if (visitors.registered.length) {
    const group = el("optgroup", { label: "registered (most history)" });
    for (const v of visitors.registered) {
      const label = `${v.user_id} · ${v.interactions} events${v.top_category ? `, mostly ${v.top_category}` : ""}`;
      group.append(el("option", { value: `registered|${v.user_id}` }, label));
    }
    select.append(group);
  }
  select.append(el("option", { value: `anonymous|${visitors.anonymous_id}` }, `anonymous visitor (${visitors.anonymous_id})`));
  select.append(el("option", { value: `new|${visitors.new_user_id}` }, `new user (${visitors.new_user_id})`));
  // Keep the choice: the same registered user, or the same kind with its fresh id.
  const kind = previous.split("|")[0];
  const keep = [...select.options].find((o) => o.value === previous) ||
    (kind !== "registered" ? [...select.options].find((o) => o.value.startsWith(`${kind}|`)) : null);
  if (keep) select.value = keep.value;
}

async function loadVisitors() {
  const { body } = await getJson("/v1/demo/visitors");
  state.visitors = body;
  fillVisitors(body);
}

// --- rendering ------------------------------------------------------------------------------

function hue(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function placeholder(info) {
  // No image in the catalog: a generated tile, coloured by category.
  const ns = SVG_NS;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 160 120");
  svg.setAttribute("class", "thumb placeholder");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${info.category_l1} placeholder`);
  const h = hue(info.category_l1);
  const rect = document.createElementNS(ns, "rect");
  for (const [k, v] of Object.entries({ width: 160, height: 120, fill: `hsl(${h} 55% 78%)` })) rect.setAttribute(k, v);
  const circle = document.createElementNS(ns, "circle");
  for (const [k, v] of Object.entries({ cx: 80, cy: 50, r: 26, fill: `hsl(${h} 55% 45%)` })) circle.setAttribute(k, v);
  const text = document.createElementNS(ns, "text");
  for (const [k, v] of Object.entries({ x: 80, y: 104, "text-anchor": "middle", "font-size": 14, fill: `hsl(${h} 60% 20%)` }))
    text.setAttribute(k, v);
  text.textContent = info.category_l1;
  const initial = document.createElementNS(ns, "text");
  for (const [k, v] of Object.entries({ x: 80, y: 59, "text-anchor": "middle", "font-size": 26, fill: "#fff" }))
    initial.setAttribute(k, v);
  initial.textContent = (info.category_l1[0] || "?").toUpperCase();
  svg.append(rect, circle, initial, text);
  return svg;
}

function card(id, rank, score) {
  const info = items.get(id) || { item_id: id, name: null, category_l1: "unknown", category_l2: "", price: null, image: null };
  const thumb = info.image ? el("img", { class: "thumb", src: info.image, alt: info.name || id, loading: "lazy" }) : placeholder(info);
  const price = info.price === null ? "" : `$${info.price.toFixed(2)}`;
  const node = el(
    "article",
    { class: "card", "data-item-id": id, "data-category": info.category_l1, tabIndex: 0, title: "click: send a View event" },
    thumb,
    el("div", { class: "rank" }, `#${rank}`),
    el("h3", { class: "name" }, info.name || `item ${id}`),
    el("p", { class: "category" }, info.category_l2 ? `${info.category_l1} › ${info.category_l2}` : info.category_l1),
    el("p", { class: "meta" }, el("span", { class: "price" }, price), el("span", { class: "score" }, `score ${score.toFixed(3)}`)),
  );
  node.addEventListener("click", () => view(id));
  node.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      view(id);
    }
  });
  return node;
}

function renderGrid(page) {
  const grid = $("grid");
  grid.replaceChildren(...page.item_ids.map((id, i) => card(id, i + 1, page.scores[i])));
  if (!page.item_ids.length) grid.append(el("p", { class: "muted" }, "No recommendations."));
}

function badge(flag, text, kind, on) {
  return el("span", { class: `badge ${kind}${on ? " on" : ""}`, "data-flag": flag, "data-on": String(on) }, text);
}

function categoryCounts(ids) {
  const counts = new Map();
  for (const id of ids) {
    const cat = (items.get(id) || {}).category_l1 || "unknown";
    counts.set(cat, (counts.get(cat) || 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function countsText(counts) {
  return counts.slice(0, 4).map(([c, n]) => `${c} ${n}`).join(", ") || "–";
}

function nameOf(id) {
  const info = items.get(id);
  return info && info.name ? info.name : `item ${id}`;
}

function itemList(ids, attr, note) {
  if (!ids.length) return el("p", { class: "muted" }, "none");
  return el("ul", {}, ...ids.map((id) => el("li", { [attr]: id }, nameOf(id), note && note(id) ? el("em", {}, ` ${note(id)}`) : null)));
}

function renderPanel(page, before, clicked) {
  $("who").textContent = `${page.visitor.kind}: ${page.visitor.id}`;
  $("context").textContent = page.context;
  const server = page.serverMs === null ? "" : ` (server ${page.serverMs.toFixed(1)} ms)`;
  $("latency").textContent = `${page.latencyMs.toFixed(1)} ms round trip${server}`;
  $("latency").dataset.ms = page.latencyMs.toFixed(1);
  $("flags").replaceChildren(
    badge("source", page.source, "source", page.source !== "triton"),
    badge("fallback", "fallback", "warn", page.fallback),
    badge("filter-skipped", "filter skipped", "warn", page.filter_skipped),
    badge("cold-start", "cold start", "info", page.cold_start),
  );
  $("arm").textContent = page.arm === null ? "no experiment" : `${page.arm} (${page.version === null ? "popularity path" : `v${page.version}`})`;
  const top = page.topCategory || "none yet";
  $("top-category").textContent =
    before && before.visitor.id === page.visitor.id && before.topCategory !== page.topCategory
      ? `${before.topCategory || "none"} → ${top}`
      : top;

  const changes = $("changes");
  if (!before || before.visitor.id !== page.visitor.id) {
    changes.replaceChildren(el("p", { class: "muted" }, "New visitor or first page: click a product to see what changes."));
    changes.dataset.kind = "initial";
    return;
  }
  const removed = before.item_ids.filter((id) => !page.item_ids.includes(id));
  const added = page.item_ids.filter((id) => !before.item_ids.includes(id));
  const hidden = clicked !== null && !page.item_ids.includes(clicked);
  changes.dataset.kind = clicked === null ? "refresh" : "click";
  changes.replaceChildren(
    clicked === null
      ? el("p", {}, "Refreshed.")
      : el(
          "p",
          { "data-clicked-id": clicked, class: hidden ? "ok" : "warn" },
          `Viewed “${nameOf(clicked)}”: ${hidden ? "hidden as seen" : "still shown"}.`,
        ),
    el("h3", {}, `Removed (${removed.length})`),
    itemList(removed, "data-removed-id", (id) => (id === clicked ? "(viewed)" : "")),
    el("h3", {}, `Added (${added.length})`),
    itemList(added, "data-added-id"),
    el("h3", {}, "Categories on the page"),
    el("p", { "data-categories": "before" }, `before: ${countsText(categoryCounts(before.item_ids))}`),
    el("p", { "data-categories": "after" }, `after: ${countsText(categoryCounts(page.item_ids))}`),
  );
}

// --- pictures: experiment arms and the evaluation report -----------------------------------

function svg(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== null) node.textContent = text;
  return node;
}

function pct(x) {
  return x === null ? "–" : `${(100 * x).toFixed(1)} %`;
}

function niceMax(x) {
  // The axis end: the smallest of 1, 2 or 5 x 10^k at or above x (at most 1: rates and recalls).
  if (!(x > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(x));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((v) => v >= x - 1e-12);
  return Math.min(1, nice);
}

function renderExperiment() {
  const body = state.experiment;
  const panel = $("experiment-panel");
  if (!body || body.experiment === null) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const current = state.page ? state.page.arm : null;
  $("experiment-name").textContent = `${body.experiment}${body.store_skipped ? " (Valkey unreachable: no counts)" : ""}`;
  const live = body.arms.filter((a) => !a.shadow);
  const W = 560, left = 120, right = 110, row = 38, top = 8, axis = 22;
  const H = top + row * body.arms.length + axis;
  const scale = niceMax(Math.max(...live.map((a) => a.goals.click.high ?? a.goals.click.rate ?? 0), 0.01));
  const x = (v) => left + (W - left - right) * (v / scale);
  const chart = $("arms-chart");
  chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const nodes = [];
  for (let t = 0; t <= 4; t++) {
    const v = (scale * t) / 4;
    nodes.push(svg("line", { x1: x(v), x2: x(v), y1: top, y2: H - axis, stroke: "#e3e6eb" }));
    nodes.push(svg("text", { x: x(v), y: H - 6, "text-anchor": "middle", "font-size": 11, fill: "#6b7280" }, pct(v)));
  }
  body.arms.forEach((arm, i) => {
    const y = top + i * row;
    const mine = arm.name === current;
    const g = svg("g", { class: "arm", "data-arm": arm.name, "data-current": String(mine) });
    const colour = mine ? "#2f6fde" : "#1d2330";
    g.append(svg("text", { x: left - 8, y: y + row / 2, "text-anchor": "end", "font-size": 13, "font-weight": mine ? 700 : 400, fill: colour },
      `${mine ? "▶ " : ""}${arm.name}`));
    g.append(svg("text", { x: left - 8, y: y + row / 2 + 12, "text-anchor": "end", "font-size": 10, fill: "#6b7280" },
      arm.version === null ? "popularity path" : `model v${arm.version}`));
    if (arm.shadow) {
      const overlap = arm.overlap === null ? "–" : pct(arm.overlap);
      g.append(svg("text", { x: left, y: y + row / 2 + 4, "font-size": 12, fill: "#6b7280", "font-style": "italic" },
        `shadow: ${arm.homepages} computed, never shown; overlap with the shown page ${overlap}`));
      nodes.push(g);
      return;
    }
    const click = arm.goals.click;
    const fill = mine ? "#2f6fde" : "#93b4ec";
    g.append(svg("rect", { class: "bar", x: left, y: y + 7, width: Math.max(0, x(click.rate ?? 0) - left), height: row - 14, rx: 3, fill,
      "data-rate": click.rate ?? "" }));
    if (click.low !== null) {
      const cy = y + row / 2;
      const whisker = svg("g", { class: "whisker", stroke: "#1d2330", "stroke-width": 1.5, "data-low": click.low, "data-high": click.high });
      whisker.append(
        svg("line", { x1: x(click.low), x2: x(click.high), y1: cy, y2: cy }),
        svg("line", { x1: x(click.low), x2: x(click.low), y1: cy - 6, y2: cy + 6 }),
        svg("line", { x1: x(click.high), x2: x(click.high), y1: cy - 6, y2: cy + 6 }),
      );
      g.append(whisker);
    }
    g.append(svg("text", { class: "value", x: W - right + 8, y: y + row / 2 + 4, "font-size": 12, fill: "#1d2330" },
      `${pct(click.rate)} (${click.homepages}/${arm.homepages})`));
    nodes.push(g);
  });
  chart.replaceChildren(...nodes);
  $("arms-table").tBodies[0].replaceChildren(...body.arms.map((arm) => {
    const click = arm.goals.click;
    const cells = [
      (arm.name === current ? "▶ " : "") + arm.name,
      arm.version === null ? "popularity" : `v${arm.version}`,
      arm.shadow ? "shadow" : `${arm.weight} %`,
      String(arm.homepages),
      click ? String(click.homepages) : "–",
      click ? pct(click.rate) : "–",
      String(arm.errors),
    ];
    const tr = el("tr", {
      "data-arm": arm.name, "data-current": String(arm.name === current), "data-shadow": String(arm.shadow),
      "data-homepages": String(arm.homepages), "data-clicks": click ? String(click.homepages) : "",
      "data-click-events": click ? String(click.events) : "",
    }, ...cells.map((c) => el("td", {}, c)));
    return tr;
  }));
}

async function loadExperiment() {
  const { body } = await getJson("/v1/demo/experiment");
  state.experiment = body;
  renderExperiment();
  state.experimentLoads += 1;
  document.body.dataset.experimentLoads = String(state.experimentLoads);
}

const ROLE_COLOURS = { baseline: ["#9ca3af"], model: ["#2f6fde", "#60a5fa", "#1e3a8a", "#93c5fd"], oracle: ["#15803d", "#f59e0b"] };

function methodColours(groups) {
  const colours = new Map();
  const used = { baseline: 0, model: 0, oracle: 0 };
  for (const group of groups) {
    for (const bar of group.bars) {
      if (colours.has(bar.method)) continue;
      const palette = ROLE_COLOURS[bar.role];
      colours.set(bar.method, palette[used[bar.role]++ % palette.length]);
    }
  }
  return colours;
}

function renderReport(body) {
  const panel = $("evaluation-panel");
  panel.hidden = !body.available;
  if (!body.available) return;
  $("report-version").textContent = body.version === null ? "" : `model version ${body.version}`;
  $("report-queries").textContent = body.queries === null ? "–" : String(body.queries);
  const groups = body.groups;
  const colours = methodColours(groups);
  const W = 760, H = 320, left = 44, right = 8, top = 40, bottom = 34;
  const values = groups.flatMap((g) => g.bars.map((b) => b.value ?? 0));
  const scale = niceMax(Math.max(...values, 0.01));
  const y = (v) => top + (H - top - bottom) * (1 - v / scale);
  const chart = $("report-chart");
  chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const nodes = [];
  for (let t = 0; t <= 4; t++) {
    const v = (scale * t) / 4;
    nodes.push(svg("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), stroke: "#e3e6eb" }));
    nodes.push(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#6b7280" }, v.toFixed(2)));
  }
  const slot = (W - left - right) / Math.max(1, groups.length);
  groups.forEach((group, gi) => {
    const g = svg("g", { class: "group", "data-metric": group.metric });
    const width = Math.min(34, (slot * 0.84) / Math.max(1, group.bars.length));
    const start = left + gi * slot + (slot - width * group.bars.length) / 2;
    group.bars.forEach((bar, bi) => {
      const bx = start + bi * width;
      const v = bar.value ?? 0;
      const rect = svg("rect", { class: "bar", x: bx + 1, y: y(v), width: width - 2, height: y(0) - y(v), fill: colours.get(bar.method),
        "data-method": bar.method, "data-role": bar.role, "data-value": bar.value ?? "" });
      rect.append(svg("title", {}, `${bar.method}: ${bar.value === null ? "n/a" : bar.value.toFixed(4)}`));
      g.append(rect);
      // Upright labels: six bars to a group leave each one too narrow for a level number.
      const lx = bx + width / 2 + 3, ly = y(v) - 4;
      g.append(svg("text", { class: "value", x: lx, y: ly, transform: `rotate(-90 ${lx} ${ly})`, "font-size": 10, fill: "#1d2330" },
        bar.value === null ? "n/a" : bar.value.toFixed(3)));
    });
    if (group.metric === "auc") {
      // The report has no baseline AUC; a random ranker's is 0.5.
      const x0 = left + gi * slot + slot * 0.06, x1 = left + (gi + 1) * slot - slot * 0.06;
      g.append(svg("line", { x1: x0, x2: x1, y1: y(0.5), y2: y(0.5), stroke: "#b45309", "stroke-dasharray": "4 3", "stroke-width": 1.5 }));
      g.append(svg("text", { x: x1, y: y(0.5) - 4, "text-anchor": "end", "font-size": 10, fill: "#b45309" }, "chance 0.5"));
    }
    g.append(svg("text", { class: "metric", x: left + gi * slot + slot / 2, y: H - 12, "text-anchor": "middle", "font-size": 13, "font-weight": 600, fill: "#1d2330" },
      group.metric));
    nodes.push(g);
  });
  nodes.push(svg("line", { x1: left, x2: W - right, y1: y(0), y2: y(0), stroke: "#6b7280" }));
  chart.replaceChildren(...nodes);
  $("report-legend").replaceChildren(...[...colours.entries()].map(([method, colour]) => {
    const span = el("span", { "data-method": method }, method);
    span.style.setProperty("--swatch", colour);
    return span;
  }));
}

async function loadReport() {
  const { body } = await getJson("/v1/demo/report");
  renderReport(body);
  document.body.dataset.report = body.available ? "shown" : "none";
}

// --- requests -----------------------------------------------------------------------------

function recommendationBody(v, ts) {
  const body = { num_items: Math.max(1, Math.min(48, Number($("num-items").value) || 12)) };
  if (v.kind === "anonymous") body.session_id = v.id;
  else body.user_id = v.id;
  if ($("device").value) body.device = $("device").value;
  if (ts !== null) body.timestamp = ts;
  return body;
}

async function fetchItems(ids) {
  const missing = [...new Set(ids)].filter((id) => !items.has(id));
  if (!missing.length) return;
  const query = missing.map((id) => `ids=${encodeURIComponent(id)}`).join("&");
  const { body } = await getJson(`/v1/items?${query}`);
  for (const info of body.items) items.set(info.item_id, info);
}

async function visitorTopCategory(v) {
  try {
    const { body } = await getJson(`/v1/demo/visitors/${encodeURIComponent(v.id)}`);
    return body.top_category;
  } catch (err) {
    return null;
  }
}

async function refresh(clicked = null, clickStarted = null) {
  const v = visitor();
  const ts = pickedTimestamp();
  document.body.dataset.state = "loading";
  const started = performance.now();
  const { body, resp } = await getJson("/v1/recommendations", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(recommendationBody(v, ts)),
  });
  const latencyMs = performance.now() - started;
  const timing = /dur=([0-9.]+)/.exec(resp.headers.get("Server-Timing") || "");
  const [, topCategory] = await Promise.all([fetchItems(body.item_ids), visitorTopCategory(v)]);
  const page = {
    ...body,
    visitor: v,
    context: contextText(ts),
    latencyMs,
    serverMs: timing ? Number(timing[1]) : null,
    topCategory,
  };
  const before = state.page;
  state.page = page;
  renderGrid(page);
  renderPanel(page, before, clicked);
  renderExperiment();
  if (clickStarted !== null) {
    const ms = performance.now() - clickStarted;
    $("adapted").textContent = `${ms.toFixed(0)} ms from click to new homepage`;
    $("adapted").dataset.ms = ms.toFixed(1);
  }
  state.refreshes += 1;
  document.body.dataset.refreshes = String(state.refreshes);
  document.body.dataset.state = "ready";
}

function view(itemId) {
  const clickStarted = performance.now();
  return safely(async () => {
    const v = visitor();
    const event = { event_id: newEventId(), item_id: itemId, event_type: "View" };
    if (v.kind === "anonymous") event.anonymous_id = v.id;
    else event.user_id = v.id;
    if ($("device").value) event.device = $("device").value;
    // Attribution: the click counts for the experiment arm that showed this homepage.
    if (state.page && state.page.recommendation_id) event.recommendation_id = state.page.recommendation_id;
    await getJson("/v1/demo/events", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(event),
    });
    await refresh(itemId, clickStarted);
    await loadExperiment(); // the click now counts for the arm that showed this homepage
  });
}

async function safely(fn) {
  // One request chain at a time; a change made meanwhile runs right after (the latest wins).
  if (state.busy) {
    state.pending = fn;
    return;
  }
  state.busy = true;
  try {
    await fn();
    showError(null);
  } catch (err) {
    showError(err);
    document.body.dataset.state = "error";
  } finally {
    state.busy = false;
  }
  const next = state.pending;
  state.pending = null;
  if (next) await safely(next);
}

function init() {
  const hour = $("hour");
  for (let h = 0; h < 24; h++) hour.append(el("option", { value: String(h) }, `${String(h).padStart(2, "0")}:00`));
  hour.value = String(new Date().getUTCHours());
  $("weekday").addEventListener("change", () => {
    hour.disabled = $("weekday").value === "now";
    safely(() => refresh());
  });
  for (const id of ["visitor", "device", "hour"]) $(id).addEventListener("change", () => safely(() => refresh()));
  $("controls").addEventListener("submit", (e) => {
    e.preventDefault();
    safely(() => refresh());
  });
  $("fresh-ids").addEventListener("click", () => safely(async () => {
    await loadVisitors();
    await refresh();
  }));
  safely(async () => {
    await loadVisitors();
    await Promise.all([loadExperiment(), loadReport()]);
    await refresh();
  });
}

document.addEventListener("DOMContentLoaded", init);
