// Copies the built files the explorer page loads from node_modules into dist/, where the oracle
// embeds them (oracle/src/http.rs). Run after `npm ci`: `npm run vendor`.
"use strict";
const fs = require("fs");
const path = require("path");

const FILES = [
  ["leaflet/dist/leaflet.js", "leaflet.js"],
  ["leaflet/dist/leaflet.css", "leaflet.css"],
  ["leaflet/LICENSE", "LICENSE.leaflet"],
  ["topojson-client/dist/topojson-client.min.js", "topojson-client.min.js"],
  ["topojson-client/LICENSE", "LICENSE.topojson-client"],
  ["uplot/dist/uPlot.iife.min.js", "uPlot.iife.min.js"],
  ["uplot/dist/uPlot.min.css", "uPlot.min.css"],
  ["uplot/LICENSE", "LICENSE.uplot"],
  ["world-atlas/countries-50m.json", "countries-50m.json"],
  ["world-atlas/LICENSE", "LICENSE.world-atlas"],
];

const out = path.join(__dirname, "dist");
fs.mkdirSync(out, { recursive: true });
for (const [from, to] of FILES) {
  let text = fs.readFileSync(path.join(__dirname, "node_modules", from), "utf8");
  // No source maps: the page loads nothing it does not need.
  text = text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
  fs.writeFileSync(path.join(out, to), text);
}
