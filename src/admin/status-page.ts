/*
 * The status page: one static document, no external assets, no build step.
 * It fetches `status` (relative, so it works under any mount path) every
 * 2 s and draws a page of rows from it. Everything it shows from the JSON
 * goes in as text (textContent, attributes of numbers): site names, domains
 * and error messages are never parsed as HTML. The script avoids template
 * literals: this file holds it in one.
 */

const STYLE = `
:root { color-scheme: light dark; --bg: #fff; --fg: #1b1f24; --muted: #59636e; --line: #d1d9e0; --head: #f6f8fa;
  --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --spark: #0969da; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --head: #151b23;
    --ok: #3fb950; --warn: #d29922; --bad: #f85149; --spark: #4493f8; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
header { padding: 12px 16px; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: baseline; }
h1 { font-size: 18px; margin: 0; }
.facts { color: var(--muted); }
.bar { padding: 8px 16px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
input[type=search] { font: inherit; padding: 4px 8px; width: 280px; max-width: 100%; background: var(--bg); color: var(--fg); border: 1px solid var(--line); border-radius: 6px; }
button { font: inherit; padding: 3px 10px; background: var(--head); color: var(--fg); border: 1px solid var(--line); border-radius: 6px; cursor: pointer; }
button:disabled { opacity: .5; cursor: default; }
#banner { display: none; margin: 8px 16px; padding: 8px 12px; border: 1px solid var(--bad); color: var(--bad); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
th { background: var(--head); position: sticky; top: 0; cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.domains { white-space: normal; color: var(--muted); max-width: 360px; }
.state-ready { color: var(--ok); } .state-loading, .state-idle { color: var(--muted); }
.state-failed, .state-quarantined { color: var(--bad); font-weight: 600; }
.hot { color: var(--bad); }
svg.spark { width: 120px; height: 24px; display: block; }
svg.spark polyline { fill: none; stroke: var(--spark); stroke-width: 1.5; }
`;

const SCRIPT = `
(function () {
'use strict';
var PAGE_SIZE = 100, POINTS = 60, EVERY_MS = 2000;
var columns = [
  { key: 'name', label: 'Site' }, { key: 'domains', label: 'Domains' }, { key: 'state', label: 'State' },
  { key: 'rate', label: 'Req/s', num: true }, { key: 'rate4', label: '4xx/s', num: true }, { key: 'rate5', label: '5xx/s', num: true },
  { key: 'p99', label: 'p99 ms', num: true }, { key: 'inFlight', label: 'In flight', num: true }, { key: 'spark', label: 'Req/s, last 2 min', sortable: false }
];
var rows = [], history = new Map(), previous = null, sortKey = 'name', sortDir = 1, page = 0, filter = '';
var $ = function (id) { return document.getElementById(id); };

function text(tag, value, className) {
  var el = document.createElement(tag);
  el.textContent = value;
  if (className) el.className = className;
  return el;
}
function fixed(n) { return n === null || n === undefined ? '-' : (n >= 100 ? String(Math.round(n)) : n.toFixed(n >= 10 ? 1 : 2)); }

function head() {
  var tr = $('head');
  columns.forEach(function (column) {
    var th = text('th', column.label, column.num ? 'num' : '');
    th.dataset.key = column.key;
    if (column.sortable !== false) {
      th.addEventListener('click', function () {
        if (sortKey === column.key) sortDir = -sortDir; else { sortKey = column.key; sortDir = column.num ? -1 : 1; }
        draw();
      });
    } else th.style.cursor = 'default';
    tr.appendChild(th);
  });
}

function sparkline(points) {
  var ns = 'http://www.w3.org/2000/svg';
  var svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', '0 0 ' + (POINTS - 1) + ' 24');
  svg.setAttribute('preserveAspectRatio', 'none');
  var line = document.createElementNS(ns, 'polyline');
  var max = Math.max.apply(null, points.concat([1]));
  var offset = POINTS - points.length;
  line.setAttribute('points', points.map(function (value, i) {
    return (offset + i) + ',' + (23 - (value / max) * 22).toFixed(1);
  }).join(' '));
  svg.appendChild(line);
  return svg;
}

function update(status, at) {
  var seconds = previous === null ? 0 : (at - previous.at) / 1000;
  var before = previous === null ? new Map() : previous.sites;
  var now = new Map();
  rows = status.sites.map(function (site) {
    var last = before.get(site.name);
    var rate = 0, rate4 = 0, rate5 = 0;
    if (last && seconds > 0) {
      rate = Math.max(0, site.requests.total - last.total) / seconds;
      rate4 = Math.max(0, site.requests['4xx'] - last.c4) / seconds;
      rate5 = Math.max(0, site.requests['5xx'] - last.c5) / seconds;
    }
    now.set(site.name, { total: site.requests.total, c4: site.requests['4xx'], c5: site.requests['5xx'] });
    var points = history.get(site.name);
    if (!points) { points = []; history.set(site.name, points); }
    if (last && seconds > 0) { points.push(rate); if (points.length > POINTS) points.shift(); }
    return { name: site.name, domains: site.domains.join(', '), state: site.state, rate: rate, rate4: rate4, rate5: rate5,
      p99: site.latency.p99, inFlight: site.inFlight, total: site.requests.total, lastError: site.lastError, points: points };
  });
  for (var name of Array.from(history.keys())) if (!now.has(name)) history.delete(name);
  previous = { at: at, sites: now };
  var reload = status.reload === null ? 'no reload yet'
    : 'last reload ' + (status.reload.ok ? 'taken' : 'refused') + ' at ' + new Date(status.reload.at).toLocaleTimeString();
  $('facts').textContent = 'up ' + Math.round(status.uptime) + ' s \\u00b7 ' + status.workers + (status.workers === 1 ? ' worker' : ' workers')
    + ' \\u00b7 generation ' + status.generation + ' \\u00b7 ' + reload + ' \\u00b7 ' + status.sites.length + ' sites';
}

function visible() {
  var needle = filter.toLowerCase();
  var list = needle === '' ? rows.slice() : rows.filter(function (row) {
    return row.name.toLowerCase().indexOf(needle) !== -1 || row.domains.toLowerCase().indexOf(needle) !== -1;
  });
  list.sort(function (a, b) {
    var x = a[sortKey], y = b[sortKey];
    if (x === null) x = -1; if (y === null) y = -1;
    if (x < y) return -sortDir; if (x > y) return sortDir;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  return list;
}

function draw() {
  document.querySelectorAll('#head th').forEach(function (th) {
    if (th.dataset.key === sortKey) th.setAttribute('aria-sort', sortDir === 1 ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  });
  var list = visible();
  var pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
  if (page >= pages) page = pages - 1;
  var first = page * PAGE_SIZE;
  var shown = list.slice(first, first + PAGE_SIZE);
  var body = document.createElement('tbody');
  body.id = 'rows';
  shown.forEach(function (row) {
    var tr = document.createElement('tr');
    tr.dataset.site = row.name;
    var name = text('td', row.name, 'name');
    if (row.lastError) name.title = 'last error at ' + row.lastError.time + ': ' + row.lastError.message;
    tr.appendChild(name);
    tr.appendChild(text('td', row.domains, 'domains'));
    tr.appendChild(text('td', row.state, 'state state-' + row.state));
    tr.appendChild(text('td', fixed(row.rate), 'num rate'));
    tr.appendChild(text('td', fixed(row.rate4), 'num rate4' + (row.rate4 > 0 ? ' hot' : '')));
    tr.appendChild(text('td', fixed(row.rate5), 'num rate5' + (row.rate5 > 0 ? ' hot' : '')));
    tr.appendChild(text('td', fixed(row.p99), 'num p99'));
    tr.appendChild(text('td', String(row.inFlight), 'num inflight'));
    var spark = document.createElement('td');
    spark.className = 'spark';
    spark.appendChild(sparkline(row.points));
    tr.appendChild(spark);
    Array.prototype.forEach.call(tr.children, function (td, i) { td.dataset.col = columns[i].key; });
    body.appendChild(tr);
  });
  $('rows').replaceWith(body);
  $('range').textContent = list.length === 0 ? 'no site matches' : (first + 1) + '\\u2013' + (first + shown.length) + ' of ' + list.length;
  $('prev').disabled = page === 0;
  $('next').disabled = page >= pages - 1;
}

function banner(message) {
  var el = $('banner');
  el.textContent = message;
  el.style.display = message === '' ? 'none' : 'block';
}

function poll() {
  fetch('status', { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
    if (res.status === 401) throw new Error('401: this admin listener needs a token (Authorization: Bearer)');
    if (!res.ok) throw new Error('status answered ' + res.status);
    return res.json();
  }).then(function (status) {
    update(status, performance.now());
    banner('');
    draw();
  }).catch(function (error) {
    banner('Cannot read the status: ' + error.message + '. Retrying every 2 s.');
  }).then(function () { setTimeout(poll, EVERY_MS); });
}

head();
$('filter').addEventListener('input', function (event) { filter = event.target.value; page = 0; draw(); });
$('prev').addEventListener('click', function () { page--; draw(); });
$('next').addEventListener('click', function () { page++; draw(); });
poll();
})();
`;

/** The status page: one static HTML document; it fetches `status` (relative) every 2 s. */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hostmux status</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>hostmux</h1><span id="facts" class="facts">loading…</span></header>
<div id="banner" role="alert"></div>
<div class="bar">
  <input id="filter" type="search" placeholder="Filter by site or domain" aria-label="Filter by site or domain">
  <button id="prev" type="button">Previous</button><span id="range"></span><button id="next" type="button">Next</button>
</div>
<table><thead><tr id="head"></tr></thead><tbody id="rows"></tbody></table>
<script>${SCRIPT}</script>
</body>
</html>
`;
