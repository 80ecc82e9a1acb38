// Shared by the explorer's pages: JSON from the oracle, numbers, token amounts, links to
// hotspot pages and the search box. Everything comes from the oracle itself: no CDN.
"use strict";

window.Explorer = (function () {
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

  function fmt(n) {
    return typeof n === "number" ? n.toLocaleString("en-US") : "–";
  }

  /** Tokens of an amount in smallest units, as a number. */
  function tokens(units, token) {
    return units / Math.pow(10, token.decimals);
  }

  /** An amount in smallest units as tokens with the symbol: 1,234.5 IOT. */
  function amount(units, token) {
    if (typeof units !== "number") return "–";
    const value = tokens(units, token).toLocaleString("en-US", {
      maximumFractionDigits: token.decimals,
    });
    return value + " " + token.symbol;
  }

  function short(address) {
    return address.length > 14 ? address.slice(0, 6) + "…" + address.slice(-6) : address;
  }

  function hotspotHref(address) {
    return "/hotspot?address=" + encodeURIComponent(address);
  }

  /** A link to a hotspot's page showing its name, with the address as title. */
  function hotspotLink(address, name) {
    const a = document.createElement("a");
    a.href = hotspotHref(address);
    a.className = "hotspot-link";
    a.textContent = name || short(address);
    a.title = address;
    return a;
  }

  function time(ms) {
    return new Date(ms).toISOString().replace(".000Z", "Z").replace("T", " ");
  }

  function cell(content, className) {
    const td = document.createElement("td");
    if (content instanceof Node) td.append(content);
    else td.textContent = content;
    if (className) td.className = className;
    return td;
  }

  function row(cells, className) {
    const tr = document.createElement("tr");
    tr.append(...cells.map((c) => (c instanceof HTMLTableCellElement ? c : cell(c))));
    if (className) tr.className = className;
    return tr;
  }

  /** Wires the search form: hotspots by name or address prefix, as links. */
  function setupSearch() {
    const form = document.getElementById("search");
    const input = document.getElementById("search-q");
    const list = document.getElementById("search-results");
    let timer = null;
    let latest = [];
    async function run() {
      const q = input.value.trim();
      if (!q) {
        list.hidden = true;
        return;
      }
      try {
        const found = await getJson("/api/v1/hotspots/search?limit=10&q=" + encodeURIComponent(q));
        latest = found.hotspots;
        list.replaceChildren(...found.hotspots.map((h) => {
          const li = document.createElement("li");
          const link = hotspotLink(h.address, h.name);
          const small = document.createElement("small");
          small.textContent = " " + short(h.address);
          li.append(link, small);
          return li;
        }));
        if (found.hotspots.length === 0) {
          const li = document.createElement("li");
          li.textContent = "No hotspot matches “" + q + "”.";
          list.append(li);
        }
      } catch (error) {
        const li = document.createElement("li");
        li.textContent = error.message;
        list.replaceChildren(li);
      }
      list.hidden = false;
    }
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(run, 250);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      await run();
      if (latest.length === 1) window.location.href = hotspotHref(latest[0].address);
    });
  }

  return { getJson, fmt, tokens, amount, short, hotspotHref, hotspotLink, time, cell, row, setupSearch };
})();
