// The oracle's coverage map: draws the coverage hexes (/api/v1/coverage) and the hotspots
// (/api/v1/hotspots) on an SVG with a Web-Mercator projection fitted to the data, and lists
// them in tables. Everything comes from the oracle itself: no tiles, no CDN.
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const WIDTH = 1000;
  const HEIGHT = 640;
  const PAD = 40;
  const PAGE = 1000;
  const MAX_LAT = 85.05112878;

  /** Fetches JSON from the oracle; rejects on a non-2xx status with the API's error text. */
  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error ? body.error : response.statusText;
      throw new Error(path + ": " + response.status + " " + message);
    }
    return body;
  }

  /** Every hotspot, page by page. */
  async function allHotspots() {
    const hotspots = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await getJson("/api/v1/hotspots?limit=" + PAGE + "&offset=" + offset);
      hotspots.push(...page.hotspots);
      if (page.hotspots.length < PAGE || hotspots.length >= page.total) {
        return hotspots;
      }
    }
  }

  /** Web Mercator of a [lon, lat] in degrees, in radians (x east, y north). */
  function mercator(lon, lat) {
    const clamped = Math.max(-MAX_LAT, Math.min(MAX_LAT, lat));
    const phi = (clamped * Math.PI) / 180;
    return [(lon * Math.PI) / 180, Math.log(Math.tan(Math.PI / 4 + phi / 2))];
  }

  /** A projection from degrees to SVG pixels fitted to the given [lon, lat] points. */
  function fitProjection(points) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const [lon, lat] of points) {
      const [x, y] = mercator(lon, lat);
      minX = Math.min(minX, x); maxX = Math.max(maxX, x);
      minY = Math.min(minY, y); maxY = Math.max(maxY, y);
    }
    // At least about 2 km across, so that a single hotspot is not blown up to infinity.
    const minSpan = 3e-4;
    if (maxX - minX < minSpan) { const c = (minX + maxX) / 2; minX = c - minSpan / 2; maxX = c + minSpan / 2; }
    if (maxY - minY < minSpan) { const c = (minY + maxY) / 2; minY = c - minSpan / 2; maxY = c + minSpan / 2; }
    const scale = Math.min((WIDTH - 2 * PAD) / (maxX - minX), (HEIGHT - 2 * PAD) / (maxY - minY));
    const offX = (WIDTH - scale * (maxX - minX)) / 2;
    const offY = (HEIGHT - scale * (maxY - minY)) / 2;
    const project = (lon, lat) => {
      const [x, y] = mercator(lon, lat);
      return [offX + scale * (x - minX), HEIGHT - (offY + scale * (y - minY))];
    };
    const unproject = (px, py) => {
      const x = (px - offX) / scale + minX;
      const y = (HEIGHT - py - offY) / scale + minY;
      return [(x * 180) / Math.PI, (Math.atan(Math.exp(y)) * 360) / Math.PI - 90];
    };
    return { project, unproject };
  }

  function el(name, attrs) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attrs || {})) {
      node.setAttribute(key, String(value));
    }
    return node;
  }

  function fmt(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : "–";
  }

  function short(address) {
    return address.length > 14 ? address.slice(0, 6) + "…" + address.slice(-6) : address;
  }

  /** A round step for about `count` grid lines over `span` degrees. */
  function gridStep(span, count) {
    const raw = span / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) {
      if (raw <= m * power) return m * power;
    }
    return 10 * power;
  }

  function drawGraticule(svg, projection) {
    const [lonW, latN] = projection.unproject(0, 0);
    const [lonE, latS] = projection.unproject(WIDTH, HEIGHT);
    const group = el("g", { class: "graticule-group" });
    const lonStep = gridStep(lonE - lonW, 6);
    for (let lon = Math.ceil(lonW / lonStep) * lonStep; lon <= lonE; lon += lonStep) {
      const [x] = projection.project(lon, 0);
      group.appendChild(el("line", { class: "graticule", x1: x, y1: 0, x2: x, y2: HEIGHT }));
    }
    const latStep = gridStep(latN - latS, 5);
    for (let lat = Math.ceil(latS / latStep) * latStep; lat <= latN; lat += latStep) {
      const [, y] = projection.project(0, lat);
      group.appendChild(el("line", { class: "graticule", x1: 0, y1: y, x2: WIDTH, y2: y }));
    }
    svg.appendChild(group);
  }

  const tooltip = () => document.getElementById("tooltip");

  function showTooltip(event, lines) {
    const tip = tooltip();
    tip.replaceChildren(...lines.map((line) => {
      const div = document.createElement("div");
      div.textContent = line;
      return div;
    }));
    const panel = tip.parentElement.getBoundingClientRect();
    tip.style.left = Math.min(event.clientX - panel.left + 12, panel.width - 200) + "px";
    tip.style.top = event.clientY - panel.top + 12 + "px";
    tip.hidden = false;
  }

  function hideTooltip() {
    tooltip().hidden = true;
  }

  function hotspotLines(h) {
    const c = h.counts, r = h.rewards;
    return [
      h.address,
      "Valid beacons " + fmt(c.beacons_valid) + " · valid witnesses " + fmt(c.witnesses_valid),
      "Rewards " + fmt(r.total) + " over " + fmt(r.epochs) + " epoch(s)",
    ];
  }

  function hexLines(f) {
    const p = f.properties;
    return [
      "Cell " + p.h3,
      fmt(p.hotspots) + " hotspot(s) · " + fmt(p.witnesses_valid) + " valid witness(es)",
    ];
  }

  function showDetails(pairs) {
    const dl = document.getElementById("details-body");
    dl.replaceChildren();
    for (const [term, value] of pairs) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dl.append(dt, dd);
    }
    dl.hidden = false;
    document.getElementById("details-empty").hidden = true;
  }

  function select(node) {
    for (const s of document.querySelectorAll(".selected")) s.classList.remove("selected");
    if (node) node.classList.add("selected");
  }

  function selectHotspot(h, marker) {
    select(marker);
    const row = document.querySelector('#hotspot-table tr[data-address="' + CSS.escape(h.address) + '"]');
    if (row) row.classList.add("selected");
    const c = h.counts, r = h.rewards;
    showDetails([
      ["Address", h.address],
      ["Location", h.location || "not asserted"],
      ["Region", h.region],
      ["Valid beacons", fmt(c.beacons_valid)],
      ["Invalid beacons", fmt(c.beacons_invalid)],
      ["Valid witnesses", fmt(c.witnesses_valid)],
      ["Rewarded witnesses", fmt(c.witnesses_selected)],
      ["Invalid witnesses", fmt(c.witnesses_invalid)],
      ["Rewards", fmt(r.total) + " (beacons " + fmt(r.beacon_amount) + ", witnesses " + fmt(r.witness_amount) + ")"],
      ["Rewarded epochs", fmt(r.epochs)],
      ["History", "/api/v1/hotspots/" + h.address + "/history"],
    ]);
  }

  function selectHex(f, polygon) {
    select(polygon);
    const p = f.properties;
    showDetails([
      ["Cell", p.h3],
      ["Resolution", String(p.resolution)],
      ["Hotspots", fmt(p.hotspots)],
      ["Valid beacons", fmt(p.beacons_valid)],
      ["Valid witnesses", fmt(p.witnesses_valid)],
      ["Addresses", p.addresses.join(", ")],
    ]);
  }

  function drawMap(coverage, hotspots) {
    const svg = document.getElementById("map");
    svg.replaceChildren();
    const located = hotspots.filter((h) => typeof h.lat === "number" && typeof h.lon === "number");
    const points = located.map((h) => [h.lon, h.lat]);
    for (const f of coverage.features) {
      for (const ring of f.geometry.coordinates) points.push(...ring);
    }
    if (points.length === 0) {
      const text = el("text", { class: "empty", x: WIDTH / 2, y: HEIGHT / 2, "text-anchor": "middle" });
      text.textContent = "No asserted hotspots yet";
      svg.appendChild(text);
      return;
    }
    const projection = fitProjection(points);
    drawGraticule(svg, projection);

    const maxWitnesses = Math.max(1, ...coverage.features.map((f) => f.properties.witnesses_valid || 0));
    const hexes = el("g", { id: "hexes" });
    for (const f of coverage.features) {
      const ring = f.geometry.coordinates[0];
      const pts = ring.map(([lon, lat]) => projection.project(lon, lat).map((v) => v.toFixed(1)).join(","));
      const share = (f.properties.witnesses_valid || 0) / maxWitnesses;
      const polygon = el("polygon", {
        class: "hex",
        points: pts.join(" "),
        fill: "#1f7a8c",
        "fill-opacity": (0.25 + 0.55 * share).toFixed(2),
        "data-h3": f.properties.h3,
        "data-hotspots": f.properties.hotspots,
      });
      polygon.addEventListener("mousemove", (e) => showTooltip(e, hexLines(f)));
      polygon.addEventListener("mouseleave", hideTooltip);
      polygon.addEventListener("click", () => selectHex(f, polygon));
      hexes.appendChild(polygon);
    }
    svg.appendChild(hexes);

    const dots = el("g", { id: "hotspots" });
    for (const h of located) {
      const [x, y] = projection.project(h.lon, h.lat);
      const marker = el("circle", {
        class: "hotspot",
        cx: x.toFixed(1),
        cy: y.toFixed(1),
        r: 6,
        "data-address": h.address,
        tabindex: 0,
      });
      const title = el("title");
      title.textContent = h.address;
      marker.appendChild(title);
      marker.addEventListener("mousemove", (e) => showTooltip(e, hotspotLines(h)));
      marker.addEventListener("mouseleave", hideTooltip);
      marker.addEventListener("click", () => selectHotspot(h, marker));
      marker.addEventListener("focus", () => selectHotspot(h, marker));
      dots.appendChild(marker);
    }
    svg.appendChild(dots);
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function fillHotspotTable(hotspots) {
    const body = document.querySelector("#hotspot-table tbody");
    body.replaceChildren(...hotspots.map((h) => {
      const c = h.counts;
      const tr = document.createElement("tr");
      tr.dataset.address = h.address;
      tr.append(
        cell(h.address, "address"),
        cell(h.location || "not asserted"),
        cell(h.region),
        cell(fmt(c.beacons_valid), "num"),
        cell(fmt(c.witnesses_valid), "num"),
        cell(fmt(c.beacons_invalid + c.witnesses_invalid), "num"),
        cell(fmt(h.rewards.total), "num"),
      );
      tr.addEventListener("click", () => {
        const marker = document.querySelector('#map .hotspot[data-address="' + CSS.escape(h.address) + '"]');
        selectHotspot(h, marker);
      });
      return tr;
    }));
  }

  function fillEpochTable(epochs) {
    const body = document.querySelector("#epoch-table tbody");
    body.replaceChildren(...epochs.map((e) => {
      const tr = document.createElement("tr");
      tr.append(
        cell(String(e.epoch), "num"),
        cell(new Date(e.closed_ms).toISOString().replace(".000Z", "Z")),
        cell(fmt(e.hotspots), "num"),
        cell(fmt(e.total), "num"),
      );
      return tr;
    }));
  }

  function showStats(stats, hotspots, coverage) {
    const c = stats.counts;
    const asserted = hotspots.filter((h) => h.asserted).length;
    document.getElementById("stats").textContent =
      fmt(hotspots.length) + " hotspots (" + fmt(asserted) + " asserted) in " +
      fmt(coverage.features.length) + " cells · " + fmt(c.beacons_valid) + " valid beacons · " +
      fmt(c.witnesses_valid) + " valid witnesses · " + fmt(c.epochs_closed) + " closed epochs";
  }

  async function main() {
    try {
      const [coverage, hotspots, stats, epochs] = await Promise.all([
        getJson("/api/v1/coverage"),
        allHotspots(),
        getJson("/api/v1/stats"),
        getJson("/api/v1/epochs?limit=50"),
      ]);
      drawMap(coverage, hotspots);
      fillHotspotTable(hotspots);
      fillEpochTable(epochs.epochs);
      showStats(stats, hotspots, coverage);
      document.body.dataset.state = "ready";
    } catch (error) {
      const status = document.getElementById("stats");
      status.textContent = "Could not load the map: " + error.message;
      status.classList.add("error");
      document.body.dataset.state = "error";
      console.error(error);
    }
  }

  document.addEventListener("DOMContentLoaded", main);
})();
