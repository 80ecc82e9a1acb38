// The reward ledger's page: per epoch, who signed the entry (the single oracle, or the
// operators of a quorum against its threshold), who signed another entry (highlighted), and
// the entry's hash. Operators are shown by name and address; one that is also a hotspot links
// to its page.
"use strict";

(function () {
  const E = window.Explorer;

  /** An operator by name with its address: a link to its hotspot page when it is a hotspot. */
  function operator(address, directory, className) {
    const known = directory.get(address);
    let label;
    if (known && known.hotspot) {
      label = E.hotspotLink(address, known.name);
    } else {
      label = document.createElement("span");
      label.className = "operator-name";
      label.textContent = known ? known.name : E.short(address);
      label.title = address;
    }
    const code = document.createElement("code");
    code.className = "operator-address";
    code.textContent = address;
    const span = document.createElement("span");
    span.className = "operator " + className;
    span.dataset.address = address;
    span.append(label, " ", code);
    return span;
  }

  /** The operators of `addresses`, one per line. */
  function operators(addresses, directory, className) {
    const td = document.createElement("td");
    td.append(...addresses.map((a) => operator(a, directory, className)));
    return td;
  }

  function isQuorum(entry) {
    return entry.threshold !== null && entry.threshold !== undefined;
  }

  function signedBy(entry, directory) {
    if (isQuorum(entry)) return operators(entry.signers, directory, "signer");
    return operators([entry.oracle], directory, "single-oracle");
  }

  function threshold(entry) {
    if (!isQuorum(entry)) return E.cell("single oracle", "threshold");
    const of = entry.declared.length;
    const signed = entry.signers.length;
    return E.cell(entry.threshold + " of " + of + " (" + signed + " signed)", "threshold");
  }

  function dissenting(entry, directory) {
    if (entry.dissenters.length === 0) return E.cell("none", "dissent-none");
    const td = operators(entry.dissenters, directory, "dissenter");
    td.classList.add("dissent");
    return td;
  }

  /** The epoch's span, its start and end each on a line of its own. */
  function span(entry) {
    const td = document.createElement("td");
    td.className = "span";
    const start = document.createElement("span");
    start.textContent = E.time(entry.start_ms) + " –";
    const end = document.createElement("span");
    end.textContent = E.time(entry.end_ms);
    td.append(start, end);
    return td;
  }

  function hash(entry) {
    const a = document.createElement("a");
    a.href = "/api/v1/ledger/" + entry.epoch;
    a.className = "hash";
    a.textContent = entry.hash;
    a.title = "The entry with its shares (JSON)";
    return E.cell(a, "hash-cell");
  }

  function fillTable(entries, directory, token) {
    const body = document.querySelector("#ledger-table tbody");
    body.replaceChildren(...entries.slice().reverse().map((entry) => {
      const tr = E.row([
        E.cell(String(entry.epoch), "num"),
        span(entry),
        E.cell(E.amount(entry.emission, token), "num"),
        E.cell(E.fmt(entry.shares), "num"),
        signedBy(entry, directory),
        threshold(entry),
        dissenting(entry, directory),
        hash(entry),
      ], entry.dissenters.length ? "dissented" : "");
      tr.dataset.epoch = String(entry.epoch);
      tr.dataset.hash = entry.hash;
      return tr;
    }));
  }

  function status(entries) {
    const quorum = entries.filter(isQuorum).length;
    const dissented = entries.filter((e) => e.dissenters.length).length;
    let text = E.fmt(entries.length) + (entries.length === 1 ? " entry" : " entries");
    if (quorum) text += " · " + E.fmt(quorum) + " signed by a quorum of operators";
    if (entries.length > quorum) text += " · " + E.fmt(entries.length - quorum) + " by a single oracle";
    text += dissented ? " · dissent in " + E.fmt(dissented) + " epoch(s)" : " · no dissent seen";
    return text;
  }

  async function main() {
    E.setupSearch();
    try {
      const [ledger, stats] = await Promise.all([
        E.getJson("/api/v1/ledger"),
        E.getJson("/api/v1/stats"),
      ]);
      const directory = new Map(ledger.operators.map((o) => [o.address, o]));
      fillTable(ledger.entries, directory, stats.token);
      document.getElementById("status").textContent = status(ledger.entries);
      document.body.dataset.state = "ready";
    } catch (error) {
      const element = document.getElementById("status");
      element.textContent = "Could not load the ledger: " + error.message;
      element.classList.add("error");
      document.body.dataset.state = "error";
      console.error(error);
    }
  }

  document.addEventListener("DOMContentLoaded", main);
})();
