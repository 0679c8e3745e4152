// Weft dashboard: reads /weft/mesh, /debug/weft and /weft/tap from the
// node that serves it. Data from the network is only ever written as text
// (textContent), never as markup.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const POLL_MS = 2000;
const TAP_ROWS = 500;

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs, ...children) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.setAttribute('class', v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function td(text, cls) { return el('td', { class: cls, text: text }); }
function fmt(n, digits) { return (n || 0).toFixed(digits === undefined ? 1 : digits); }
function pct(r) { return (100 * r).toFixed(r < 1 && r > 0.999 ? 2 : 1) + '%'; }
function ms(v) { return v ? (v < 10 ? v.toFixed(2) : v.toFixed(1)) + ' ms' : '-'; }
function rateClass(r) { return r >= 0.99 ? 'ok' : r >= 0.9 ? 'warn' : 'bad'; }
function ago(t) {
  const d = (Date.now() - new Date(t).getTime()) / 1000;
  return d < 1 ? 'now' : d < 90 ? d.toFixed(0) + ' s ago' : (d / 60).toFixed(0) + ' min ago';
}

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!r.ok) throw new Error(url + ': ' + r.status + ' ' + (await r.text()).slice(0, 300));
  return r.json();
}

// ---- tabs

function showTab() {
  const name = (location.hash || '#graph').slice(1);
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== 'tab-' + name;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.tab === name);
}

// ---- service graph

function layout(services, edges) {
  const names = services.map((s) => s.service);
  const rank = Object.fromEntries(names.map((n) => [n, 0]));
  for (let i = 0; i < names.length; i++) {
    for (const e of edges) {
      if (e.source !== e.destination && rank[e.source] !== undefined && rank[e.destination] !== undefined) {
        rank[e.destination] = Math.min(names.length, Math.max(rank[e.destination], rank[e.source] + 1));
      }
    }
  }
  const columns = [];
  for (const n of names) (columns[rank[n]] = columns[rank[n]] || []).push(n);
  return { rank, columns: columns.filter(Boolean) };
}

const BOX_W = 170, BOX_H = 52;

function renderGraph(view) {
  const svg = $('#graph');
  svg.replaceChildren();
  const width = svg.clientWidth || 1000, height = svg.clientHeight || 420;
  const { columns } = layout(view.services, view.edges);
  const pos = {};
  const colGap = columns.length > 1 ? (width - 2 * 30 - BOX_W) / (columns.length - 1) : 0;
  columns.forEach((col, ci) => {
    const gap = height / (col.length + 1);
    col.forEach((name, i) => {
      pos[name] = { x: 30 + ci * colGap, y: gap * (i + 1) - BOX_H / 2, col: ci };
    });
  });
  const defs = el('svg:defs', {});
  for (const c of ['ok', 'warn', 'bad']) {
    const color = { ok: '#3a8a5a', warn: '#d08a00', bad: '#c0152f' }[c];
    defs.append(el('svg:marker', { id: 'arrow-' + c, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      el('svg:path', { d: 'M0,0 L10,5 L0,10 z', fill: color })));
  }
  svg.append(defs);
  const edgeLayer = el('svg:g', {}), labelLayer = el('svg:g', {}), nodeLayer = el('svg:g', {});
  svg.append(edgeLayer, nodeLayer, labelLayer);
  for (const e of view.edges) {
    const a = pos[e.source], b = pos[e.destination];
    if (!a || !b) continue;
    const cls = rateClass(e.successRate);
    let d, mx, my;
    if (b.col > a.col) {
      const x1 = a.x + BOX_W, y1 = a.y + BOX_H / 2, x2 = b.x, y2 = b.y + BOX_H / 2;
      const c = (x2 - x1) / 2;
      d = `M${x1},${y1} C${x1 + c},${y1} ${x2 - c},${y2} ${x2},${y2}`;
      mx = (x1 + x2) / 2; my = (y1 + y2) / 2;
    } else {
      const x1 = a.x + BOX_W / 2, y1 = a.y + BOX_H, x2 = b.x + BOX_W / 2, y2 = b.y + BOX_H;
      d = `M${x1},${y1} C${x1},${y1 + 70} ${x2},${y2 + 70} ${x2},${y2}`;
      mx = (x1 + x2) / 2; my = Math.max(y1, y2) + 52;
    }
    const label = `${fmt(e.rps)} req/s · ${pct(e.successRate)} · p50 ${ms(e.p50Ms)} · p99 ${ms(e.p99Ms)}`;
    const byCallee = e.countedBy === 'callee';
    const g = el('svg:g', {
      class: 'edge ' + cls + (byCallee ? ' by-callee' : ''), 'data-source': e.source, 'data-destination': e.destination,
      'data-rps': e.rps, 'data-success-rate': e.successRate, 'data-p50': e.p50Ms, 'data-p99': e.p99Ms, 'data-counted-by': e.countedBy,
    }, el('svg:title', { text: `${e.source} → ${e.destination}\n${label}\n${e.requests} requests, ${e.failures} failed in the last minute` +
      (byCallee ? `\ncounted by ${e.destination} as it served them (each attempt): ${e.source} sends no counts` : '') }),
      el('svg:path', { d, 'marker-end': `url(#arrow-${cls})` }));
    edgeLayer.append(g);
    const t = el('svg:text', { x: mx, y: my - 4, 'text-anchor': 'middle', class: 'edge-label',
      'data-source': e.source, 'data-destination': e.destination, text: label });
    labelLayer.append(el('svg:g', { class: 'edge ' + cls }, t));
  }
  for (const s of view.services) {
    const p = pos[s.service];
    const served = s.served ? `${fmt(s.served.rps)} req/s · ${pct(s.served.successRate)}` : 'no requests served';
    let inst = s.health === 'external' ? 'outside the mesh' : s.health === 'client' ? `${s.clients} client${s.clients > 1 ? 's' : ''}` :
      `${(s.states && s.states.ready) || 0}/${s.instances} ready`;
    nodeLayer.append(el('svg:g', { class: 'svc ' + s.health, 'data-service': s.service, 'data-health': s.health, transform: `translate(${p.x},${p.y})` },
      el('svg:title', { text: `${s.service}: ${s.health}` }),
      el('svg:rect', { width: BOX_W, height: BOX_H, rx: 6 }),
      el('svg:text', { x: 8, y: 17, class: 'name', text: s.service }),
      el('svg:text', { x: 8, y: 32, text: s.health === 'client' || s.health === 'external' ? inst : inst + ' · ' + s.health }),
      el('svg:text', { x: 8, y: 46, class: 'dim', text: served })));
  }
}

// ---- charts

function spark(points, key, cls) {
  const w = 120, h = 26;
  const vals = points.map((p) => p[key] || 0);
  const top = Math.max(...vals, key === 'errorRate' ? 0.01 : 1e-9);
  const step = vals.length > 1 ? w / (vals.length - 1) : 0;
  const d = vals.map((v, i) => `${i ? 'L' : 'M'}${(i * step).toFixed(1)},${(h - 2 - (v / top) * (h - 4)).toFixed(1)}`).join(' ');
  const last = vals[vals.length - 1];
  return el('svg:svg', { class: 'spark ' + cls, viewBox: `0 0 ${w} ${h}` },
    el('svg:title', { text: `max ${key === 'errorRate' ? pct(top) : fmt(top, 2)}, now ${key === 'errorRate' ? pct(last) : fmt(last, 2)}` }),
    el('svg:path', { d }));
}

function renderServices(view) {
  $('#bucket').textContent = view.bucketSeconds;
  const body = $('#services tbody');
  body.replaceChildren();
  for (const s of view.services) {
    if (s.health === 'external') continue;
    const sv = s.served;
    const tr = el('tr', { 'data-service': s.service },
      td(s.service), el('td', {}, el('span', { class: 'pill ' + s.health, text: s.health })),
      td(s.health === 'client' ? `${s.clients} client(s)` : `${(s.states && s.states.ready) || 0}/${s.instances} ready`),
      td(sv ? fmt(sv.rps) : '-', 'n'), td(sv ? pct(sv.successRate) : '-', 'n ' + (sv ? rateClass(sv.successRate) : '')),
      td(sv ? ms(sv.p50Ms) : '-', 'n'), td(sv ? ms(sv.p99Ms) : '-', 'n'));
    for (const [key, cls] of [['rps', 'rate'], ['errorRate', 'err'], ['p99Ms', 'lat']]) {
      tr.append(el('td', {}, sv ? spark(sv.points, key, cls) : ''));
    }
    body.append(tr);
  }
  const eb = $('#edges tbody');
  eb.replaceChildren();
  for (const e of view.edges) {
    eb.append(el('tr', { 'data-source': e.source, 'data-destination': e.destination },
      td(e.source), td(e.destination), td((e.protocols || []).join(', ')), td(fmt(e.rps), 'n'),
      td(pct(e.successRate), 'n ' + rateClass(e.successRate)), td(ms(e.p50Ms), 'n'), td(ms(e.p99Ms), 'n'),
      td(`${e.requests} (${e.failures} failed)`, 'n'), td(e.countedBy || '')));
  }
  const bad = view.peers.filter((p) => p.error);
  $('#peers').textContent = `counts from ${view.peers.length - bad.length + 1} of ${view.peers.length + 1} members with an admin endpoint` +
    (bad.length ? ' · not read: ' + bad.map((p) => `${p.service} ${p.node} (${p.error})`).join('; ') : '');
}

// ---- node status

function renderEndpoints(st) {
  const box = $('#destinations');
  box.replaceChildren();
  if (!st.destinations || !st.destinations.length) { box.append(el('div', { class: 'dim', text: 'this node calls no service yet' })); return; }
  for (const d of st.destinations) {
    box.append(el('h3', {}, `${d.service} `, el('span', { class: 'dim',
      text: `${d.protocol} · ${d.loadBalancer} · ${d.ready} ready${d.unready ? ' · ' + d.unready + ' starting or draining' : ''} · retry budget ${d.retryBudget}` })));
    const t = el('table', {}, el('tr', {}, ...['endpoint', 'node', 'zone', 'version', 'subsets', 'weight', 'in flight', 'latency', 'state', 'breaker', 'slow start'].map((h) => el('th', { text: h }))));
    for (const e of d.endpoints || []) {
      const state = e.ejected ? 'ejected' : e.down ? 'down' : 'up';
      t.append(el('tr', { 'data-endpoint': e.addr },
        td(e.addr), td(e.node), td(e.zone || '-'), td(e.version || '-'), td((e.subsets || []).join(', ') || '-'),
        td(e.weight, 'n'), td(e.inFlight, 'n'), td(ms(e.latencyMs), 'n'), td(state, state === 'up' ? 'ok' : 'bad'),
        td(e.breaker || '-', e.breaker && e.breaker !== 'closed' ? 'bad' : ''), td(e.slowStart ? pct(e.slowStart) + ' of weight' : '-')));
    }
    box.append(t);
  }
}

function renderDecisions(st) {
  const sel = $('#dec-dest');
  const dests = [...new Set((st.decisions || []).map((d) => d.destination))].sort();
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '', text: 'all' }), ...dests.map((d) => el('option', { value: d, text: d })));
  sel.value = dests.includes(cur) ? cur : '';
  const outcome = $('#dec-outcome').value, path = $('#dec-path').value;
  const body = $('#decisions tbody');
  body.replaceChildren();
  for (const d of st.decisions || []) {
    if ((sel.value && d.destination !== sel.value) || (outcome && d.outcome !== outcome) || (path && !(d.path || d.method).includes(path))) continue;
    const tries = (d.tries || []).map((t) => `${t.endpoint} ${t.status || t.outcome}${t.hedge ? ' (hedge)' : ''}`).join('; ') || String(d.attempts);
    body.append(el('tr', {}, td(ago(d.time)), td(d.destination), td(`${d.method} ${d.path || ''}`), td(d.route || '-'), td(d.subset || '-'),
      td(tries), td(`${d.status || ''} ${d.outcome}${d.error ? ': ' + d.error : ''}${d.budgetExhausted ? ' (retry budget exhausted)' : ''}`, d.outcome === 'ok' ? '' : 'bad'),
      td(ms(d.durationMs), 'n'), td(d.traceId || '')));
  }
}

function yaml(v, indent) {
  indent = indent || '';
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return v.map((x) => '\n' + indent + '- ' + yaml(x, indent + '  ').replace(/^\n\s*/, '')).join('');
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort();
    if (!keys.length) return '{}';
    return keys.map((k) => '\n' + indent + k + ': ' + yaml(v[k], indent + '  ')).join('').replace(/: \n/g, ':\n');
  }
  return typeof v === 'string' && /^[\w./:@-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
}

function renderPolicy(st) {
  const p = st.policy || {};
  $('#policy-line').textContent = `${p.source || 'built-in defaults'}${p.sha256 ? ' · sha256 ' + p.sha256.slice(0, 12) : ''} · reloads applied ${p.reloadsApplied || 0}, rejected ${p.reloadsRejected || 0}`;
  const err = $('#policy-error');
  err.hidden = !p.lastError;
  err.querySelector('pre').textContent = p.lastError || '';
  $('#policy-yaml').textContent = yaml(p.effective || {}).trimStart();
}

// ---- refresh loop

let timer = null;
let lastStatus = null;
async function refresh() {
  clearTimeout(timer);
  try {
    const [view, st] = await Promise.all([getJSON('/weft/mesh'), getJSON('/debug/weft?format=json')]);
    $('#mesh-name').textContent = 'mesh ' + st.mesh;
    $('#node-line').textContent = `seen from ${st.service} · node ${st.node} · ${st.local.state}${st.identity ? ' · ' + st.identity.id + ' (mTLS ' + st.identity.mtls + ')' : ''}`;
    lastStatus = st;
    renderGraph(view);
    renderServices(view);
    renderEndpoints(st);
    renderDecisions(st);
    renderPolicy(st);
    $('#error').hidden = true;
    $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.dataset.updated = String(Date.now());
  } catch (e) {
    $('#error').hidden = false;
    $('#error').textContent = 'cannot read the node: ' + e.message;
  }
  if ($('#live').checked) timer = setTimeout(refresh, POLL_MS);
}

// ---- tap

let source = null;
function stopTap() {
  if (source) source.close();
  source = null;
  $('#tap-start').disabled = false;
  $('#tap-stop').disabled = true;
  $('#tap-state').textContent = 'stopped';
}

function startTap(ev) {
  ev.preventDefault();
  stopTap();
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($('#tap-form'))) if (v) params.set(k, v);
  source = new EventSource('/weft/tap?' + params);
  $('#tap-start').disabled = true;
  $('#tap-stop').disabled = false;
  $('#tap-state').textContent = 'connecting…';
  $('#tap-dropped').textContent = '0';
  source.addEventListener('hello', (m) => {
    $('#tap-state').textContent = 'watching node ' + JSON.parse(m.data).node;
    document.body.dataset.tap = 'watching';
  });
  source.addEventListener('dropped', (m) => { $('#tap-dropped').textContent = m.data; });
  source.onmessage = (m) => addTapRow(JSON.parse(m.data));
  source.onerror = () => { $('#tap-state').textContent = 'disconnected, retrying…'; };
}

function addTapRow(e) {
  const body = $('#tap tbody');
  const tries = e.attempts ? String(e.attempts) : '';
  const status = (e.status || (e.protocol === 'grpc' ? 'OK' : '')) + (e.error ? ' ' + e.error : '');
  const headers = Object.entries(e.headers || {}).map(([k, v]) => k + ': ' + v).join('\n');
  const tr = el('tr', { class: 'tap-row', 'data-path': e.path || e.method, 'data-direction': e.direction, 'data-status': e.status },
    td(new Date(e.time).toLocaleTimeString()), td(e.direction), td(`${e.source || '?'} → ${e.destination}`),
    el('td', { title: headers }, `${e.protocol === 'grpc' ? '' : e.method + ' '}${e.path || e.method}`),
    td([e.route, e.subset].filter(Boolean).join(' / ') || '-'), td(e.endpoint || '-'), td(tries),
    td(String(status), e.failed ? 'bad' : ''), td(ms(e.durationMs), 'n'), td(e.traceId || ''), td(e.reason || (e.peer ? 'caller ' + e.peer : ''), 'why'));
  body.prepend(tr);
  while (body.rows.length > TAP_ROWS) body.deleteRow(body.rows.length - 1);
}

window.addEventListener('hashchange', showTab);
document.addEventListener('DOMContentLoaded', () => {
  showTab();
  $('#live').addEventListener('change', () => { clearTimeout(timer); if ($('#live').checked) refresh(); });
  for (const id of ['#dec-dest', '#dec-outcome', '#dec-path']) $(id).addEventListener('input', () => { if (lastStatus) renderDecisions(lastStatus); });
  $('#tap-form').addEventListener('submit', startTap);
  $('#tap-stop').addEventListener('click', stopTap);
  refresh();
});
