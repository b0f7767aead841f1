// The dashboard: market picker, chart with live updates over SSE, health, components, coverage.
"use strict";

(() => {
  const INTERVAL_MS = { "1m": 6e4, "3m": 18e4, "5m": 3e5, "15m": 9e5, "30m": 18e5, "1h": 36e5, "2h": 72e5,
    "4h": 144e5, "8h": 288e5, "12h": 432e5, "1d": 864e5, "3d": 2592e5, "1w": 6048e5, "1M": 2592e6 };
  const BARS = 1500;
  const $ = (id) => document.getElementById(id);
  const chart = new CandleChart($("chart"));
  let stream = null;
  let markets = [];

  async function getJSON(path) {
    const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok && !(path === "/health" && body.status)) {
      throw new Error(body.error ? body.error.message : `${path}: HTTP ${response.status}`);
    }
    return body;
  }

  function showError(error) {
    $("error").hidden = !error;
    $("error").textContent = error ? String(error.message || error) : "";
  }

  function query(market, extra) {
    return new URLSearchParams({ coin: market.coin, interval: market.interval, ...extra }).toString();
  }

  async function loadCandles(market) {
    const params = { limit: String(BARS), columns: "time,open,high,low,close" };
    if (market.last !== null) params.start = String(market.last - (BARS - 1) * INTERVAL_MS[market.interval]);
    const page = await getJSON(`/api/v1/candles?${query(market, params)}`);
    const rows = page.rows.map((r) => Object.fromEntries(page.columns.map((c, i) => [c, r[i]])));
    const count = chart.setRows(rows);
    document.body.dataset.candles = String(count);
    if (rows.length) showLast(rows[rows.length - 1]);
  }

  function showLast(row) {
    document.body.dataset.lastTime = String(row.time);
    document.body.dataset.lastClose = String(row.close);
    $("last").textContent = `${new Date(row.time).toISOString().replace(".000Z", "Z")} close ${row.close}` +
      (row.closed === false ? " (open)" : "");
  }

  function follow(market) {
    if (stream) stream.close();
    stream = new EventSource(`/api/v1/stream?${query(market, {})}`);
    stream.addEventListener("candle", (event) => {
      const row = JSON.parse(event.data);
      if (chart.update(row)) {
        showLast(row);
        document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
      }
    });
    // More was stored since the stream dropped than it replays: draw the range again from the API.
    stream.addEventListener("gap", () => loadCandles(market).catch(showError));
    stream.addEventListener("open", () => { document.body.dataset.stream = "open"; });
    stream.addEventListener("error", () => { document.body.dataset.stream = "reconnecting"; });
  }

  async function loadCoverage(market) {
    const coverage = await getJSON(`/api/v1/coverage?${query(market, {})}`);
    Coverage.render($("coverage"), $("coverage-summary"), coverage.days);
  }

  async function select(key) {
    const market = markets.find((m) => `${m.coin}/${m.interval}` === key) || markets[0];
    if (!market) { $("last").textContent = "no market stored yet"; document.body.dataset.state = "ready"; return; }
    location.hash = `${market.coin}/${market.interval}`;
    $("market").value = `${market.coin}/${market.interval}`;
    document.body.dataset.state = "loading";
    try {
      await loadCandles(market);
      follow(market);
      await loadCoverage(market);
      showError(null);
    } catch (error) {
      showError(error);
    }
    document.body.dataset.state = "ready";
  }

  async function loadMarkets() {
    markets = (await getJSON("/api/v1/markets")).markets;
    const picker = $("market");
    picker.replaceChildren(...markets.map((m) => {
      const option = document.createElement("option");
      option.value = option.textContent = `${m.coin}/${m.interval}`;
      return option;
    }));
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  async function refreshHealth() {
    try {
      const [health, status] = await Promise.all([getJSON("/health"), getJSON("/api/v1/status")]);
      $("health").textContent = health.status;
      $("health").className = `badge ${health.status}`;
      $("components").tBodies[0].replaceChildren(...status.components.map((c) => {
        const tr = document.createElement("tr");
        tr.append(cell(c.name), cell(c.kind), cell(c.state, `state-${c.state}`), cell(String(c.restarts)));
        return tr;
      }));
      $("checks").replaceChildren(...health.checks.filter((c) => !c.ok).map((c) => {
        const li = document.createElement("li");
        li.className = "bad";
        li.textContent = `${c.name}: ${c.detail}`;
        return li;
      }));
    } catch (error) {
      $("health").textContent = "unreachable";
      $("health").className = "badge failing";
    }
  }

  // Until something is stored (a fresh database) or while the store is down, try again.
  async function start() {
    try {
      await loadMarkets();
    } catch (error) {
      showError(error);
      document.body.dataset.state = "ready";
    }
    if (!markets.length) { setTimeout(start, 5000); return; }
    await select(decodeURIComponent(location.hash.slice(1)));
  }

  $("market").addEventListener("change", (event) => select(event.target.value));
  refreshHealth();
  setInterval(refreshHealth, 5000);
  start();
})();
