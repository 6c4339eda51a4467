// rlswarm dashboard: renders the snapshot served by /api/* and follows /api/events.
// Every value is set with textContent, never as HTML: peer ids and messages come from the network.
"use strict";

const COLORS = ["#58a6ff", "#3fb950", "#d29922", "#f778ba", "#a371f7", "#39c5cf", "#ff7b72", "#e3b341"];
const charts = {};

if (location.search.includes("token=")) {
  // the server has set a cookie for this page; keep the token out of the address bar and history
  history.replaceState(null, "", location.pathname);
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function num(value, digits) {
  return value === null || value === undefined ? "-" : Number(value).toFixed(digits);
}

function ago(at) {
  if (!at) return "-";
  const s = Math.max(0, Date.now() / 1000 - at);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h ago`;
  return new Date(at * 1000).toLocaleString();
}

function duration(s) {
  if (s === null || s === undefined) return "-";
  s = Math.floor(s);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function memory(status) {
  if (!status.memory_rss_bytes) return "-";
  const gib = status.memory_rss_bytes / 1024 ** 3;
  const text = gib >= 1 ? `${gib.toFixed(2)} GiB` : `${(status.memory_rss_bytes / 1024 ** 2).toFixed(0)} MiB`;
  return status.memory_limit_gb ? `${text} / ${status.memory_limit_gb} GiB` : text;
}

function fillBody(table, rows) {
  const body = document.querySelector(`#${table} tbody`);
  body.replaceChildren(...rows);
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) tr.appendChild(cell instanceof Node ? cell : el("td", cell));
  return tr;
}

function renderInstances(data) {
  const list = data.instances || [];
  fillBody("instances", list.map((s) => {
    const chain = s.last_chain;
    const chainCell = chain
      ? el("td", `${chain.what} r${chain.round}/s${chain.stage}: ${chain.status} (${ago(chain.at)})`, `status-${chain.status}`)
      : el("td", "-");
    return row([
      s.name, s.animal_name || "-", el("td", s.state, `state-${s.state}`),
      s.round === null ? "-" : `${s.round}/${s.stage}`,
      el("td", s.peers ?? "-", "num"),
      s.rank ? `${s.rank}/${s.leaderboard_size}` : "-",
      el("td", num(s.last_reward, 3), "num"), el("td", num(s.rewards_total, 3), "num"),
      el("td", s.restarts, "num"), chainCell, memory(s), duration(s.uptime_s),
    ]);
  }));
  const total = list.reduce((sum, s) => sum + (s.rewards_total || 0), 0);
  const running = list.filter((s) => s.running).length;
  document.getElementById("summary").textContent =
    `${list.length} instance(s), ${running} running · total reward ${total.toFixed(3)}`;
  const warnings = document.getElementById("warnings");
  const alerts = (data.alerts || []).map((a) => el("div", `alert ${a.key}: ${a.detail || ""} (since ${ago(a.since)})`, "alert"));
  warnings.replaceChildren(...alerts, ...(data.warnings || []).map((w) => el("div", w)));
  const events = list.flatMap((s) => (s.chain || []).map((c) => ({ ...c, name: s.name })));
  events.sort((a, b) => (b.at || 0) - (a.at || 0));
  fillBody("chain", events.slice(0, 12).map((c) => row([
    c.name, c.what, `${c.round}/${c.stage}`, el("td", c.status, `status-${c.status}`), ago(c.at), c.message || "",
  ])));
  document.getElementById("chain-note").textContent = events.length ? "" : "no chain submissions journaled";
}

function chartWidth(container) {
  return Math.max(300, container.clientWidth - 4);
}

// one uPlot per container; rebuilt only when its series change, else just given new data
function plot(id, container, labels, data, opts) {
  const key = labels.join("\u0000");
  let chart = charts[id];
  if (chart && chart.key !== key) {
    chart.plot.destroy();
    chart = null;
  }
  if (!chart) {
    const series = [{}].concat(labels.map((label, i) => ({
      label, stroke: opts.colors ? opts.colors[i] : COLORS[i % COLORS.length], width: 2,
      spanGaps: true, points: { show: opts.points || false, size: 5 },
    })));
    const uplot = new uPlot({
      width: chartWidth(container), height: opts.height || 220, series,
      scales: { x: { time: true } },
      axes: [
        { stroke: "#7d8894", grid: { stroke: "#263140" } },
        { stroke: "#7d8894", grid: { stroke: "#263140" }, label: opts.ylabel },
      ],
    }, data, container);
    chart = charts[id] = { plot: uplot, key };
  } else {
    chart.plot.setData(data);
  }
  container.dataset.points = String(data[0].length);
}

function renderRewards(data) {
  const cum = data.cumulative || { t: [], series: {} };
  const names = Object.keys(cum.series).filter((n) => n !== "total");
  const labels = names.concat(["total"]);
  const colors = names.map((_, i) => COLORS[i % COLORS.length]).concat(["#d8dee6"]);
  plot("cumulative", document.getElementById("cumulative"), labels,
    [cum.t].concat(labels.map((n) => cum.series[n])), { ylabel: "cumulative reward", colors });

  const grid = document.getElementById("per-instance");
  const instances = data.instances || [];
  for (const [i, item] of instances.entries()) {
    let card = document.getElementById(`card-${item.name}`);
    if (!card) {
      card = el("div", null, "card");
      card.id = `card-${item.name}`;
      card.appendChild(el("h3"));
      const box = el("div", null, "chart");
      box.id = `chart-${item.name}`;
      card.appendChild(box);
      grid.appendChild(card);
    }
    card.querySelector("h3").textContent =
      `${item.name}${item.animal_name ? " · " + item.animal_name : ""} · total ${num(item.total, 3)}`;
    const pts = item.points || [];
    plot(`stage-${item.name}`, card.querySelector(".chart"), [item.name],
      [pts.map((p) => p.at), pts.map((p) => p.reward)],
      { ylabel: "reward per stage", points: true, colors: [COLORS[i % COLORS.length]], height: 180 });
  }
  for (const card of Array.from(grid.children)) {
    if (!instances.some((item) => `card-${item.name}` === card.id)) {
      const id = `stage-${card.id.slice(5)}`;
      if (charts[id]) { charts[id].plot.destroy(); delete charts[id]; }
      card.remove();
    }
  }
  document.body.dataset.charts = String(Object.keys(charts).length);
}

function renderLeaderboard(board) {
  const chain = board.source === "chain";
  document.getElementById("leaderboard-title").textContent =
    `Leaderboard (${chain ? "chain" : "DHT"}${board.round !== null && board.round !== undefined ? `, round ${board.round} stage ${board.stage}` : ""})`;
  document.getElementById("lb-value").textContent = chain ? "wins / total reward" : "reward";
  fillBody("leaderboard", (board.entries || []).map((e) => row([
    e.rank || "-", e.animal_name, e.peer_id.slice(0, 12) + "…",
    el("td", chain ? `${e.wins} / ${num(e.reward, 0)}` : num(e.reward, 3), "num"),
    e.local || "",
  ])));
  const note = board.warning || ((board.entries || []).length ? "" : "no leaderboard published yet");
  document.getElementById("leaderboard-note").textContent = note;
}

function render(snapshot) {
  if (snapshot.instances) renderInstances(snapshot.instances);
  if (snapshot.rewards) renderRewards(snapshot.rewards);
  if (snapshot.leaderboard) renderLeaderboard(snapshot.leaderboard);
  if (snapshot.instances && snapshot.instances.at) {
    const at = new Date(snapshot.instances.at * 1000).toLocaleTimeString();
    document.getElementById("updated").textContent = `updated ${at}`;
  }
  document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
}

async function fetchAll() {
  const get = async (path) => (await fetch(path, { credentials: "same-origin" })).json();
  const [instances, rewards, leaderboard] = await Promise.all(
    [get("/api/instances"), get("/api/rewards"), get("/api/leaderboard")]);
  render({ instances, rewards, leaderboard });
}

let pollTimer = null;
function follow() {
  if (!window.EventSource) { pollTimer = setInterval(fetchAll, 5000); return; }
  const source = new EventSource("/api/events");
  for (const part of ["instances", "rewards", "leaderboard"]) {
    source.addEventListener(part, (event) => render({ [part]: JSON.parse(event.data) }));
  }
  source.onerror = () => {
    // the browser reconnects by itself; poll meanwhile so the page never freezes silently
    if (!pollTimer) pollTimer = setInterval(fetchAll, 5000);
  };
  source.onopen = () => { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } };
}

window.addEventListener("resize", () => {
  for (const id of Object.keys(charts)) {
    const container = charts[id].plot.root.parentNode;
    charts[id].plot.setSize({ width: chartWidth(container), height: charts[id].plot.height });
  }
});

fetchAll().catch((err) => { document.getElementById("summary").textContent = `cannot load: ${err}`; }).finally(follow);
