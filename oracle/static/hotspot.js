// A hotspot's page: who it is, what each closed epoch paid it (uPlot chart in the token's
// unit), its reports by verdict over time, every invalid report and every epoch-wide flag with
// the reason in words, and its witness links; every other hotspot named is a link.
"use strict";

(function () {
  const E = window.Explorer;
  const HISTORY = 1000;
  /** Closed epochs charted: each is a stored epoch report the server reads. */
  const EPOCHS = 60;

  function address() {
    return new URLSearchParams(window.location.search).get("address") || "";
  }

  /** The epoch whose links to list: the query's `epoch`, or the hotspot's latest. */
  function linksQuery() {
    const epoch = new URLSearchParams(window.location.search).get("epoch");
    return epoch ? "?epoch=" + encodeURIComponent(epoch) : "";
  }

  function summary(h, token) {
    const dl = document.getElementById("summary");
    const c = h.counts, r = h.rewards;
    const pairs = [
      ["Location", h.location ? h.location + " (" + h.lat.toFixed(5) + ", " + h.lon.toFixed(5) + ")" : "not asserted"],
      ["Region", h.region],
      ["Owner", h.owner || "–"],
      ["Maker", h.maker || "–"],
      ["Beacons", E.fmt(c.beacons_valid) + " valid, " + E.fmt(c.beacons_invalid) + " invalid"],
      ["Witness reports", E.fmt(c.witnesses_valid) + " valid (" + E.fmt(c.witnesses_selected) +
        " rewarded), " + E.fmt(c.witnesses_invalid) + " invalid"],
      ["Rewards", E.amount(r.total, token) + " over " + E.fmt(r.epochs) + " epoch(s) (beacons " +
        E.amount(r.beacon_amount, token) + ", witnesses " + E.amount(r.witness_amount, token) + ")"],
    ];
    dl.replaceChildren(...pairs.flatMap(([term, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      return [dt, dd];
    }));
  }

  /** The x scale: epoch starts in seconds, half an epoch of room on each side. */
  function epochScale(epochs) {
    const half = epochs.length ? (epochs[0].end_ms - epochs[0].start_ms) / 2000 : 43200;
    return { time: true, range: (u, min, max) => [min - half, max + half] };
  }

  function chartWidth(id) {
    return Math.max(320, document.getElementById(id).clientWidth - 20);
  }

  function rewardChart(epochs, token) {
    const ordered = epochs.slice().reverse();
    const xs = ordered.map((e) => e.start_ms / 1000);
    const beacons = ordered.map((e) => E.tokens(e.beacon_amount, token));
    const witnesses = ordered.map((e) => E.tokens(e.witness_amount, token));
    const totals = ordered.map((e) => E.tokens(e.total, token));
    const bars = uPlot.paths.bars({ size: [0.5, 60] });
    const axisValue = (u, values) => values.map((v) =>
      v.toLocaleString("en-US", { maximumFractionDigits: token.decimals }) + " " + token.symbol);
    new uPlot({
      width: chartWidth("reward-chart"),
      height: 220,
      scales: { x: epochScale(epochs), y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.15] } },
      axes: [{}, { values: axisValue, size: 90, label: token.symbol }],
      series: [
        { label: "Epoch start" },
        { label: "Total (" + token.symbol + ")", stroke: "#1f7a8c", fill: "rgba(31,122,140,0.35)", paths: bars, points: { show: false } },
        { label: "Beacons", stroke: "#e9c46a", width: 2 },
        { label: "Witnesses", stroke: "#d1495b", width: 2 },
      ],
    }, [xs, totals, beacons, witnesses], document.getElementById("reward-chart"));
  }

  function validityChart(epochs) {
    const ordered = epochs.slice().reverse();
    const xs = ordered.map((e) => e.start_ms / 1000);
    const pick = (key) => ordered.map((e) => e.reports[key] || 0);
    new uPlot({
      width: chartWidth("validity-chart"),
      height: 220,
      scales: { x: epochScale(epochs), y: { range: (u, min, max) => [0, Math.max(max, 1) * 1.15] } },
      axes: [{}, { label: "reports" }],
      series: [
        { label: "Epoch start" },
        { label: "Valid beacons", stroke: "#2a9d8f", width: 2 },
        { label: "Invalid beacons", stroke: "#e76f51", width: 2, dash: [6, 4] },
        { label: "Valid witness reports", stroke: "#264653", width: 2 },
        { label: "Invalid witness reports", stroke: "#d1495b", width: 2, dash: [6, 4] },
      ],
    }, [xs, pick("beacons_valid"), pick("beacons_invalid"), pick("witnesses_valid"), pick("witnesses_invalid")],
    document.getElementById("validity-chart"));
  }

  /** "code — explanation" blocks, one per reason. */
  function reasons(list, counts) {
    const div = document.createElement("div");
    for (const r of list) {
      const p = document.createElement("p");
      p.className = "flag";
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = r.code + (counts ? " ×" + counts[r.code] : "");
      const text = document.createElement("span");
      text.className = "reason-text";
      text.textContent = " — " + r.explanation;
      p.append(code, text);
      div.append(p);
    }
    if (list.length === 0) div.textContent = "none";
    return div;
  }

  function epochTable(a, epochs, token) {
    const body = document.querySelector("#epoch-table tbody");
    body.replaceChildren(...epochs.map((e) => {
      const evidence = document.createElement("a");
      evidence.href = E.hotspotHref(a) + "&epoch=" + e.epoch + "#links-title";
      evidence.textContent = "witness links of epoch " + e.epoch;
      const paid = E.amount(e.total, token) + (e.uncorroborated ? " (uncorroborated: scaled down)" : "");
      return E.row([
        E.cell(String(e.epoch) + " (" + E.time(e.start_ms).slice(0, 10) + ")"),
        E.cell(paid, "num"),
        E.cell(reasons(e.flags)),
        E.cell(reasons(e.invalid_reasons, e.reports.invalid)),
        E.cell(evidence),
      ], e.flags.length ? "flagged" : "");
    }));
    if (epochs.length === 0) body.append(E.row(["No closed epoch yet.", "", "", "", ""]));
  }

  function invalidTable(history, rejections) {
    const rows = [];
    for (const r of history.beacons.concat(history.witnesses)) {
      if (r.status !== "invalid") continue;
      rows.push({ at: r.received_ms, kind: r.kind, code: r.reason, text: r.explanation });
    }
    for (const r of rejections) {
      rows.push({ at: r.received_ms, kind: r.kind + " (refused at ingest)", code: r.reason, text: r.explanation });
    }
    rows.sort((x, y) => y.at - x.at);
    const body = document.querySelector("#invalid-table tbody");
    body.replaceChildren(...rows.map((r) => {
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = r.code || "–";
      return E.row([E.time(r.at), r.kind, E.cell(code), E.cell(r.text || "", "reason-text")]);
    }));
    if (rows.length === 0) body.append(E.row(["No invalid report.", "", "", ""]));
    document.getElementById("invalid-note").textContent = "Of its newest " + E.fmt(HISTORY) +
      " beacons and " + E.fmt(HISTORY) + " witness reports (" + E.fmt(history.beacons_total) +
      " and " + E.fmt(history.witnesses_total) + " in all).";
  }

  function linksTable(links) {
    document.getElementById("links-title").textContent = "Witness links in epoch " + links.epoch +
      (links.truncated ? " (the newest " + links.links.length + ")" : "");
    const body = document.querySelector("#links-table tbody");
    body.replaceChildren(...links.links.map((l) => {
      const verdict = document.createElement("span");
      verdict.className = l.status === "valid" ? "verdict-valid" : "verdict-invalid";
      verdict.textContent = l.status + (l.selected ? ", rewarded" : "") +
        (l.reason ? ": " + l.reason + " — " + l.explanation : "");
      return E.row([
        E.time(l.received_ms),
        E.cell(E.hotspotLink(l.beaconer.address, l.beaconer.name)),
        E.cell(E.hotspotLink(l.witness.address, l.witness.name)),
        E.cell(typeof l.distance_m === "number" ? (l.distance_m / 1000).toFixed(2) + " km" : "–", "num"),
        E.cell((l.rssi_ddbm / 10).toFixed(1) + " dBm", "num"),
        E.cell((l.snr_ddb / 10).toFixed(1) + " dB", "num"),
        E.cell(verdict),
      ]);
    }));
    if (links.links.length === 0) body.append(E.row(["No link in this epoch.", "", "", "", "", "", ""]));
  }

  function apiLinks(base) {
    document.getElementById("api-hotspot").href = base;
    document.getElementById("api-rewards").href = base + "/rewards";
    document.getElementById("api-history").href = base + "/history";
    document.getElementById("api-links").href = base + "/links";
  }

  async function main() {
    E.setupSearch();
    const a = address();
    const base = "/api/v1/hotspots/" + encodeURIComponent(a);
    try {
      if (!a) throw new Error("no hotspot given: search for one above");
      const [h, rewards, history, links] = await Promise.all([
        E.getJson(base),
        E.getJson(base + "/rewards?limit=" + EPOCHS),
        E.getJson(base + "/history?limit=" + HISTORY),
        E.getJson(base + "/links" + linksQuery()),
      ]);
      const token = rewards.token;
      document.title = h.name + " · LoRa proof-of-coverage oracle";
      document.getElementById("name").textContent = h.name;
      document.getElementById("address").textContent = h.address;
      document.getElementById("reward-unit").textContent = "Amounts in " + token.symbol + " (" +
        token.decimals + " decimals: 1 " + token.symbol + " = " +
        E.fmt(Math.pow(10, token.decimals)) + " smallest units); newest " + rewards.epochs.length + " closed epoch(s).";
      summary(h, token);
      rewardChart(rewards.epochs, token);
      validityChart(rewards.epochs);
      epochTable(a, rewards.epochs, token);
      invalidTable(history, h.ingest_rejections);
      linksTable(links);
      apiLinks(base);
      const flagged = rewards.epochs.filter((e) => e.flags.length).length;
      document.getElementById("status").textContent = flagged
        ? "Flagged by the epoch-wide defences in " + flagged + " of the last " + rewards.epochs.length + " closed epoch(s): see below why."
        : "Not flagged in the last " + rewards.epochs.length + " closed epoch(s).";
      document.body.dataset.state = "ready";
    } catch (error) {
      const status = document.getElementById("status");
      status.textContent = "Could not load the hotspot: " + error.message;
      status.classList.add("error");
      document.body.dataset.state = "error";
      console.error(error);
    }
  }

  document.addEventListener("DOMContentLoaded", main);
})();
