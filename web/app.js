// Tessera's web app: the main thread.
//
// The WebSocket lives in ws-worker.js. This file owns the DOM: it sends requests (REST for
// things that answer, the worker for WebSocket actions), applies the worker's per-frame batches
// to its state, draws the tiles the worker decoded, and re-renders what changed once per frame.

import { parseWithLocations, findRange, lineColumn } from './lib/jsonloc.js';
import { FALLBACK_SCENE } from './lib/fallback-scene.js';

const params = new URLSearchParams(location.search);
const TOKEN = params.get('token') || '';
const ACTIVE = new Set(['queued', 'running']);
const MAX_LOG = 500;
const MAX_JOBS = 200;

const $ = (id) => document.getElementById(id);
const el = {
  conn: document.querySelector('[data-testid="connection"]'),
  connText: document.querySelector('[data-testid="connection-text"]'),
  serverInfo: document.querySelector('[data-testid="server-info"]'),
  zipBtn: $('zip-btn'),
  editor: $('scene-editor'),
  gutter: $('gutter'),
  gutterMark: $('gutter-mark'),
  editorErr: $('editor-error'),
  editorPos: $('editor-pos'),
  tileSize: $('tile-size'),
  tileSizeErr: $('tile-size-err'),
  format: $('format'),
  formatErr: $('format-err'),
  name: $('job-name'),
  nameErr: $('name-err'),
  form: $('submit-form'),
  submitBtn: $('submit-btn'),
  summary: $('scene-summary'),
  formatBtn: $('format-btn'),
  resetBtn: $('reset-btn'),
  canvas: $('canvas'),
  stageEmpty: $('stage-empty'),
  viewerJob: $('viewer-job'),
  viewerStatus: $('viewer-status'),
  viewerDownload: $('viewer-download'),
  viewerCancel: $('viewer-cancel'),
  progress: $('progress'),
  progressText: $('progress-text'),
  progressLive: $('progress-live'),
  jobsBody: $('jobs-body'),
  jobsEmpty: $('jobs-empty'),
  jobsCount: $('jobs-count'),
  refreshBtn: $('refresh-btn'),
  log: $('log'),
  clearLog: $('clear-log'),
};
const ctx = el.canvas.getContext('2d');

const state = {
  conn: 'connecting',
  everOpen: false,
  hello: null,
  status: null,
  jobs: new Map(), // id → job record (REST shape)
  rows: new Map(), // id → <tr>
  dirty: new Set(), // job ids whose row needs re-rendering
  reorder: true,
  watched: null, // job id shown in the viewer
  canvasJob: null,
  tilesDrawn: 0,
  lastAnnounced: '',
  zip: { awaiting: false, jobId: null, timer: 0 },
  defaultSceneText: '',
  editorErrorLine: 0,
};

// ---------------------------------------------------------------------------------------------
// HTTP

function authHeaders(extra = {}) {
  return TOKEN ? { ...extra, Authorization: `Bearer ${TOKEN}` } : extra;
}

/** fetch + JSON. Resolves to {ok, status, data}; network failures resolve with status 0. */
async function api(path, { method = 'GET', json } = {}) {
  const init = { method, headers: authHeaders(json !== undefined ? { 'Content-Type': 'application/json' } : {}) };
  if (json !== undefined) init.body = JSON.stringify(json);
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, data: { error: `cannot reach the server (${e.message})`, field: null } };
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.slice(0, 300) };
    }
  }
  return { ok: res.ok, status: res.status, data };
}

// ---------------------------------------------------------------------------------------------
// worker

const worker = new Worker(new URL('./ws-worker.js', import.meta.url), { type: 'module', name: 'tessera-ws' });
worker.onmessage = (ev) => {
  const m = ev.data;
  if (m.kind === 'conn') onConn(m);
  else if (m.kind === 'batch') applyBatch(m);
};
worker.onerror = (e) => addLog(`network worker failed: ${e.message || 'unknown error'}`, 'error');

function wsUrl() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : '';
  return `${proto}//${location.host}/ws${q}`;
}

const wsSend = (msg) => worker.postMessage({ cmd: 'send', msg });

function onConn(m) {
  const wasOpen = state.conn === 'open';
  state.conn = m.state;
  el.conn.dataset.state = m.state;
  if (m.state === 'open') {
    el.connText.textContent = 'Connected';
    if (state.everOpen) {
      addLog('reconnected', 'ok');
      refreshJobs();
      if (state.watched) {
        el.canvas.dataset.preview = 'requested';
        worker.postMessage({ cmd: 'watch', job_id: state.watched, preview: true });
      }
    }
    state.everOpen = true;
    refreshStatus();
  } else if (m.state === 'closed') {
    const secs = Math.max(1, Math.round((m.retry_ms || 0) / 1000));
    el.connText.textContent = `Disconnected — retrying in ${secs} s`;
    if (wasOpen) addLog(`disconnected: ${m.reason || 'connection closed'}`, 'warn');
  } else {
    el.connText.textContent = m.attempt ? `Reconnecting (attempt ${m.attempt})…` : 'Connecting…';
  }
}

function applyBatch(b) {
  if (b.hello) {
    state.hello = b.hello;
    renderServerInfo();
  }
  for (const j of b.jobs) {
    const known = state.jobs.has(j.job_id);
    const prev = state.jobs.get(j.job_id);
    upsertJob({ id: j.job_id, kind: j.kind, status: j.status, error: j.error });
    if (!known || (j.status === 'done' && !(prev && prev.output))) fetchJob(j.job_id);
    if (state.zip.awaiting && j.kind === 'zip' && !state.zip.jobId && !known) state.zip.jobId = j.job_id;
    if (j.job_id === state.zip.jobId && (j.status === 'error' || j.status === 'cancelled')) {
      finishZip(`ZIP failed: ${j.error || j.status}`);
    }
  }
  for (const p of b.progress) {
    const patch = { id: p.job_id, tasks_done: p.done, tasks_total: p.total, percent: p.percent };
    const cur = state.jobs.get(p.job_id);
    if (cur && cur.status === 'queued' && p.done > 0) patch.status = 'running';
    upsertJob(patch);
  }
  checkComplete();
  if (b.preview && b.preview.job_id === state.canvasJob) {
    const bm = b.preview.bitmap;
    if (el.canvas.width !== bm.width || el.canvas.height !== bm.height) sizeCanvas(bm.width, bm.height);
    ctx.clearRect(0, 0, el.canvas.width, el.canvas.height);
    ctx.drawImage(bm, 0, 0);
    el.canvas.dataset.preview = 'drawn';
    el.stageEmpty.hidden = true;
  }
  if (b.preview) b.preview.bitmap.close();
  for (const t of b.tiles) {
    if (t.job_id === state.canvasJob) {
      if (t.width && t.height && (el.canvas.width !== t.width || el.canvas.height !== t.height)) {
        sizeCanvas(t.width, t.height);
      }
      ctx.drawImage(t.bitmap, t.rect.x, t.rect.y);
      state.tilesDrawn++;
      el.stageEmpty.hidden = true;
    }
    t.bitmap.close();
  }
  if (b.tiles.length) el.canvas.dataset.tilesDrawn = String(state.tilesDrawn);
  for (const r of b.results) {
    const cur = state.jobs.get(r.job_id) || {};
    upsertJob({
      id: r.job_id,
      status: 'done',
      result_url: r.url || cur.result_url,
      output: { ...(cur.output || {}), filename: r.filename, mime: r.mime },
    });
    const zipMatch = state.zip.awaiting &&
      (r.job_id === state.zip.jobId || (!state.zip.jobId && /\.zip$/i.test(r.filename || '')));
    if (zipMatch) {
      download({ url: r.url, filename: r.filename, blob: r.blob });
      finishZip(`ZIP ready: ${r.filename}`);
    }
  }
  for (const e of b.errors) {
    if (state.zip.awaiting && (!e.job_id || e.job_id === state.zip.jobId)) finishZip(`ZIP failed: ${e.message}`);
    if (e.job_id && state.jobs.has(e.job_id)) upsertJob({ id: e.job_id, error: e.message });
  }
  if (b.logs.length) addLogs(b.logs);
}

// ---------------------------------------------------------------------------------------------
// jobs

function upsertJob(patch) {
  const id = String(patch.id);
  const cur = state.jobs.get(id);
  const next = { ...(cur || { id, kind: patch.kind || 'render', status: 'queued', created_ms: Date.now() }) };
  for (const [k, v] of Object.entries(patch)) if (v !== undefined) next[k] = v;
  if (next.status === 'done' && next.tasks_total) {
    next.tasks_done = next.tasks_total;
    next.percent = 100;
  }
  state.jobs.set(id, next);
  state.dirty.add(id);
  if (!cur) state.reorder = true;
  scheduleRender();
  return next;
}

const fetching = new Set();
async function fetchJob(id) {
  if (fetching.has(id)) return;
  fetching.add(id);
  const r = await api(`/api/jobs/${encodeURIComponent(id)}`);
  fetching.delete(id);
  if (r.ok && r.data) {
    const job = r.data.job || r.data;
    if (job && job.id) {
      upsertJob(job);
      if (id === state.watched) syncCanvasToJob(state.jobs.get(id));
    }
  }
}

async function refreshJobs() {
  const r = await api('/api/jobs?limit=50');
  if (!r.ok || !r.data || !Array.isArray(r.data.jobs)) {
    if (r.status !== 0) addLog(`could not list jobs: ${errorText(r)}`, 'warn');
    return;
  }
  for (const job of r.data.jobs) upsertJob(job);
}

async function refreshStatus() {
  const r = await api('/api/status');
  if (r.ok && r.data) {
    state.status = r.data;
    renderServerInfo();
  }
}

async function cancelJob(id) {
  addLog(`cancelling job ${short(id)}…`);
  const r = await api(`/api/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  if (r.ok) {
    const job = r.data && (r.data.job || (r.data.id ? r.data : null));
    if (job) upsertJob(job);
  } else if (r.status === 0 || r.status === 404 || r.status === 405) {
    wsSend({ action: 'cancel', job_id: id });
  } else {
    addLog(`cancel failed: ${errorText(r)}`, 'error');
  }
}

// ---------------------------------------------------------------------------------------------
// viewer

function sizeCanvas(w, h) {
  el.canvas.width = w;
  el.canvas.height = h;
  el.canvas.classList.toggle('small', w < 320);
  // Small images are shown bigger so tiles are visible; large ones fit the card.
  el.canvas.style.width = w < 480 ? `${Math.min(480, w * Math.floor(480 / w))}px` : '';
}

function syncCanvasToJob(job) {
  if (!job || job.id !== state.canvasJob) return;
  if (job.width && job.height && (el.canvas.width !== job.width || el.canvas.height !== job.height)) {
    sizeCanvas(job.width, job.height);
  }
}

/** Shows a job in the viewer. `fresh`: just submitted, so no preview is worth fetching. */
function view(id, { fresh = false, width, height } = {}) {
  const job = state.jobs.get(id);
  state.watched = id;
  state.canvasJob = id;
  state.tilesDrawn = 0;
  state.lastAnnounced = '';
  clearTimeout(completeTimer);
  completeTimer = 0;
  el.canvas.dataset.jobId = id;
  el.canvas.dataset.tilesDrawn = '0';
  delete el.canvas.dataset.preview;
  const w = (job && job.width) || width;
  const h = (job && job.height) || height;
  if (w && h) sizeCanvas(w, h);
  ctx.clearRect(0, 0, el.canvas.width, el.canvas.height);
  const isImage = !job || job.kind === 'render' || job.width;
  el.stageEmpty.hidden = false;
  el.stageEmpty.textContent = isImage ? 'Waiting for the first tile…' : `A ${job.kind} job has no image preview.`;
  el.canvas.setAttribute('aria-label', `Render preview of job ${job && job.name ? job.name : short(id)}`);
  if (isImage) {
    const preview = !fresh && !!(job && (job.tasks_done > 0 || job.status === 'done'));
    if (preview) el.canvas.dataset.preview = 'requested';
    worker.postMessage({ cmd: 'watch', job_id: id, preview });
  } else {
    worker.postMessage({ cmd: 'unwatch' });
  }
  if (!job || !job.width) fetchJob(id);
  for (const tr of state.rows.values()) {
    if (tr.dataset.jobId === id) tr.setAttribute('aria-current', 'true');
    else tr.removeAttribute('aria-current');
  }
  scheduleRender();
}

/**
 * A safety net: if the watched job is done but some of its tiles never reached the canvas (say
 * the connection dropped while they streamed), draw the server's preview of the whole image.
 */
let completeTimer = 0;
function checkComplete() {
  const job = state.watched && state.jobs.get(state.watched);
  if (!job || job.status !== 'done' || !job.tasks_total || completeTimer) return;
  // A preview asked for (or drawn) already covers the whole image.
  if (state.tilesDrawn >= job.tasks_total || el.canvas.dataset.preview) return;
  const id = job.id;
  completeTimer = setTimeout(() => {
    completeTimer = 0;
    const j = state.jobs.get(id);
    if (state.watched !== id || !j || state.tilesDrawn >= j.tasks_total || el.canvas.dataset.preview) return;
    addLog(`job ${short(id)}: ${j.tasks_total - state.tilesDrawn} tiles missing, loading the full preview`, 'warn');
    el.canvas.dataset.preview = 'requested';
    worker.postMessage({ cmd: 'watch', job_id: id, preview: true });
  }, 2000);
}

// ---------------------------------------------------------------------------------------------
// rendering (once per frame)

let renderScheduled = false;
function scheduleRender() {
  if (renderScheduled) return;
  renderScheduled = true;
  requestAnimationFrame(() => {
    renderScheduled = false;
    renderJobs();
    renderViewer();
  });
}

function renderServerInfo() {
  const parts = [];
  const version = (state.hello && state.hello.version) || (state.status && state.status.version);
  const workers = state.status && Number.isFinite(state.status.workers) ? state.status.workers : state.hello && state.hello.workers;
  if (version) parts.push(`<span data-testid="server-version">v${esc(version)}</span>`);
  if (workers !== undefined && workers !== null) parts.push(`<span data-testid="server-workers">${esc(plural(workers, 'worker'))}</span>`);
  if (state.status && Number.isFinite(state.status.queue_depth)) parts.push(`queue ${state.status.queue_depth}`);
  el.serverInfo.innerHTML = parts.join(' · ');
}

function sortedJobs() {
  return [...state.jobs.values()].sort((a, b) => (b.created_ms || 0) - (a.created_ms || 0) || String(b.id).localeCompare(String(a.id)));
}

function renderJobs() {
  if (state.reorder) {
    state.reorder = false;
    const list = sortedJobs();
    for (const old of list.slice(MAX_JOBS)) {
      if (old.id === state.watched) continue;
      state.jobs.delete(old.id);
      state.rows.get(old.id)?.remove();
      state.rows.delete(old.id);
    }
    const frag = document.createDocumentFragment();
    for (const job of list.slice(0, MAX_JOBS)) {
      let tr = state.rows.get(job.id);
      if (!tr) {
        tr = makeRow(job.id);
        state.rows.set(job.id, tr);
        state.dirty.add(job.id);
      }
      frag.appendChild(tr);
    }
    el.jobsBody.appendChild(frag);
    el.jobsEmpty.hidden = state.jobs.size > 0;
    const active = list.filter((j) => ACTIVE.has(j.status)).length;
    setText(el.jobsCount, `${plural(state.jobs.size, 'job')}${active ? `, ${active} active` : ''}`);
  } else if (state.dirty.size) {
    const active = [...state.jobs.values()].filter((j) => ACTIVE.has(j.status)).length;
    setText(el.jobsCount, `${plural(state.jobs.size, 'job')}${active ? `, ${active} active` : ''}`);
  }
  for (const id of state.dirty) {
    const job = state.jobs.get(id);
    const tr = state.rows.get(id);
    if (job && tr) fillRow(tr, job);
  }
  state.dirty.clear();
}

function makeRow(id) {
  const tr = document.createElement('tr');
  tr.className = 'job';
  tr.tabIndex = 0;
  tr.setAttribute('data-testid', 'job-row');
  tr.dataset.jobId = id;
  tr.innerHTML = `
    <td><div class="job-name"></div><div class="job-id"></div><div class="job-err" hidden></div></td>
    <td><span class="badge" data-testid="job-status"></span></td>
    <td><div class="mini"><div class="bar"><span></span></div><span class="txt" data-testid="job-progress"></span></div></td>
    <td class="muted created"></td>
    <td class="actions">
      <button type="button" class="btn small danger" data-testid="job-cancel" hidden>Cancel</button>
      <a class="btn small" data-testid="job-download" hidden>Download</a>
    </td>`;
  tr.querySelector('[data-testid="job-cancel"]').addEventListener('click', (ev) => {
    ev.stopPropagation();
    cancelJob(id);
  });
  tr.querySelector('[data-testid="job-download"]').addEventListener('click', (ev) => {
    ev.stopPropagation();
    if (TOKEN) {
      ev.preventDefault();
      const job = state.jobs.get(id);
      download({ url: ev.currentTarget.getAttribute('href'), filename: job && job.output && job.output.filename });
    }
  });
  tr.addEventListener('click', () => view(id));
  tr.addEventListener('keydown', (ev) => {
    if ((ev.key === 'Enter' || ev.key === ' ') && ev.target === tr) {
      ev.preventDefault();
      view(id);
    }
  });
  if (id === state.watched) tr.setAttribute('aria-current', 'true');
  return tr;
}

function jobLabel(job) {
  return job.name || (job.kind === 'zip' ? 'ZIP of renders' : job.kind === 'render' && job.width ? `render ${job.width}×${job.height}` : `${job.kind} job`);
}

function progressOf(job) {
  const total = Number(job.tasks_total) || 0;
  const done = Number(job.tasks_done) || 0;
  let pct = Number.isFinite(job.percent) ? job.percent : total ? (100 * done) / total : 0;
  if (job.status === 'done') pct = 100;
  return { done, total, pct };
}

/** Sets text / attributes only when they change, so unchanged rows cost no style work. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
function setAttr(node, name, value) {
  if (value === null) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== value) {
    node.setAttribute(name, value);
  }
}
function setHidden(node, hidden) {
  if (node.hidden !== hidden) node.hidden = hidden;
}

function fillRow(tr, job) {
  const c = tr._cells || (tr._cells = {
    name: tr.querySelector('.job-name'),
    id: tr.querySelector('.job-id'),
    err: tr.querySelector('.job-err'),
    badge: tr.querySelector('.badge'),
    bar: tr.querySelector('.bar > span'),
    txt: tr.querySelector('.txt'),
    created: tr.querySelector('.created'),
    cancel: tr.querySelector('[data-testid="job-cancel"]'),
    dl: tr.querySelector('[data-testid="job-download"]'),
  });
  const label = jobLabel(job);
  setAttr(tr, 'data-status', job.status);
  setText(c.name, label);
  setText(c.id, `${job.kind} · ${short(job.id)}`);
  setHidden(c.err, !job.error);
  setText(c.err, job.error || '');
  setAttr(c.badge, 'data-status', job.status);
  setText(c.badge, job.status);
  const { done, total, pct } = progressOf(job);
  const width = `${pct}%`;
  if (c.bar.style.width !== width) c.bar.style.width = width;
  setAttr(c.bar, 'data-status', job.status);
  setText(c.txt, total ? `${done}/${total} · ${fmtPct(pct)} %` : job.status === 'done' ? '100 %' : '—');
  setText(c.created, fmtTime(job.created_ms));
  setHidden(c.cancel, !ACTIVE.has(job.status));
  setAttr(c.cancel, 'aria-label', `Cancel ${label}`);
  const url = resultUrl(job);
  setHidden(c.dl, job.status !== 'done' || !url);
  setAttr(c.dl, 'href', url || null);
  const filename = job.output && job.output.filename;
  setAttr(c.dl, 'download', filename || '');
  setAttr(c.dl, 'aria-label', `Download ${filename || label}`);
  setAttr(c.dl, 'title', job.output && job.output.size ? `${filename} · ${fmtBytes(job.output.size)}` : null);
}

function resultUrl(job) {
  if (job.result_url) return job.result_url;
  if (job.status === 'done') return `/api/jobs/${encodeURIComponent(job.id)}/result`;
  return '';
}

function renderViewer() {
  const job = state.watched ? state.jobs.get(state.watched) : null;
  if (!job) {
    el.viewerStatus.hidden = true;
    el.viewerDownload.hidden = true;
    el.viewerCancel.hidden = true;
    return;
  }
  setText(el.viewerJob, `— ${jobLabel(job)}`);
  setHidden(el.viewerStatus, false);
  setAttr(el.viewerStatus, 'data-status', job.status);
  setText(el.viewerStatus, job.status);
  setHidden(el.viewerCancel, !ACTIVE.has(job.status));
  const url = resultUrl(job);
  setHidden(el.viewerDownload, job.status !== 'done' || !url);
  setAttr(el.viewerDownload, 'href', url || null);
  setAttr(el.viewerDownload, 'download', (job.output && job.output.filename) || '');
  const { done, total, pct } = progressOf(job);
  const unit = job.kind === 'render' ? 'tiles' : 'tasks';
  const max = total || 1;
  const value = total ? done : job.status === 'done' ? 1 : 0;
  if (el.progress.max !== max) el.progress.max = max;
  if (el.progress.value !== value) el.progress.value = value;
  setAttr(el.progress, 'data-status', job.status);
  setAttr(el.progress, 'aria-valuetext', `${done} of ${total} ${unit}, ${fmtPct(pct)} percent`);
  const text = total ? `${done} / ${total} ${unit} · ${fmtPct(pct)} %` : `${job.status}`;
  setText(el.progressText, job.status === 'error' || job.status === 'cancelled' ? `${text} · ${job.status}` : text);
  setAttr(el.progressText, 'data-done', String(done));
  setAttr(el.progressText, 'data-total', String(total));
  setAttr(el.progressText, 'data-percent', String(pct));
  // The live region speaks at state changes and every quarter, not at every tile.
  const quarter = Math.floor(pct / 25);
  const announce = `${jobLabel(job)}: ${job.status}${total ? `, ${done} of ${total} ${unit}` : ''}`;
  const key = `${job.id}|${job.status}|${quarter}`;
  if (key !== state.lastAnnounced) {
    state.lastAnnounced = key;
    el.progressLive.textContent = announce + (job.error ? `: ${job.error}` : '');
  }
}

// ---------------------------------------------------------------------------------------------
// downloads and ZIP

async function download({ url, filename, blob }) {
  let href = url;
  let revoke = false;
  if (!blob && TOKEN && url) {
    try {
      const res = await fetch(url, { headers: authHeaders() });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      blob = await res.blob();
    } catch (e) {
      addLog(`download failed: ${e.message}`, 'error');
      return;
    }
  }
  if (blob) {
    href = URL.createObjectURL(blob);
    revoke = true;
  }
  if (!href) return;
  const a = document.createElement('a');
  a.href = href;
  a.download = filename || '';
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  if (revoke) setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

function startZip() {
  clearTimeout(state.zip.timer);
  state.zip = { awaiting: true, jobId: null, timer: setTimeout(() => finishZip('ZIP timed out'), 10 * 60_000) };
  el.zipBtn.disabled = true;
  el.zipBtn.textContent = 'Zipping…';
  el.zipBtn.setAttribute('aria-busy', 'true');
  addLog('asking for a ZIP of every finished render…');
  wsSend({ action: 'zip_outputs' });
}

function finishZip(message) {
  clearTimeout(state.zip.timer);
  state.zip = { awaiting: false, jobId: null, timer: 0 };
  el.zipBtn.disabled = false;
  el.zipBtn.textContent = 'ZIP all renders';
  el.zipBtn.removeAttribute('aria-busy');
  addLog(message, /failed|timed out/.test(message) ? 'error' : 'ok');
}

// ---------------------------------------------------------------------------------------------
// editor

const LINE_HEIGHT = 19;

function updateGutter() {
  const text = el.editor.value;
  let lines = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  if (Number(el.gutter.dataset.lines) !== lines) {
    el.gutter.dataset.lines = String(lines);
    let s = '';
    for (let n = 1; n <= lines; n++) s += `${n}\n`;
    el.gutter.textContent = s;
  }
  syncGutterScroll();
}

function syncGutterScroll() {
  el.gutter.style.transform = `translateY(${-el.editor.scrollTop}px)`;
  if (state.editorErrorLine) {
    el.gutterMark.style.top = `${8 + (state.editorErrorLine - 1) * LINE_HEIGHT - el.editor.scrollTop}px`;
  }
}

function updateCaret() {
  const { line, column } = lineColumn(el.editor.value, el.editor.selectionStart);
  el.editorPos.textContent = `Line ${line}, column ${column}`;
}

function clearErrors() {
  el.editorErr.hidden = true;
  el.editorErr.textContent = '';
  el.editor.removeAttribute('aria-invalid');
  el.gutterMark.hidden = true;
  state.editorErrorLine = 0;
  for (const [input, msg] of [[el.tileSize, el.tileSizeErr], [el.format, el.formatErr], [el.name, el.nameErr]]) {
    input.removeAttribute('aria-invalid');
    msg.hidden = true;
    msg.textContent = '';
  }
}

/** Shows an error in the editor; with a position, marks its line and selects the spot. */
function showEditorError(text, pos) {
  el.editorErr.textContent = text;
  el.editorErr.hidden = false;
  el.editor.setAttribute('aria-invalid', 'true');
  if (pos) {
    state.editorErrorLine = pos.line;
    el.gutterMark.hidden = false;
    el.editorErr.dataset.line = String(pos.line);
    el.editorErr.dataset.column = String(pos.column);
    const visible = el.editor.clientHeight;
    const y = (pos.line - 1) * LINE_HEIGHT;
    if (y < el.editor.scrollTop || y > el.editor.scrollTop + visible - 2 * LINE_HEIGHT) {
      el.editor.scrollTop = Math.max(0, y - visible / 3);
    }
    syncGutterScroll();
  } else {
    delete el.editorErr.dataset.line;
    delete el.editorErr.dataset.column;
  }
}

/** Parses the editor. Returns the scene, or null after showing where the JSON is wrong. */
function readScene({ quiet = false } = {}) {
  const text = el.editor.value;
  if (!text.trim()) {
    if (!quiet) showEditorError('The scene is empty.');
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message differs between browsers; find the exact line and column ourselves.
    try {
      parseWithLocations(text);
      return null;
    } catch (e) {
      const at = e.line ? { line: e.line, column: e.column } : null;
      showEditorError(at ? `Line ${at.line}, column ${at.column}: invalid JSON: ${e.reason}` : `Invalid JSON: ${e.message}`, at);
      if (at && !quiet) {
        el.editor.focus();
        el.editor.setSelectionRange(e.offset, Math.min(text.length, e.offset + 1));
        updateCaret();
      }
      return null;
    }
  }
}

function summarize(scene) {
  const r = scene && scene.render;
  if (!r || !r.width || !r.height) {
    el.summary.textContent = '';
    return;
  }
  const ts = Number(el.tileSize.value);
  const tiles = Math.ceil(r.width / ts) * Math.ceil(r.height / ts);
  const spp = r.spp ?? r.samples;
  el.summary.textContent = `${r.width} × ${r.height} px${spp ? ` · ${spp} spp` : ''}${r.max_depth ? ` · depth ${r.max_depth}` : ''} · ${plural(tiles, 'tile')} of ${ts} px · ${Array.isArray(scene.shapes) ? plural(scene.shapes.length, 'shape') : ''}`;
}

let validateTimer = 0;
function onEditorInput() {
  updateGutter();
  clearTimeout(validateTimer);
  validateTimer = setTimeout(() => {
    if (el.editor.value.length > 2_000_000) return;
    clearErrors();
    const scene = readScene({ quiet: true });
    if (scene) summarize(scene);
  }, 300);
}

/** Maps a server error `{error, field}` to the control or the JSON spot it names. */
function showServerError(body, status) {
  const message = (body && body.error) || `the server answered ${status}`;
  let field = body && typeof body.field === 'string' ? body.field : null;
  if (!field) {
    const m = /^([A-Za-z_][\w.[\]"]*):\s/.exec(message);
    if (m) field = m[1];
  }
  const controls = { tile_size: [el.tileSize, el.tileSizeErr], tiles: [el.tileSize, el.tileSizeErr], format: [el.format, el.formatErr], name: [el.name, el.nameErr] };
  const top = field ? field.split(/[.[]/)[0] : '';
  if (controls[top]) {
    const [input, msg] = controls[top];
    input.setAttribute('aria-invalid', 'true');
    msg.textContent = message;
    msg.hidden = false;
    input.focus();
    return;
  }
  if (field) {
    // `scene.shapes[1].radius` → `shapes[1].radius` in the editor (which holds the scene);
    // a path without the `scene` prefix is tried as it is.
    const isScene = field === 'scene' || field.startsWith('scene.') || field.startsWith('scene[');
    const path = isScene ? field.replace(/^scene\.?/, '') : field;
    try {
      const { ranges } = parseWithLocations(el.editor.value);
      const hit = findRange(ranges, path);
      if (hit && (isScene || hit.path !== '')) {
        const from = hit.range.keyStart ?? hit.range.start;
        const pos = lineColumn(el.editor.value, hit.range.start);
        showEditorError(`Line ${pos.line}, column ${pos.column}: ${message}`, pos);
        el.editor.focus();
        el.editor.setSelectionRange(from, hit.range.end);
        updateCaret();
        return;
      }
    } catch {
      /* the text changed into invalid JSON since submitting */
    }
  }
  if (status === 401 || status === 403) {
    showEditorError(`${message} — open this page with ?token=<your token> to submit.`);
    return;
  }
  showEditorError(message);
}

async function submit(ev) {
  ev.preventDefault();
  clearTimeout(validateTimer); // a pending live check must not wipe the answer to this submit
  clearErrors();
  const scene = readScene();
  if (!scene) return;
  const ts = Number(el.tileSize.value);
  const doc = { kind: 'render', scene, tile_size: [ts, ts], format: el.format.value };
  const name = el.name.value.trim();
  if (name) doc.name = name;
  el.submitBtn.disabled = true;
  el.submitBtn.setAttribute('aria-busy', 'true');
  try {
    const r = await api('/api/jobs', { method: 'POST', json: doc });
    if (!r.ok) {
      showServerError(r.data, r.status);
      addLog(`submit refused: ${errorText(r)}`, 'error');
      return;
    }
    const id = String(r.data.job_id || (r.data.job && r.data.job.id));
    const job = r.data.job && r.data.job.id ? r.data.job : { id, kind: 'render', status: 'queued' };
    upsertJob({ width: scene.render && scene.render.width, height: scene.render && scene.render.height, ...job, id, name: job.name || name || undefined });
    addLog(`submitted job ${short(id)} (${jobLabel(state.jobs.get(id))}, ${ts} px tiles, ${doc.format})`, 'ok');
    view(id, { fresh: true, width: scene.render && scene.render.width, height: scene.render && scene.render.height });
  } finally {
    el.submitBtn.disabled = false;
    el.submitBtn.removeAttribute('aria-busy');
  }
}

async function loadDefaultScene() {
  const r = await api('/api/scenes/default');
  let scene = r.ok && r.data && typeof r.data === 'object' ? r.data.scene || r.data : null;
  if (!scene) {
    addLog(`could not load the default scene (${errorText(r)}); using the built-in example`, 'warn');
    scene = FALLBACK_SCENE;
  }
  state.defaultSceneText = JSON.stringify(scene, tidyNumber, 2);
  setEditor(state.defaultSceneText);
  el.editor.dataset.loaded = 'true';
}

function setEditor(text) {
  el.editor.value = text;
  el.editor.scrollTop = 0;
  clearErrors();
  updateGutter();
  const scene = readScene({ quiet: true });
  if (scene) summarize(scene);
}

/**
 * The server keeps scene numbers as f32, so 2.2 can come back as 2.200000047683716. Show the
 * shortest decimal that is the same f32 (so the scene means exactly the same), else the value.
 */
function tidyNumber(_key, v) {
  if (typeof v !== 'number' || !Number.isFinite(v) || Number.isInteger(v) || Math.fround(v) !== v) return v;
  for (let digits = 1; digits <= 9; digits++) {
    const short = Number(v.toPrecision(digits));
    if (Math.fround(short) === v) return short;
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// log

const clockFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium', hour12: false });

function addLog(text, level = 'info', t = Date.now()) {
  addLogs([{ text, level, t }]);
}

/** Appends lines with one layout read and one write, however many there are. */
function addLogs(lines) {
  const atBottom = el.log.scrollHeight - el.log.scrollTop - el.log.clientHeight < 24;
  const frag = document.createDocumentFragment();
  for (const { text, level, t } of lines.slice(-MAX_LOG)) {
    const li = document.createElement('li');
    li.className = level || 'info';
    const time = document.createElement('time');
    const d = new Date(t || Date.now());
    time.dateTime = d.toISOString();
    time.textContent = clockFmt.format(d);
    li.append(time, text);
    frag.appendChild(li);
  }
  el.log.appendChild(frag);
  let extra = el.log.childElementCount - MAX_LOG;
  while (extra-- > 0) el.log.firstElementChild.remove();
  if (atBottom) el.log.scrollTop = el.log.scrollHeight;
}

// ---------------------------------------------------------------------------------------------
// small helpers

const short = (id) => String(id).slice(-8); // ids are time-ordered: the tail tells them apart
const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;
const fmtPct = (p) => String(Math.round(Number(p) * 10) / 10);
function fmtTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  const now = new Date();
  const today = now.getFullYear() === d.getFullYear() && now.getMonth() === d.getMonth() && now.getDate() === d.getDate();
  return today ? clockFmt.format(d) : dateFmt.format(d);
}
function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
function errorText(r) {
  return (r.data && r.data.error) || (r.status ? `HTTP ${r.status}` : 'no answer');
}

// ---------------------------------------------------------------------------------------------
// wiring

el.form.addEventListener('submit', submit);
el.editor.addEventListener('input', onEditorInput);
el.editor.addEventListener('scroll', syncGutterScroll, { passive: true });
for (const t of ['keyup', 'click', 'select', 'focus']) el.editor.addEventListener(t, updateCaret);
el.editor.addEventListener('keydown', (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === 'Enter') {
    ev.preventDefault();
    el.form.requestSubmit();
  }
});
el.tileSize.addEventListener('change', () => {
  clearErrors();
  const scene = readScene({ quiet: true });
  if (scene) summarize(scene);
});
el.format.addEventListener('change', () => {
  el.format.removeAttribute('aria-invalid');
  el.formatErr.hidden = true;
});
el.formatBtn.addEventListener('click', () => {
  const scene = readScene();
  if (scene) setEditor(JSON.stringify(scene, null, 2));
});
el.resetBtn.addEventListener('click', () => {
  if (state.defaultSceneText) setEditor(state.defaultSceneText);
  else loadDefaultScene();
});
el.zipBtn.addEventListener('click', startZip);
el.refreshBtn.addEventListener('click', () => {
  refreshJobs();
  refreshStatus();
});
el.clearLog.addEventListener('click', () => el.log.replaceChildren());
el.viewerCancel.addEventListener('click', () => state.watched && cancelJob(state.watched));
el.viewerDownload.addEventListener('click', (ev) => {
  if (!TOKEN) return;
  ev.preventDefault();
  const job = state.jobs.get(state.watched);
  download({ url: el.viewerDownload.getAttribute('href'), filename: job && job.output && job.output.filename });
});

setInterval(() => {
  if (state.conn === 'open' && document.visibilityState === 'visible') refreshStatus();
}, 10_000);

worker.postMessage({ cmd: 'connect', url: wsUrl(), token: TOKEN });
wsSend({ action: 'subscribe', job_id: 'all' });
loadDefaultScene();
refreshJobs();

// For tests and the curious: a read-only view of the app's state.
Object.defineProperty(window, 'tessera', {
  value: Object.freeze({
    jobs: () => sortedJobs().map((j) => ({ ...j })),
    watched: () => state.watched,
    tilesDrawn: () => state.tilesDrawn,
    connection: () => state.conn,
  }),
});
