// perfhub insights: four hand-drawn SVG charts of a cycle, from /graphql with persisted documents only.
// No library: the page must work on an intranet with no route to a CDN (see hub/insights_page.py).
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const GRADES = ["S", "A", "B", "C", "D"];
  const TOKEN_KEY = "perfhub.insights.token";
  const config = JSON.parse(document.body.dataset.config);
  const $ = (id) => document.getElementById(id);

  // A link from `perfhub token --open` carries the token in the fragment, which no browser sends to a
  // server: keep it for this tab only and take it out of the address bar (and so out of history).
  function tokenFromFragment() {
    const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
    if (!match) return;
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  function status(text, isError) {
    $("status").textContent = text;
    $("status").classList.toggle("error", Boolean(isError));
  }

  class RequestFailed extends Error {}

  // One registered document by its name: only the hash travels; the hub holds the text.
  async function ask(name, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY),
      },
      body: JSON.stringify({
        operationName: name,
        variables: variables || {},
        extensions: { persistedQuery: { version: 1, sha256Hash: config.documents[name] } },
      }),
    });
    let body;
    try {
      body = await response.json();
    } catch (error) {
      throw new RequestFailed("the hub answered " + response.status);
    }
    if (!response.ok || !body.data) {
      const first = (body.errors || [])[0] || {};
      const code = (first.extensions || {}).code || response.status;
      throw new RequestFailed(code + ": " + (first.message || "no data"));
    }
    return body;
  }

  function element(name, attributes, parent, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function canvas(containerId, width, height) {
    const container = $(containerId);
    container.replaceChildren();
    return element("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" }, container);
  }

  function placeholder(containerId, text) {
    const svg = canvas(containerId, 600, 30);
    element("text", { x: 4, y: 18, class: "withheld" }, svg, text);
  }

  const fixed = (value) => (value === null || value === undefined ? "withheld" : value.toFixed(1));

  // Per post: five bars, the share of its results in each grade, and the target share as a red tick.
  function drawGrades(groups) {
    if (!groups || groups.length === 0) return placeholder("grades", "no post of this cycle is shown to you");
    const bar = 12, gap = 20, top = 20, plot = 160;
    const groupWidth = GRADES.length * bar + gap;
    const svg = canvas("grades", 50 + groups.length * groupWidth, top + plot + 50);
    const y = (share) => top + plot - share * plot;
    for (const share of [0, 0.25, 0.5]) {
      element("line", { x1: 40, x2: 50 + groups.length * groupWidth, y1: y(share * 2), y2: y(share * 2), class: "axis" }, svg);
      element("text", { x: 4, y: y(share * 2) + 4 }, svg, `${share * 200}%`);
    }
    groups.forEach((group, index) => {
      const x0 = 50 + index * groupWidth;
      const total = group.grades.reduce((sum, grade) => sum + grade.count, 0);
      group.grades.forEach((grade, position) => {
        const share = total ? grade.count / total : 0;
        const x = x0 + position * bar;
        const rect = element("rect", { x, y: y(share), width: bar - 2, height: top + plot - y(share), class: `bar ${grade.grade}` }, svg);
        element("title", {}, rect, `${group.key[0]} ${grade.grade}: ${grade.count} of ${total}`);
        const target = config.target[grade.grade];
        if (target !== undefined) element("line", { x1: x, x2: x + bar - 2, y1: y(target), y2: y(target), class: "target" }, svg);
        element("text", { x: x + 2, y: top + plot + 12 }, svg, grade.grade);
      });
      element("text", { x: x0, y: top + plot + 28 }, svg, group.key[0]);
      element("text", { x: x0, y: top + plot + 42, class: "withheld" }, svg, `n=${group.count}`);
      if (group.withheld) {
        // No bars: the hub withheld this post's grades; say why, not an empty slot (the legend explains the reason).
        const label = element("text", { x: x0 + 2, y: top + plot - 4, class: "withheld", transform: `rotate(-90 ${x0 + 8} ${top + plot - 4})` }, svg, `withheld: ${group.withheld}`);
        element("title", {}, label, withheldWords(group.withheld));
      }
    });
  }

  // A reason in words, from the hub's one wording (hub/analytics/withheld.py, handed over in the page's config).
  const withheldWords = (reason) => `${reason}: ${(config.withheld || {})[reason] || "withheld for privacy"}`;

  // The legend above the charts: each reason the cycle's groups are withheld for, once.
  function legend(groups) {
    const reasons = [...new Set(groups.map((group) => group.withheld).filter(Boolean))].sort();
    const node = $("withheld-legend");
    node.hidden = reasons.length === 0;
    node.textContent = reasons.length ? "Withheld groups, for privacy: " + reasons.map(withheldWords).join("; ") + "." : "";
  }

  // Per department: a box from p25 to p75 with the median, whiskers to min and max where released.
  function drawSpread(groups) {
    if (!groups || groups.length === 0) return placeholder("spread", "no department of this cycle is shown to you");
    const row = 26, left = 170, plot = 420;
    const svg = canvas("spread", left + plot + 420, groups.length * row + 30);
    const x = (score) => left + (score / 100) * plot;
    for (const tick of [0, 25, 50, 75, 100]) {
      element("line", { x1: x(tick), x2: x(tick), y1: 0, y2: groups.length * row, class: "axis" }, svg);
      element("text", { x: x(tick) - 6, y: groups.length * row + 14 }, svg, String(tick));
    }
    groups.forEach((group, index) => {
      const mid = index * row + row / 2;
      element("text", { x: 4, y: mid + 4 }, svg, `${group.key[0]} (n=${group.count})`);
      if (group.min !== null && group.max !== null) {
        element("line", { x1: x(group.min), x2: x(group.max), y1: mid, y2: mid, class: "whisker" }, svg);
      }
      if (group.p25 !== null && group.p75 !== null) {
        const rect = element("rect", { x: x(group.p25), y: mid - 8, width: Math.max(1, x(group.p75) - x(group.p25)), height: 16, class: "bar box" }, svg);
        element("title", {}, rect, `p25 ${fixed(group.p25)}, p50 ${fixed(group.p50)}, p75 ${fixed(group.p75)}`);
      }
      if (group.p50 !== null) element("line", { x1: x(group.p50), x2: x(group.p50), y1: mid - 8, y2: mid + 8, class: "median" }, svg);
      const figures = group.withheld
        ? `withheld: ${group.withheld}`
        : `min ${fixed(group.min)} · p25 ${fixed(group.p25)} · p50 ${fixed(group.p50)} · p75 ${fixed(group.p75)} · max ${fixed(group.max)}`;
      element("text", { x: left + plot + 8, y: mid + 4, class: group.p50 === null ? "withheld" : "" }, svg, figures);
    });
  }

  // Per indicator of the post's scheme: the spread of its normalised score, flags beside it.
  function drawDiscrimination(diagnostics) {
    if (!diagnostics || diagnostics.length === 0) return placeholder("discrimination", "no indicator of this post is shown to you");
    const row = 24, left = 250, plot = 300;
    const widest = Math.max(1, ...diagnostics.map((item) => item.stddev || 0));
    const svg = canvas("discrimination", left + plot + 380, diagnostics.length * row + 10);
    diagnostics.forEach((item, index) => {
      const mid = index * row + row / 2;
      const indicator = item.indicatorVersion.indicator;
      element("text", { x: 4, y: mid + 4 }, svg, `${indicator.code} v${item.indicatorVersion.version}`);
      if (item.stddev === null) {
        element("text", { x: left, y: mid + 4, class: "withheld" }, svg, `withheld (n=${item.count})`);
        return;
      }
      const flagged = item.flags.length > 0;
      const rect = element("rect", { x: left, y: mid - 8, width: Math.max(1, (item.stddev / widest) * plot), height: 16, class: `bar indicator${flagged ? " flagged" : ""}` }, svg);
      element("title", {}, rect, `${indicator.name}: sd ${fixed(item.stddev)}, correlation with the total ${fixed(item.correlation)}`);
      const label = `sd ${fixed(item.stddev)}${flagged ? " — " + item.flags.join("; ") : ""}`;
      element("text", { x: left + plot + 8, y: mid + 4 }, svg, label);
    });
  }

  // Everyone in scope: the mean total per cycle, oldest first.
  function drawTrend(trends) {
    const cycles = trends && trends.length ? trends[0].cycles : [];
    if (cycles.length === 0) return placeholder("trend", "no cycle with results is shown to you");
    const bar = 60, top = 16, plot = 160;
    const svg = canvas("trend", 40 + cycles.length * (bar + 30), top + plot + 46);
    const y = (score) => top + plot - (score / 100) * plot;
    cycles.forEach((point, index) => {
      const x = 40 + index * (bar + 30);
      if (point.mean === null) {
        element("text", { x, y: top + plot - 4, class: "withheld" }, svg, "withheld");
      } else {
        const rect = element("rect", { x, y: y(point.mean), width: bar, height: top + plot - y(point.mean), class: "bar cycle" }, svg);
        element("title", {}, rect, `${point.cycle.name}: mean ${fixed(point.mean)} (n=${point.count})`);
        const change = point.change === null ? "" : ` (${point.change >= 0 ? "+" : ""}${point.change.toFixed(1)})`;
        element("text", { x, y: y(point.mean) - 3 }, svg, fixed(point.mean) + change);
      }
      element("text", { x, y: top + plot + 14 }, svg, point.cycle.name);
    });
  }

  async function showCycle() {
    const cycleId = $("cycle").value;
    document.body.dataset.ready = "";
    status("Loading…");
    try {
      const [cycle, trends] = await Promise.all([ask("InsightsCycle", { cycleId }), ask("InsightsTrends")]);
      drawGrades(cycle.data.byPost);
      drawSpread(cycle.data.byDepartment);
      legend([...(cycle.data.byPost || []), ...(cycle.data.byDepartment || [])]);
      drawTrend(trends.data.scoreTrends);
      await showDiagnostics();
      $("charts").hidden = false;
      status(`Cycle ${$("cycle").selectedOptions[0].textContent}.`);
      document.body.dataset.ready = cycleId;
    } catch (error) {
      status(error.message, true);
    }
  }

  async function showDiagnostics() {
    const answer = await ask("InsightsDiagnostics", { cycleId: $("cycle").value, postId: $("post").value });
    const refusal = (answer.errors || []).find((error) => (error.path || [])[0] === "schemeDiagnostics");
    if (refusal) {
      const code = (refusal.extensions || {}).code || "refused";
      return placeholder("discrimination", `not shown to you (${code}): ${refusal.message}`);
    }
    drawDiscrimination(answer.data.schemeDiagnostics);
  }

  function option(select, value, text) {
    const item = document.createElement("option");
    item.value = value;
    item.textContent = text;
    select.appendChild(item);
  }

  async function start() {
    if (!sessionStorage.getItem(TOKEN_KEY)) return;
    status("Loading…");
    try {
      const answer = await ask("InsightsCycles");
      $("cycle").replaceChildren();
      $("post").replaceChildren();
      const scored = answer.data.cycles
        .filter((cycle) => !["DRAFT", "OPEN"].includes(cycle.state))
        .sort((a, b) => (a.periodStart < b.periodStart ? -1 : a.periodStart > b.periodStart ? 1 : 0));
      scored.forEach((cycle) => option($("cycle"), cycle.id, `${cycle.name} (${cycle.state.toLowerCase()})`));
      answer.data.posts.forEach((post) => option($("post"), post.id, `${post.code} — ${post.name}`));
      if (scored.length === 0) return status("No cycle has results yet.");
      $("cycle").value = scored[scored.length - 1].id;
      $("login").hidden = true;
      $("session").hidden = false;
      await showCycle();
    } catch (error) {
      status(error.message, true);
    }
  }

  $("target-note").textContent =
    "Bars: share of the post's results in each grade. Red ticks: the target share, from " + config.targetSource + ".";
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim().replace(/^Bearer\s+/i, ""));
    $("token").value = "";
    start();
  });
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    window.location.reload();
  });
  $("cycle").addEventListener("change", showCycle);
  $("post").addEventListener("change", () => showDiagnostics().catch((error) => status(error.message, true)));
  tokenFromFragment();
  start();
})();
