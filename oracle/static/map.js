// The oracle's coverage map: Leaflet over a Natural Earth base layer (world-atlas TopoJSON,
// served by the oracle), the coverage hexes of /api/v1/coverage at the chosen H3 resolution,
// the hotspots of /api/v1/hotspots, and a selected hotspot's witness links
// (/api/v1/hotspots/{address}/links) as lines. Zoom, pan and a scale bar are Leaflet's.
// Everything comes from the oracle itself: no tiles, no CDN.
"use strict";

(function () {
  const E = window.Explorer;
  const PAGE = 1000;
  const state = { map: null, hexes: null, dots: null, links: null, token: null, hotspots: [] };

  /** Every hotspot, page by page. */
  async function allHotspots() {
    const hotspots = [];
    for (let offset = 0; ; offset += PAGE) {
      const page = await E.getJson("/api/v1/hotspots?limit=" + PAGE + "&offset=" + offset);
      hotspots.push(...page.hotspots);
      if (page.hotspots.length < PAGE || hotspots.length >= page.total) {
        return hotspots;
      }
    }
  }

  function createMap() {
    const map = L.map("map", { zoomSnap: 0.5, worldCopyJump: true, minZoom: 2, maxZoom: 18 });
    map.attributionControl.setPrefix("Leaflet · Natural Earth");
    L.control.scale({ imperial: false, maxWidth: 160 }).addTo(map);
    map.createPane("base").style.zIndex = 200;
    map.setView([20, 0], 2);
    return map;
  }

  /** The Natural Earth countries, drawn as the base layer. */
  async function drawBase(map) {
    const topo = await E.getJson("/assets/vendor/countries-50m.json");
    const land = topojson.feature(topo, topo.objects.countries);
    L.geoJSON(land, {
      pane: "base",
      interactive: false,
      style: { className: "base-land", color: "#9aa5ad", weight: 0.7, fillColor: "#f1f0e6", fillOpacity: 1 },
    }).addTo(map);
  }

  function showDetails(pairs, href) {
    const dl = document.getElementById("details-body");
    dl.replaceChildren();
    for (const [term, value] of pairs) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      if (value instanceof Node) dd.append(value);
      else dd.textContent = value;
      dl.append(dt, dd);
    }
    dl.hidden = false;
    document.getElementById("details-empty").hidden = true;
    const link = document.getElementById("details-link");
    link.hidden = !href;
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = "Rewards, verdicts and reasons on the hotspot's page →";
      link.replaceChildren(a);
    }
  }

  function hexTooltip(p) {
    return "Cell " + p.h3 + "<br>" + E.fmt(p.hotspots) + " hotspot(s) · " +
      E.fmt(p.witnesses_valid) + " valid witness(es)";
  }

  function selectHex(p) {
    const names = p.addresses.map((a, i) => E.hotspotLink(a, p.names[i]));
    const list = document.createElement("span");
    names.forEach((n, i) => list.append(...(i ? [", ", n] : [n])));
    showDetails([
      ["Cell", p.h3],
      ["Resolution", String(p.resolution)],
      ["Hotspots", list],
      ["Valid beacons", E.fmt(p.beacons_valid)],
      ["Valid witnesses", E.fmt(p.witnesses_valid)],
    ]);
  }

  async function drawHexes(resolution) {
    const status = document.getElementById("map-status");
    status.textContent = "Loading resolution " + resolution + "…";
    const coverage = await E.getJson("/api/v1/coverage?resolution=" + resolution);
    if (state.hexes) state.hexes.remove();
    const most = Math.max(1, ...coverage.features.map((f) => f.properties.witnesses_valid || 0));
    state.hexes = L.geoJSON(coverage, {
      style: (f) => ({
        className: "hex",
        color: "#15525e",
        weight: 1,
        fillColor: "#1f7a8c",
        fillOpacity: 0.25 + 0.55 * ((f.properties.witnesses_valid || 0) / most),
      }),
      onEachFeature: (f, layer) => {
        layer.bindTooltip(hexTooltip(f.properties), { sticky: true });
        layer.on("click", () => selectHex(f.properties));
        layer.on("add", () => { layer.getElement().dataset.h3 = f.properties.h3; });
      },
    }).addTo(state.map);
    state.hexes.bringToBack();
    document.body.dataset.resolution = String(resolution);
    status.textContent = E.fmt(coverage.features.length) + " cell(s) at resolution " + resolution;
    return coverage;
  }

  function hotspotTooltip(h) {
    return "<b>" + h.name + "</b><br>" + E.short(h.address) + "<br>Valid beacons " +
      E.fmt(h.counts.beacons_valid) + " · valid witnesses " + E.fmt(h.counts.witnesses_valid) +
      "<br>Rewards " + E.amount(h.rewards.total, state.token);
  }

  function drawHotspots(hotspots) {
    state.dots = L.layerGroup().addTo(state.map);
    for (const h of hotspots) {
      if (typeof h.lat !== "number" || typeof h.lon !== "number") continue;
      const marker = L.circleMarker([h.lat, h.lon], {
        className: "hotspot",
        radius: 6,
        color: "#ffffff",
        weight: 1.5,
        fillColor: "#d1495b",
        fillOpacity: 1,
      });
      marker.bindTooltip(hotspotTooltip(h));
      marker.on("click", () => selectHotspot(h));
      marker.addTo(state.dots);
      const node = marker.getElement();
      node.dataset.address = h.address;
      node.setAttribute("aria-label", h.name);
    }
  }

  function linkTooltip(l) {
    const verdict = l.status === "valid" ? "valid" : l.status + (l.reason ? " (" + l.reason + ")" : "");
    const km = typeof l.distance_m === "number" ? (l.distance_m / 1000).toFixed(2) + " km · " : "";
    return l.beaconer.name + " → " + l.witness.name + "<br>" + km + "RSSI " +
      (l.rssi_ddbm / 10).toFixed(1) + " dBm · SNR " + (l.snr_ddb / 10).toFixed(1) + " dB · " + verdict;
  }

  /** Draws the hotspot's witness links of its latest epoch. */
  async function drawLinks(h) {
    if (state.links) state.links.remove();
    state.links = L.layerGroup().addTo(state.map);
    const body = await E.getJson("/api/v1/hotspots/" + encodeURIComponent(h.address) + "/links");
    let drawn = 0;
    for (const l of body.links) {
      const ends = [l.beaconer, l.witness];
      if (ends.some((e) => typeof e.lat !== "number") || l.beaconer.address === l.witness.address) continue;
      const line = L.polyline(ends.map((e) => [e.lat, e.lon]), {
        className: "link " + (l.status === "valid" ? "link-valid" : "link-invalid"),
        color: l.status === "valid" ? "#ffb703" : "#e63946",
        weight: 4,
        opacity: 0.95,
        dashArray: l.status === "valid" ? null : "6 4",
      });
      line.bindTooltip(linkTooltip(l), { sticky: true });
      line.addTo(state.links);
      drawn += 1;
    }
    document.getElementById("map-status").textContent =
      drawn + " witness link(s) of " + h.name + " in epoch " + body.epoch;
    if (drawn > 0) {
      const bounds = L.latLngBounds(body.links.flatMap((l) => [[l.beaconer.lat, l.beaconer.lon], [l.witness.lat, l.witness.lon]])
        .filter(([lat]) => typeof lat === "number"));
      state.map.fitBounds(bounds.pad(0.4), { maxZoom: 14 });
    }
    state.dots.eachLayer((m) => m.bringToFront());
    return drawn;
  }

  async function selectHotspot(h) {
    for (const s of document.querySelectorAll(".selected")) s.classList.remove("selected");
    const row = document.querySelector('#hotspot-table tr[data-address="' + CSS.escape(h.address) + '"]');
    if (row) row.classList.add("selected");
    const c = h.counts, r = h.rewards;
    showDetails([
      ["Name", E.hotspotLink(h.address, h.name)],
      ["Address", h.address],
      ["Location", h.location || "not asserted"],
      ["Region", h.region],
      ["Valid beacons", E.fmt(c.beacons_valid)],
      ["Invalid beacons", E.fmt(c.beacons_invalid)],
      ["Valid witnesses", E.fmt(c.witnesses_valid)],
      ["Rewarded witnesses", E.fmt(c.witnesses_selected)],
      ["Invalid witnesses", E.fmt(c.witnesses_invalid)],
      ["Rewards", E.amount(r.total, state.token)],
      ["Rewarded epochs", E.fmt(r.epochs)],
    ], E.hotspotHref(h.address));
    if (typeof h.lat === "number") {
      const drawn = await drawLinks(h);
      document.body.dataset.links = String(drawn);
    }
  }

  function fillHotspotTable(hotspots) {
    const body = document.querySelector("#hotspot-table tbody");
    body.replaceChildren(...hotspots.map((h) => {
      const c = h.counts;
      const tr = E.row([
        E.cell(E.hotspotLink(h.address, h.name)),
        E.cell(h.address, "address"),
        h.location || "not asserted",
        h.region,
        E.cell(E.fmt(c.beacons_valid), "num"),
        E.cell(E.fmt(c.witnesses_valid), "num"),
        E.cell(E.fmt(c.beacons_invalid + c.witnesses_invalid), "num"),
        E.cell(E.amount(h.rewards.total, state.token), "num"),
      ]);
      tr.dataset.address = h.address;
      tr.addEventListener("click", (event) => {
        if (event.target.closest("a")) return;
        selectHotspot(h);
      });
      return tr;
    }));
  }

  function fillEpochTable(epochs) {
    const body = document.querySelector("#epoch-table tbody");
    body.replaceChildren(...epochs.map((e) => E.row([
      E.cell(String(e.epoch), "num"),
      E.time(e.closed_ms),
      E.cell(E.fmt(e.hotspots), "num"),
      E.cell(E.amount(e.total, state.token), "num"),
    ])));
  }

  function showStats(stats, hotspots, coverage) {
    const c = stats.counts;
    const asserted = hotspots.filter((h) => h.asserted).length;
    document.getElementById("stats").textContent =
      E.fmt(hotspots.length) + " hotspots (" + E.fmt(asserted) + " asserted) in " +
      E.fmt(coverage.features.length) + " cells · " + E.fmt(c.beacons_valid) + " valid beacons · " +
      E.fmt(c.witnesses_valid) + " valid witnesses · " + E.fmt(c.epochs_closed) +
      " closed epochs · rewards in " + stats.token.symbol;
  }

  function fitToData(coverage) {
    if (coverage.features.length === 0) return;
    state.map.fitBounds(state.hexes.getBounds().pad(0.3), { maxZoom: 14 });
  }

  async function main() {
    E.setupSearch();
    try {
      state.map = createMap();
      const [stats, hotspots, epochs] = await Promise.all([
        E.getJson("/api/v1/stats"),
        allHotspots(),
        E.getJson("/api/v1/epochs?limit=50"),
        drawBase(state.map),
      ]);
      state.token = stats.token;
      state.hotspots = hotspots;
      const select = document.getElementById("resolution");
      const coverage = await drawHexes(select.value);
      drawHotspots(hotspots);
      fitToData(coverage);
      select.addEventListener("change", () => drawHexes(select.value).catch(fail));
      fillHotspotTable(hotspots);
      fillEpochTable(epochs.epochs);
      showStats(stats, hotspots, coverage);
      document.body.dataset.state = "ready";
    } catch (error) {
      fail(error);
    }
  }

  function fail(error) {
    const status = document.getElementById("stats");
    status.textContent = "Could not load the map: " + error.message;
    status.classList.add("error");
    document.body.dataset.state = "error";
    console.error(error);
  }

  document.addEventListener("DOMContentLoaded", main);
})();
