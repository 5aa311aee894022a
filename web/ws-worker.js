// Tessera's network worker (a module Web Worker).
//
// It owns the WebSocket: connects and reconnects, parses every frame, fetches and decodes tile
// PNGs into ImageBitmaps, decodes inline results, formats log lines, and hands the page one
// batch per animation frame (ImageBitmaps transferred, not copied). The page only applies
// batches, so hundreds of tiles streaming in never queue work on the main thread.
//
// Page → worker: {cmd:'connect', url, token} · {cmd:'send', msg} · {cmd:'watch', job_id, preview}
//                {cmd:'unwatch'}
// Worker → page: {kind:'conn', state, attempt?, retry_ms?, reason?}
//                {kind:'batch', hello?, jobs[], progress[], tiles[], preview?, results[], errors[], logs[]}

const MAX_TILE_FETCHES = 6;
const MAX_OUTBOX = 200;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10_000;

let url = '';
let token = '';
let ws = null;
let attempt = 0;
let reconnectTimer = 0;
const outbox = [];
const subscriptions = new Set();

// The job whose tiles are wanted and what has been fetched for it.
let watched = null; // { id, seen: Set<number>, previewPending: boolean, held: [] , gen }
let watchGen = 0;
const tileQueue = [];
let tileFetches = 0;
const RECENT_JOBS = 8;
const RECENT_TILES_PER_JOB = 16_384;
const recentTiles = new Map(); // job id → tile messages seen while that job was not watched

// The batch being assembled for the next frame.
let batch = newBatch();
let flushScheduled = false;
const lastProgressLog = new Map();
let tileCount = 0;
let lastTileLog = 0;

function newBatch() {
  return { kind: 'batch', hello: null, jobs: [], progress: {}, tiles: [], preview: null, results: [], errors: [], logs: [] };
}

function authHeaders() {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// ---------------------------------------------------------------------------------------------
// batching

function scheduleFlush() {
  if (flushScheduled) return;
  flushScheduled = true;
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    flush();
  };
  // A worker's requestAnimationFrame follows the page's frames; the timeout covers a hidden page.
  if (typeof self.requestAnimationFrame === 'function') self.requestAnimationFrame(run);
  setTimeout(run, 100);
}

function flush() {
  flushScheduled = false;
  const b = batch;
  batch = newBatch();
  const progress = Object.values(b.progress);
  const empty = !b.hello && !b.jobs.length && !progress.length && !b.tiles.length && !b.preview &&
    !b.results.length && !b.errors.length && !b.logs.length;
  if (empty) return;
  if (b.tiles.length) {
    tileCount += b.tiles.length;
    const now = Date.now();
    if (now - lastTileLog > 1000) {
      b.logs.push({ t: now, level: 'info', text: `+${tileCount} tile${tileCount === 1 ? '' : 's'} of job ${short(b.tiles[0].job_id)} drawn` });
      tileCount = 0;
      lastTileLog = now;
    }
  }
  const transfer = b.tiles.map((t) => t.bitmap);
  if (b.preview) transfer.push(b.preview.bitmap);
  self.postMessage({ ...b, progress }, transfer);
}

function log(text, level = 'info') {
  batch.logs.push({ t: Date.now(), level, text });
  scheduleFlush();
}

const short = (id) => (id ? String(id).slice(-8) : '?'); // the random tail of a time-ordered id

// ---------------------------------------------------------------------------------------------
// connection

function postConn(state, extra = {}) {
  self.postMessage({ kind: 'conn', state, ...extra });
}

function connect() {
  clearTimeout(reconnectTimer);
  if (ws) {
    ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
    try { ws.close(); } catch { /* already closed */ }
  }
  postConn('connecting', { attempt });
  let sock;
  try {
    sock = new WebSocket(url);
  } catch (e) {
    scheduleReconnect(String(e && e.message || e));
    return;
  }
  ws = sock;
  sock.onopen = () => {
    attempt = 0;
    postConn('open');
    for (const id of subscriptions) sock.send(JSON.stringify({ action: 'subscribe', job_id: id }));
    while (outbox.length) sock.send(outbox.shift());
  };
  sock.onmessage = (ev) => {
    if (typeof ev.data !== 'string') return;
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      log(`unreadable frame from server (${ev.data.length} bytes)`, 'warn');
      return;
    }
    handle(msg);
  };
  sock.onclose = (ev) => {
    if (ws !== sock) return;
    ws = null;
    scheduleReconnect(ev.reason || (ev.code === 1006 ? 'connection lost' : `closed (${ev.code})`));
  };
  sock.onerror = () => { /* onclose follows with the details */ };
}

function scheduleReconnect(reason) {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempt);
  const delay = Math.round(base * (0.75 + Math.random() * 0.5));
  attempt++;
  postConn('closed', { reason, retry_ms: delay, attempt });
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(connect, delay);
}

function send(msg) {
  if (msg && msg.action === 'subscribe' && msg.job_id) subscriptions.add(String(msg.job_id));
  const text = JSON.stringify(msg);
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(text);
  } else if (msg.action !== 'subscribe') {
    // Subscriptions are replayed on open; other requests wait for the connection.
    if (outbox.length >= MAX_OUTBOX) outbox.shift();
    outbox.push(text);
    log(`not connected: "${msg.action}" will be sent on reconnect`, 'warn');
  }
}

// ---------------------------------------------------------------------------------------------
// messages

function handle(msg) {
  switch (msg && msg.type) {
    case 'hello':
      batch.hello = { version: msg.version, workers: msg.workers };
      log(`connected to tessera ${msg.version ?? '?'} · ${plural(msg.workers, 'worker')}`, 'ok');
      break;
    case 'job':
      batch.jobs.push({ job_id: msg.job_id, kind: msg.kind, status: msg.status, error: msg.error ?? null });
      log(`job ${short(msg.job_id)} (${msg.kind ?? '?'}) ${msg.status}${msg.error ? `: ${msg.error}` : ''}`,
        msg.status === 'error' ? 'error' : msg.status === 'done' ? 'ok' : msg.status === 'cancelled' ? 'warn' : 'info');
      break;
    case 'progress': {
      batch.progress[msg.job_id] = {
        job_id: msg.job_id, percent: msg.percent, done: msg.done, total: msg.total, message: msg.message,
      };
      const now = Date.now();
      const last = lastProgressLog.get(msg.job_id) ?? 0;
      if (now - last > 1000 || msg.done === msg.total) {
        lastProgressLog.set(msg.job_id, now);
        log(`job ${short(msg.job_id)} ${msg.message ?? ''} (${fmtPct(msg.percent)} %)`);
      }
      break;
    }
    case 'tile':
      onTile(msg);
      return; // logged as a count, not one line per tile
    case 'result':
      onResult(msg);
      break;
    case 'error':
      batch.errors.push({ message: String(msg.message ?? 'error'), job_id: msg.job_id ?? null });
      log(`server: ${msg.message}${msg.job_id ? ` (job ${short(msg.job_id)})` : ''}`, 'error');
      break;
    default:
      // Other types (worker metrics, ...) are for other pages; ignore them quietly.
      return;
  }
  scheduleFlush();
}

function onResult(msg) {
  const r = { job_id: msg.job_id, filename: msg.filename, mime: msg.mime, url: msg.url, blob: null };
  if (typeof msg.data_base64 === 'string' && msg.data_base64.length) {
    try {
      r.blob = new Blob([base64ToBytes(msg.data_base64)], { type: msg.mime || 'application/octet-stream' });
    } catch {
      log(`result of job ${short(msg.job_id)}: inline data unreadable, using the download URL`, 'warn');
    }
  }
  batch.results.push(r);
  log(`result of job ${short(msg.job_id)}: ${msg.filename}${r.blob ? ` (${fmtBytes(r.blob.size)})` : ''}`, 'ok');
}

function onTile(msg) {
  if (!watched || String(msg.job_id) !== watched.id) {
    // Keep the (small) messages of other jobs for a while: a job submitted over REST can finish
    // tiles before the page has its id and asks to watch it.
    const id = String(msg.job_id);
    let list = recentTiles.get(id);
    if (!list) {
      if (recentTiles.size >= RECENT_JOBS) recentTiles.delete(recentTiles.keys().next().value);
      recentTiles.set(id, (list = []));
    }
    if (list.length < RECENT_TILES_PER_JOB) list.push(msg);
    return;
  }
  const index = Number(msg.index);
  if (watched.seen.has(index)) return;
  watched.seen.add(index);
  tileQueue.push({ gen: watched.gen, msg });
  pumpTiles();
}

function pumpTiles() {
  while (tileFetches < MAX_TILE_FETCHES && tileQueue.length) {
    const item = tileQueue.shift();
    if (!watched || item.gen !== watched.gen) continue;
    tileFetches++;
    loadTile(item).finally(() => {
      tileFetches--;
      pumpTiles();
    });
  }
}

async function loadTile({ gen, msg }) {
  try {
    const blob = msg.data_base64
      ? new Blob([base64ToBytes(msg.data_base64)], { type: 'image/png' })
      : await fetchBlob(msg.url);
    const bitmap = await decode(blob);
    if (!watched || watched.gen !== gen) {
      bitmap.close();
      return;
    }
    const tile = {
      job_id: msg.job_id, index: msg.index, rect: msg.rect, width: msg.width, height: msg.height, bitmap,
    };
    if (watched.previewPending) watched.held.push(tile);
    else batch.tiles.push(tile);
    scheduleFlush();
  } catch (e) {
    if (watched && watched.gen === gen) {
      watched.seen.delete(Number(msg.index));
      log(`tile ${msg.index} of job ${short(msg.job_id)}: ${e.message || e}`, 'warn');
    }
  }
}

async function fetchBlob(path) {
  const res = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.blob();
}

function decode(blob) {
  // The PNGs are already 8-bit sRGB: keep their bytes exactly as they are.
  return createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
}

function watch(jobId, wantPreview) {
  for (const t of watched ? watched.held : []) t.bitmap.close();
  tileQueue.length = 0;
  if (!jobId) {
    if (watched) subscriptions.delete(watched.id);
    watched = null;
    return;
  }
  const id = String(jobId);
  if (watched && watched.id !== id) subscriptions.delete(watched.id);
  watched = { id, gen: ++watchGen, seen: new Set(), previewPending: !!wantPreview, held: [] };
  send({ action: 'subscribe', job_id: id });
  const early = recentTiles.get(id) || [];
  recentTiles.delete(id);
  for (const msg of early) onTile(msg);
  if (!wantPreview) return;
  const w = watched;
  fetchBlob(`/api/jobs/${encodeURIComponent(id)}/preview`)
    .then(decode)
    .then((bitmap) => {
      if (watched !== w) return bitmap.close();
      batch.preview = { job_id: id, bitmap };
    })
    .catch(() => { /* no preview yet: tiles will fill the canvas */ })
    .finally(() => {
      if (watched !== w) return;
      w.previewPending = false;
      batch.tiles.push(...w.held);
      w.held = [];
      scheduleFlush();
    });
}

// ---------------------------------------------------------------------------------------------
// helpers

function base64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
const plural = (n, w) => `${n ?? '?'} ${w}${n === 1 ? '' : 's'}`;
const fmtPct = (p) => (Number.isFinite(p) ? String(Math.round(p * 10) / 10) : '?');
function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

self.onmessage = (ev) => {
  const m = ev.data || {};
  switch (m.cmd) {
    case 'connect':
      url = m.url;
      token = m.token || '';
      attempt = 0;
      connect();
      break;
    case 'send':
      send(m.msg);
      break;
    case 'watch':
      watch(m.job_id, m.preview);
      break;
    case 'unwatch':
      watch(null, false);
      break;
    case 'reconnect':
      attempt = 0;
      connect();
      break;
  }
};
