// nslab serve: the live page. Everything arrives over one Server-Sent Events stream
// (/api/events): a snapshot of every lab, then each change as the kernel announces it.
// The page itself never asks the kernel anything but what a person clicks for (a node's
// routes and neighbours, verify, an action).
'use strict';

const SVG_NS = 'http://www.w3.org/2000/svg';
/// A line whose normal is this close to vertical is drawn with its labels centred above it.
const FLAT_LINE = 0.85;
const state = {
  labs: new Map(),        // lab name → LabView (as the server sends it)
  counters: new Map(),    // lab name → { "node:iface": {receivedBytes, …} }
  rates: new Map(),       // "lab/node:iface" → {at, receivedBytes, sentBytes, rx, tx}
  positions: new Map(),   // lab name → { key, points: Map(node → {x, y}) }
  actions: false,
  panel: null,            // {kind: 'node'|'link', lab, id}
};
// For tests and the curious: what the page has received.
window.nslab = { ready: false, events: 0, state };

// ---------------------------------------------------------------- small DOM helpers

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  return fill(element, attributes, children);
}

function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  return fill(element, attributes, children);
}

function fill(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'onclick') element.addEventListener('click', value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/// replaceChildren, leaving out the parts that are not there (null, undefined, false).
function put(element, ...children) {
  element.replaceChildren(...children.flat().filter(c => c !== null && c !== undefined && c !== false));
}

function byData(name, value, root = document) {
  return root.querySelector(`[${name}="${CSS.escape(value)}"]`);
}

function api(path) {
  return path.split('/').map(encodeURIComponent).join('/');
}

function bytes(n) {
  if (n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function count(n) {
  return n === undefined ? '–' : Number(n).toLocaleString('en');
}

// ---------------------------------------------------------------- the lab model

function findInterface(view, end) {
  const colon = end.indexOf(':');
  const node = view.nodes.find(n => n.name === end.slice(0, colon));
  return node ? node.interfaces.find(i => i.name === end.slice(colon + 1)) : undefined;
}

function globalAddresses(iface) {
  return (iface?.addresses ?? []).filter(a => !a.startsWith('fe80:'));
}

/// A link is down when either end is down or has no carrier; impaired when either end has an impairment.
function linkStatus(view, link) {
  const ends = link.ends.map(end => findInterface(view, end));
  const down = ends.some(i => !i || !i.up || !i.carrier);
  const impairments = link.ends.flatMap((end, k) => ends[k]?.impairment ? [`${end}: ${ends[k].impairment}`] : []);
  return { ends, down, impairments };
}

function isCountedInterface(iface) {
  return iface.kind !== undefined && iface.kind !== null;  // not lo
}

// ---------------------------------------------------------------- layout

/// A force-directed layout (Fruchterman–Reingold), started from a circle so it is the same
/// every time for the same lab, and kept while the lab's nodes stay the same. Returns each
/// node's place and the height the drawing needs at `width`.
function layout(view, width) {
  const names = view.nodes.map(n => n.name);
  const key = names.join('\n') + '|' + view.links.map(l => l.id).join('\n');
  const cached = state.positions.get(view.lab);
  if (cached && cached.key === key && cached.width === width) return cached;

  const n = names.length;
  const height = Math.round(Math.min(900, Math.max(260, 110 * Math.sqrt(n))));
  const index = new Map(names.map((name, i) => [name, i]));
  const edges = view.links.map(l => l.ends.map(e => index.get(e.slice(0, e.indexOf(':')))))
    .filter(([a, b]) => a !== undefined && b !== undefined && a !== b);
  const x = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = width / 2 + (width / 3) * Math.cos(2 * Math.PI * i / n);
    y[i] = height / 2 + (height / 3) * Math.sin(2 * Math.PI * i / n);
  }
  const k = Math.sqrt((width * height) / Math.max(n, 1)) * 0.8;
  const iterations = n > 400 ? 40 : n > 150 ? 120 : 300;
  const dx = new Float64Array(n), dy = new Float64Array(n);
  for (let it = 0; it < iterations; it++) {
    dx.fill(0); dy.fill(0);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        let ddx = x[i] - x[j], ddy = y[i] - y[j];
        let d2 = ddx * ddx + ddy * ddy;
        if (d2 < 0.01) { ddx = 0.1 * (i - j); ddy = 0.1; d2 = ddx * ddx + ddy * ddy; }
        const f = (k * k) / d2;
        dx[i] += ddx * f; dy[i] += ddy * f; dx[j] -= ddx * f; dy[j] -= ddy * f;
      }
    }
    for (const [a, b] of edges) {
      const ddx = x[a] - x[b], ddy = y[a] - y[b];
      const d = Math.sqrt(ddx * ddx + ddy * ddy) || 0.01;
      const f = d / k;
      dx[a] -= ddx * f; dy[a] -= ddy * f; dx[b] += ddx * f; dy[b] += ddy * f;
    }
    const temperature = (width / 8) * (1 - it / iterations) + 1;
    for (let i = 0; i < n; i++) {
      dx[i] += (width / 2 - x[i]) * 0.02; dy[i] += (height / 2 - y[i]) * 0.02;
      const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) || 1;
      x[i] += (dx[i] / d) * Math.min(d, temperature);
      y[i] += (dy[i] / d) * Math.min(d, temperature);
    }
  }
  // Turn the picture so that its longest extent runs along the page (a chain lies flat), then
  // fit it into the drawing, leaving room for labels.
  let [mx, my] = [0, 0];
  for (let i = 0; i < n; i++) { mx += x[i] / n; my += y[i] / n; }
  let [cxx, cyy, cxy] = [0, 0, 0];
  for (let i = 0; i < n; i++) { cxx += (x[i] - mx) ** 2; cyy += (y[i] - my) ** 2; cxy += (x[i] - mx) * (y[i] - my); }
  const angle = 0.5 * Math.atan2(2 * cxy, cxx - cyy);
  const [cos, sin] = [Math.cos(-angle), Math.sin(-angle)];
  for (let i = 0; i < n; i++) {
    const [px, py] = [x[i] - mx, y[i] - my];
    [x[i], y[i]] = [px * cos - py * sin, px * sin + py * cos];
  }
  const margin = 80;
  let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) { minX = Math.min(minX, x[i]); maxX = Math.max(maxX, x[i]); minY = Math.min(minY, y[i]); maxY = Math.max(maxY, y[i]); }
  // One scale for both directions, so the drawing keeps its shape: as wide as the page, and as
  // high as that makes it (up to 900).
  const [boxWidth, boxHeight] = [width - 2 * margin, 900 - 1.6 * margin];
  const scale = Math.min(boxWidth / Math.max(maxX - minX, 1), boxHeight / Math.max(maxY - minY, 1));
  const drawnHeight = Math.max(170, Math.round((maxY - minY) * scale + 1.6 * margin));
  const left = margin + (boxWidth - (maxX - minX) * scale) / 2;
  const top = margin * 0.7 + (drawnHeight - 1.6 * margin - (maxY - minY) * scale) / 2;
  const points = new Map();
  for (let i = 0; i < n; i++) points.set(names[i], { x: left + (x[i] - minX) * scale, y: top + (y[i] - minY) * scale });
  const result = { key, width, height: drawnHeight, points };
  state.positions.set(view.lab, result);
  return result;
}

// ---------------------------------------------------------------- drawing a lab

function renderLab(view) {
  state.labs.set(view.lab, view);
  const old = byData('data-lab', view.lab, document.getElementById('labs'));
  const section = h('section', { class: 'lab', 'data-lab': view.lab, id: `lab-${view.lab}` },
    h('h2', {},
      view.lab,
      view.file ? h('span', { class: 'file' }, view.file) : null,
      h('span', { class: 'summary' }, `${view.nodes.length} nodes, ${view.links.length} links`,
        hostsOf(view).length ? ` on this machine and ${hostsOf(view).join(', ')}` : ''),
      h('button', { type: 'button', 'data-verify': view.lab, onclick: () => runVerify(view.lab) }, 'verify')),
    drawTopology(view),
    h('div', { class: 'lab-details' },
      countersTable(view),
      h('div', { class: 'verify', 'data-verify-result': view.lab })));
  if (old) {
    // Keep a verify result shown while the lab is redrawn.
    const previous = byData('data-verify-result', view.lab, old);
    if (previous) section.querySelector('.verify').replaceWith(previous);
    old.replaceWith(section);
  } else {
    insertSorted(section, view.lab);
  }
  updateCounters(view.lab, state.counters.get(view.lab) ?? {});
  refreshPanel(view.lab);
  updateEmpty();
}

/// The other hosts a spread lab's nodes are on.
function hostsOf(view) {
  return [...new Set(view.nodes.map(n => n.host).filter(Boolean))].sort();
}

function insertSorted(section, name) {
  const main = document.getElementById('labs');
  const after = [...main.querySelectorAll('section.lab')].find(other => other.dataset.lab > name);
  main.insertBefore(section, after ?? null);
}

/// Where two lines of text go beside a point of a line, on the side of the normal (nx, ny):
/// centred above or below a line that is mostly horizontal, to its left or right otherwise.
function labelPlaces(point, nx, ny, gap) {
  const x = point.x + nx * gap, y = point.y + ny * gap;
  if (Math.abs(ny) > FLAT_LINE) {
    return ny > 0
      ? [{ x, y: y + 10, 'text-anchor': 'middle' }, { x, y: y + 22, 'text-anchor': 'middle' }]
      : [{ x, y: y - 15, 'text-anchor': 'middle' }, { x, y: y - 3, 'text-anchor': 'middle' }];
  }
  const anchor = nx > 0 ? 'start' : 'end';
  const top = ny > 0.3 ? y + 10 : ny < -0.3 ? y - 15 : y - 2;
  return [{ x, y: top, 'text-anchor': anchor }, { x, y: top + 12, 'text-anchor': anchor }];
}

function drawTopology(view) {
  const n = view.nodes.length;
  const width = 1000;
  const { points, height } = layout(view, width);
  const labels = n <= 60;
  const svgElement = s('svg', { class: 'topology', 'data-topology': view.lab, viewBox: `0 0 ${width} ${height}`, role: 'img',
                                'aria-label': `topology of lab ${view.lab}` });
  const linkLayer = s('g', { class: 'links' });
  const nodeLayer = s('g', { class: 'nodes' });
  for (const link of view.links) {
    const [a, b] = link.ends.map(e => points.get(e.slice(0, e.indexOf(':'))));
    if (!a || !b) continue;
    const group = s('g', { class: 'link', 'data-link': link.id, onclick: () => openLinkPanel(view.lab, link.id) },
      s('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y }),
      s('line', { class: 'hit', x1: a.x, y1: a.y, x2: b.x, y2: b.y }),
      s('title', {}, link.id));
    if (labels) {
      // Each end's interface name and addresses sit beside the line near that end; the link's
      // state and impairment beside its middle, on the other side.
      const length = Math.hypot(b.x - a.x, b.y - a.y) || 1;
      const [ux, uy] = [(b.x - a.x) / length, (b.y - a.y) / length];
      let [nx, ny] = [-uy, ux];
      // Above the line (node names are below their nodes), or right of a vertical one.
      if (ny > 0 || (ny === 0 && nx < 0)) [nx, ny] = [-nx, -ny];
      const centred = Math.abs(ny) > FLAT_LINE;
      link.ends.forEach((end, k) => {
        const from = k === 0 ? a : b;
        // Centred labels start clear of the node: half the longer line's width (about 3 px a
        // character) plus the node's radius.
        const iface = findInterface(view, end);
        const characters = Math.max(end.length - end.indexOf(':') - 1, globalAddresses(iface).join(' ').length);
        const clear = centred ? characters * 3 + 26 : 40;
        const distance = Math.min(clear, length * 0.45) * (k === 0 ? 1 : -1);
        const point = { x: from.x + ux * distance, y: from.y + uy * distance };
        const [name, address] = labelPlaces(point, nx, ny, 7);
        group.append(s('text', { class: 'interface', 'data-end': end, ...name }, end.slice(end.indexOf(':') + 1)));
        group.append(s('text', { class: 'address', 'data-address': end, ...address }));
      });
      const middle = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
      const [state, impairment] = labelPlaces(middle, -nx, -ny, 7);
      group.append(s('text', { class: 'state', ...state }));
      group.append(s('text', { class: 'impairment', ...impairment }));
    }
    linkLayer.append(group);
  }
  for (const node of view.nodes) {
    const p = points.get(node.name);
    const kind = ['host', 'router', 'bridge'].includes(node.kind) ? node.kind : 'host';
    const r = n > 200 ? 8 : 17;
    let shape;
    if (kind === 'router') shape = s('rect', { class: 'shape', x: p.x - r, y: p.y - r, width: 2 * r, height: 2 * r, rx: 5 });
    else if (kind === 'bridge') shape = s('polygon', { class: 'shape', points: `${p.x},${p.y - r * 1.2} ${p.x + r * 1.2},${p.y} ${p.x},${p.y + r * 1.2} ${p.x - r * 1.2},${p.y}` });
    else shape = s('circle', { class: 'shape', cx: p.x, cy: p.y, r });
    // A spread lab's nodes on other hosts say where they are (the machine's own say nothing).
    const group = s('g', { class: `node ${kind}${node.host ? ' remote' : ''}${node.present ? '' : ' absent'}${node.stopped ? ' stopped' : ''}`,
                           'data-node': node.name, 'data-kind': kind, 'data-host': node.host ?? '',
                           tabindex: 0, onclick: () => openNodePanel(view.lab, node.name) },
      shape,
      r > 10 ? s('text', { class: 'glyph', x: p.x, y: p.y + 4 }, { host: 'H', router: 'R', bridge: 'B' }[kind]) : null,
      labels || n <= 200 ? s('text', { class: 'name', x: p.x, y: p.y + r + 15 }, node.name) : null,
      node.host && (labels || n <= 200) ? s('text', { class: 'host', x: p.x, y: p.y + r + 27 }, `on ${node.host}`) : null,
      s('title', {}, `${node.name} (${kind}${node.host ? ` on host ${node.host}` : ''}${node.present ? '' : ', namespace gone'}${node.stopped ? ', stopped' : ''})`));
    nodeLayer.append(group);
  }
  svgElement.append(linkLayer, nodeLayer);
  for (const link of view.links) updateLink(view, link, svgElement);
  return svgElement;
}

/// Sets a link's classes and labels from its ends' state. `data-changed-at` is when the page
/// last saw it go down or up (milliseconds since the epoch).
function updateLink(view, link, root) {
  const group = byData('data-link', link.id, root);
  if (!group) return;
  const status = linkStatus(view, link);
  const wasDown = group.classList.contains('down');
  group.classList.toggle('down', status.down);
  group.classList.toggle('up', !status.down);
  group.classList.toggle('impaired', status.impairments.length > 0);
  group.dataset.state = status.down ? 'down' : 'up';
  if (wasDown !== status.down || !group.dataset.changedAt) group.dataset.changedAt = String(Date.now());
  const stateText = group.querySelector('text.state');
  if (stateText) stateText.textContent = status.down ? 'DOWN' : '';
  const impairment = group.querySelector('text.impairment');
  if (impairment) {
    const texts = [...new Set(status.ends.map(i => i?.impairment).filter(Boolean))];
    impairment.textContent = texts.length ? `⚠ ${texts.join(' / ')}` : '';
  }
  link.ends.forEach((end, k) => {
    const address = byData('data-address', end, group);
    if (address) address.textContent = globalAddresses(status.ends[k]).join(' ');
  });
  group.querySelector('title').textContent =
    `${link.id}: ${status.down ? 'down' : 'up'}${status.impairments.length ? '\n' + status.impairments.join('\n') : ''}`;
}

function countersTable(view) {
  const rows = [];
  for (const node of view.nodes) {
    for (const iface of node.interfaces.filter(isCountedInterface)) {
      const id = `${node.name}:${iface.name}`;
      rows.push(h('tr', { 'data-interface': id },
        h('td', { class: 'name' }, id),
        h('td', { class: 'state' }),
        ...['receivedBytes', 'receivedPackets', 'sentBytes', 'sentPackets', 'rx-rate', 'tx-rate']
          .map(key => h('td', { class: 'number', 'data-counter': key }, '–'))));
    }
  }
  const table = h('table', { class: 'counters', 'data-counters': view.lab },
    h('thead', {}, h('tr', {}, ...['interface', 'state', 'rx bytes', 'rx packets', 'tx bytes', 'tx packets', 'rx/s', 'tx/s'].map(t => h('th', {}, t)))),
    h('tbody', {}, rows));
  const details = h('details', { class: 'counters-box', open: rows.length <= 40 },
    h('summary', {}, `interface counters (${rows.length})`), table);
  for (const node of view.nodes) for (const iface of node.interfaces) setRowState(details, `${node.name}:${iface.name}`, iface);
  return details;
}

function setRowState(root, id, iface) {
  const row = byData('data-interface', id, root);
  if (!row) return;
  const down = !iface.up || !iface.carrier;
  row.classList.toggle('down', down);
  const cell = row.querySelector('td.state');
  put(cell, h('span', { class: `state-badge${down ? ' down' : ''}` }, iface.up ? (iface.carrier ? 'up' : 'no carrier') : 'down'));
}

// ---------------------------------------------------------------- live updates

function updateInterface(labName, nodeName, iface) {
  const view = state.labs.get(labName);
  const node = view?.nodes.find(n => n.name === nodeName);
  if (!node) return;
  const position = node.interfaces.findIndex(i => i.index === iface.index);
  if (position < 0) node.interfaces.push(iface); else node.interfaces[position] = iface;
  const section = byData('data-lab', labName);
  if (!section) return;
  const id = `${nodeName}:${iface.name}`;
  for (const link of view.links.filter(l => l.ends.includes(id))) updateLink(view, link, section);
  setRowState(section, id, iface);
  refreshPanel(labName);
}

function updateCounters(labName, changed) {
  const all = state.counters.get(labName) ?? {};
  Object.assign(all, changed);
  state.counters.set(labName, all);
  const section = byData('data-lab', labName);
  if (!section) return;
  const now = performance.now();
  for (const [id, c] of Object.entries(changed)) {
    const row = byData('data-interface', id, section);
    if (!row) continue;
    const set = (key, text, value) => {
      const cell = row.querySelector(`[data-counter="${key}"]`);
      cell.textContent = text;
      if (value !== undefined) cell.dataset.value = String(value);
    };
    set('receivedBytes', bytes(c.receivedBytes), c.receivedBytes);
    set('receivedPackets', count(c.receivedPackets), c.receivedPackets);
    set('sentBytes', bytes(c.sentBytes), c.sentBytes);
    set('sentPackets', count(c.sentPackets), c.sentPackets);
    const key = `${labName}/${id}`;
    const before = state.rates.get(key);
    if (before && now > before.at) {
      const seconds = (now - before.at) / 1000;
      set('rx-rate', `${bytes(Math.round((c.receivedBytes - before.receivedBytes) / seconds))}/s`);
      set('tx-rate', `${bytes(Math.round((c.sentBytes - before.sentBytes) / seconds))}/s`);
    }
    state.rates.set(key, { at: now, receivedBytes: c.receivedBytes, sentBytes: c.sentBytes });
  }
  // The server sends the counters that moved, once a second: the others stood still.
  for (const row of section.querySelectorAll('tr[data-interface]')) {
    if (changed[row.dataset.interface] || !state.rates.has(`${labName}/${row.dataset.interface}`)) continue;
    row.querySelector('[data-counter="rx-rate"]').textContent = '0 B/s';
    row.querySelector('[data-counter="tx-rate"]').textContent = '0 B/s';
  }
  if (state.panel?.kind === 'link' && state.panel.lab === labName) refreshPanel(labName);
}

function removeLab(labName) {
  state.labs.delete(labName);
  state.counters.delete(labName);
  state.positions.delete(labName);
  byData('data-lab', labName)?.remove();
  if (state.panel?.lab === labName) closePanel();
  updateEmpty();
}

function updateEmpty() {
  document.getElementById('empty').hidden = state.labs.size > 0;
}

function setStatus(status, text) {
  const badge = document.getElementById('status');
  badge.dataset.status = status;
  badge.textContent = text ?? status;
}

function handle(message) {
  window.nslab.events++;
  switch (message.type) {
    case 'hello':
      state.actions = message.actions;
      for (const name of [...state.labs.keys()]) if (!message.labs.some(l => l.lab === name)) removeLab(name);
      for (const [name, counters] of Object.entries(message.counters ?? {})) state.counters.set(name, counters);
      for (const view of message.labs) renderLab(view);
      showMode();
      updateEmpty();
      window.nslab.ready = true;
      document.body.dataset.ready = 'true';
      break;
    case 'lab': renderLab(message.lab); break;
    case 'lab-removed': removeLab(message.lab); break;
    case 'interface': updateInterface(message.lab, message.node, message.interface); break;
    case 'counters': updateCounters(message.lab, message.counters); break;
  }
}

function connect() {
  const source = new EventSource('/api/events');
  source.onopen = () => setStatus('live');
  source.onerror = () => setStatus('reconnecting', 'reconnecting…');
  source.onmessage = event => handle(JSON.parse(event.data));
}

// ---------------------------------------------------------------- actions and the token

function token() {
  return sessionStorage.getItem('nslab-token') ?? '';
}

function takeTokenFromAddress() {
  const match = location.hash.match(/token=([^&]+)/);
  if (!match) return;
  sessionStorage.setItem('nslab-token', decodeURIComponent(match[1]));
  history.replaceState(null, '', location.pathname + location.search);
}

function showMode() {
  const mode = document.getElementById('mode');
  mode.dataset.mode = state.actions ? 'actions' : 'read-only';
  mode.textContent = state.actions ? 'actions allowed' : 'read-only';
  const field = document.getElementById('token-field');
  field.hidden = !state.actions;
  const input = document.getElementById('token');
  input.value = token();
  input.oninput = () => sessionStorage.setItem('nslab-token', input.value.trim());
}

async function post(path, headers = {}) {
  const response = await fetch(path, { method: 'POST', headers });
  let body = {};
  try { body = await response.json(); } catch { /* not JSON */ }
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
}

async function setLink(labName, end, action, output) {
  output.textContent = `${action === 'down' ? 'taking down' : 'bringing up'} ${end}…`;
  output.className = 'note';
  try {
    const result = await post(`/api/labs/${api(labName)}/links/${api(end)}/${action}`, { Authorization: `Bearer ${token()}` });
    output.textContent = `${result.ends.join(' ↔ ')} ${result.state}`;
  } catch (error) {
    output.textContent = error.message;
    output.className = 'error';
  }
}

// ---------------------------------------------------------------- verify

async function runVerify(labName) {
  const box = byData('data-verify-result', labName);
  const button = byData('data-verify', labName);
  put(box, h('p', { class: 'note' }, 'verifying: every node to every address of every other…'));
  button.disabled = true;
  try {
    const report = await post(`/api/labs/${api(labName)}/verify`);
    put(box, ...verifyView(report));
  } catch (error) {
    put(box, h('p', { class: 'error' }, `verify failed: ${error.message}`));
  } finally {
    button.disabled = false;
  }
}

function verifyView(report) {
  // Big runs list only their failed pairs and count the rest (probes, answered).
  const answered = report.answered ?? report.pairs.filter(p => p.reachable).length;
  const probes = report.probes ?? report.pairs.length;
  const parts = [h('p', { class: `summary ${report.passed ? 'passed' : 'failed'}`, 'data-verify-passed': String(report.passed) },
    `${report.passed ? '✓' : '✗'} ${answered} of ${probes} probes answered`,
    report.expectations.length ? `, ${report.expectations.filter(e => e.holds).length} of ${report.expectations.length} expectations hold` : '',
    ` (${(report.seconds * 1000).toFixed(0)} ms, at ${new Date().toLocaleTimeString()})`)];
  if (report.nodes.length <= 16 && report.allPairsListed !== false) {
    const cells = new Map();
    for (const pair of report.pairs) {
      const key = `${pair.from}>${pair.to}`;
      const cell = cells.get(key) ?? { ok: 0, total: 0, ms: 0, notes: [] };
      cell.total++;
      if (pair.reachable) { cell.ok++; cell.ms = Math.max(cell.ms, pair.milliseconds ?? 0); }
      else cell.notes.push(`${pair.address}: ${pair.explanation ?? pair.outcome}`);
      cells.set(key, cell);
    }
    const table = h('table', { class: 'matrix', 'data-verify-matrix': report.lab },
      h('thead', {}, h('tr', {}, h('th', {}, 'from \\ to'), ...report.nodes.map(n => h('th', {}, n)))),
      h('tbody', {}, report.nodes.map(from => h('tr', {}, h('th', {}, from), ...report.nodes.map(to => {
        if (from === to) return h('td', { class: 'self' }, '·');
        const cell = cells.get(`${from}>${to}`);
        if (!cell) return h('td', { class: 'self' }, '–');
        const ok = cell.ok === cell.total;
        const text = ok ? `✓ ${cell.ms.toFixed(1)}` : cell.ok === 0 ? '✗' : `${cell.ok}/${cell.total}`;
        return h('td', { class: ok ? 'ok' : 'fail', 'data-pair': `${from}>${to}`, title: cell.notes.join('\n') || `slowest ${cell.ms.toFixed(2)} ms` }, text);
      })))));
    parts.push(table);
  }
  if (report.failureGroups?.length) {
    parts.push(h('ul', { class: 'failures' }, report.failureGroups.slice(0, 10).map(g =>
      h('li', {}, `${g.pairs} pair${g.pairs === 1 ? '' : 's'}: ${g.node ?? 'not in the model'}: ${g.cause}${g.direction === 'reply' ? ' (reply direction)' : ''}`))));
  }
  const failures = report.pairs.filter(p => !p.reachable);
  if (failures.length) {
    parts.push(h('ul', { class: 'failures' }, failures.slice(0, 20).map(p =>
      h('li', {}, `${p.from} → ${p.to} (${p.address}): ${p.explanation ?? p.outcome}`))));
  }
  if (report.expectations.length) {
    parts.push(h('ul', { class: 'expectations' }, report.expectations.map(e =>
      h('li', { class: e.holds ? 'holds' : 'fails' }, `${e.holds ? '✓' : '✗'} ${e.expectation} — ${e.detail}`))));
  }
  return parts;
}

// ---------------------------------------------------------------- the side panel

function openPanel(kind, labName, id) {
  state.panel = { kind, lab: labName, id };
  document.getElementById('panel').hidden = false;
  document.body.classList.add('with-panel');
  for (const node of document.querySelectorAll('.node.selected')) node.classList.remove('selected');
  if (kind === 'node') byData('data-node', id, byData('data-lab', labName))?.classList.add('selected');
}

function closePanel() {
  state.panel = null;
  document.getElementById('panel').hidden = true;
  document.body.classList.remove('with-panel');
  for (const node of document.querySelectorAll('.node.selected')) node.classList.remove('selected');
}

function refreshPanel(labName) {
  if (state.panel?.kind === 'link' && state.panel.lab === labName) openLinkPanel(labName, state.panel.id);
}

function table(headers, rows, attributes = {}) {
  return h('table', attributes, h('thead', {}, h('tr', {}, headers.map(t => h('th', {}, t)))),
    h('tbody', {}, rows.map(row => h('tr', {}, row.map(cell => h('td', {}, cell ?? ''))))));
}

async function openNodePanel(labName, nodeName) {
  openPanel('node', labName, nodeName);
  const body = document.getElementById('panel-body');
  put(body, h('h3', {}, nodeName), h('p', { class: 'note' }, 'reading the node from the kernel…'));
  body.dataset.panelNode = `${labName}/${nodeName}`;
  let node;
  try {
    const response = await fetch(`/api/labs/${api(labName)}/nodes/${api(nodeName)}`);
    node = await response.json();
    if (!response.ok) throw new Error(node.error ?? response.statusText);
  } catch (error) {
    put(body, h('h3', {}, nodeName), h('p', { class: 'error' }, error.message));
    return;
  }
  if (state.panel?.kind !== 'node' || state.panel.id !== nodeName) return;
  const forwarding = [node.forwarding?.ipv4 ? 'IPv4' : null, node.forwarding?.ipv6 ? 'IPv6' : null].filter(Boolean);
  // The kernel read covers this node alone; the other end of each link comes from the live view.
  const live = state.labs.get(labName)?.nodes.find(n => n.name === nodeName);
  const peerOf = i => i.peer ? `${i.peer.node}:${i.peer.interface}` : live?.interfaces.find(l => l.name === i.name)?.peer;
  put(body, 
    h('h3', {}, nodeName, ' ', h('span', { class: 'note' }, `${node.kind ?? 'host'} in lab ${labName}${live?.host ? ` on host ${live.host}` : ''}`)),
    h('p', { class: 'note' }, `namespace ${node.namespace}; forwarding ${forwarding.length ? forwarding.join(', ') : 'off'}; read at ${new Date().toLocaleTimeString()} `,
      h('button', { type: 'button', onclick: () => openNodePanel(labName, nodeName) }, 'read again')),
    node.present ? null : h('p', { class: 'error' }, 'its namespace is gone'),
    node.stopped ? h('p', { class: 'error' }, `stopped: nslab node ${labName} ${nodeName} start`) : null,
    h('h4', {}, 'interfaces'),
    table(['name', 'state', 'addresses', 'peer'], (node.interfaces ?? []).map(i => [
      i.name, `${i.state}${i.up ? '' : ' (down)'}${i.carrier || !i.kind ? '' : ' no carrier'}`,
      i.addresses.join('\n'), peerOf(i) ?? (i.master ? `port of ${i.master}` : '')]),
      { 'data-panel': 'interfaces' }),
    h('h4', {}, 'routes'),
    table(['destination', 'via', 'device', 'protocol'], (node.routes ?? []).filter(r => r.type !== 'local').map(r => [
      r.destination + (r.type ? ` (${r.type})` : ''), r.gateway, r.device, r.protocol]), { 'data-panel': 'routes' }),
    h('h4', {}, 'neighbours'),
    (node.neighbours ?? []).length
      ? table(['address', 'mac', 'state', 'device'], node.neighbours.map(n => [n.address, n.mac, n.state, n.interface]), { 'data-panel': 'neighbours' })
      : h('p', { class: 'note', 'data-panel': 'neighbours' }, 'no neighbour entries (nothing has been sent yet)'));
}

function openLinkPanel(labName, linkId) {
  const view = state.labs.get(labName);
  const link = view?.links.find(l => l.id === linkId);
  if (!link) return closePanel();
  const reopening = state.panel?.kind === 'link' && state.panel.id === linkId;
  openPanel('link', labName, linkId);
  const body = document.getElementById('panel-body');
  const previousOutput = reopening ? body.querySelector('.action-output') : null;
  const status = linkStatus(view, link);
  const counters = state.counters.get(labName) ?? {};
  const output = previousOutput ?? h('span', { class: 'action-output note' });
  const actionRow = state.actions
    ? h('div', { class: 'actions' },
        h('button', { type: 'button', 'data-action': 'down', onclick: () => setLink(labName, link.ends[0], 'down', output) }, 'take down'),
        h('button', { type: 'button', 'data-action': 'up', onclick: () => setLink(labName, link.ends[0], 'up', output) }, 'bring up'),
        output)
    : h('p', { class: 'note' }, 'read-only: start ', h('code', {}, 'nslab serve --allow-actions'), ' to take links down and up from here, or use ',
        h('code', {}, `nslab link ${labName} ${link.ends[0]} down`), '.');
  body.dataset.panelNode = '';
  put(body, 
    h('h3', {}, link.ends.join(' ↔ ')),
    h('p', {}, h('span', { class: `state-badge${status.down ? ' down' : ''}` }, status.down ? 'down' : 'up'),
      status.impairments.length ? ` impaired: ${status.impairments.join('; ')}` : ''),
    table(['end', 'state', 'addresses', 'rx', 'tx'], link.ends.map((end, k) => {
      const i = status.ends[k];
      const c = counters[end];
      return [end, i ? `${i.state}${i.up ? '' : ' (down)'}` : 'gone', globalAddresses(i).join('\n'),
              c ? `${bytes(c.receivedBytes)}, ${count(c.receivedPackets)} pkts` : '–',
              c ? `${bytes(c.sentBytes)}, ${count(c.sentPackets)} pkts` : '–'];
    }), { 'data-panel': 'link' }),
    actionRow);
}

// ---------------------------------------------------------------- start

document.getElementById('panel-close').addEventListener('click', closePanel);
document.addEventListener('keydown', event => { if (event.key === 'Escape') closePanel(); });
takeTokenFromAddress();
connect();
