// Browser tests of the web app against the real server in real Chromium (no mocks).
// Run: cd web/tests && npm ci && node --test

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startServer, launchBrowser, ensureOutDir } from './helpers.mjs';

let server;
let browser;
let context;
let page;
const pageErrors = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // A refused submission (4xx) is expected in the validation test; Chromium logs it.
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) {
      pageErrors.push(`console: ${m.text()}`);
    }
  });
});

after(async () => {
  await context?.close().catch(() => {});
  await browser?.close().catch(() => {});
  await server?.stop();
});

// ---------------------------------------------------------------------------------------------
// helpers

const byTestId = (id) => `[data-testid="${id}"]`;

async function editorScene() {
  return JSON.parse(await page.locator(byTestId('scene-editor')).inputValue());
}

async function setEditor(text) {
  await page.locator(byTestId('scene-editor')).fill(text);
}

async function resetEditor() {
  await page.click(byTestId('reset-scene'));
  return editorScene();
}

/** Puts `scene` and the options in the form (Playwright's typing is itself a long task). */
async function fillForm(scene, { tile = 32, format = 'png', name } = {}) {
  await setEditor(JSON.stringify(scene, null, 2));
  await page.selectOption(byTestId('tile-size'), String(tile));
  await page.selectOption(byTestId('format'), format);
  await page.fill(byTestId('job-name'), name ?? '');
}

/** Clicks Render and returns the new job's id (the one the viewer then shows). */
async function clickSubmit() {
  const before = await page.locator(byTestId('canvas')).getAttribute('data-job-id');
  await page.click(byTestId('submit'));
  await page.waitForFunction(
    ([prev]) => {
      const id = document.querySelector('[data-testid="canvas"]').dataset.jobId;
      return id && id !== prev;
    },
    [before],
    { timeout: 15_000 },
  );
  return page.locator(byTestId('canvas')).getAttribute('data-job-id');
}

async function submitScene(scene, opts) {
  await fillForm(scene, opts);
  return clickSubmit();
}

async function waitJobStatus(id, status, timeout = 180_000) {
  await page.waitForSelector(`${byTestId('job-row')}[data-job-id="${id}"][data-status="${status}"]`, { timeout });
}

/** Compares the app's canvas with the job's preview PNG, decoded in the page. */
async function compareCanvasWithPreview(id) {
  return page.evaluate(async (jobId) => {
    const canvas = document.querySelector('[data-testid="canvas"]');
    const w = canvas.width;
    const h = canvas.height;
    const shown = canvas.getContext('2d').getImageData(0, 0, w, h).data;
    const res = await fetch(`/api/jobs/${jobId}/preview`, { cache: 'no-store' });
    const blob = await res.blob();
    const bm = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const off = new OffscreenCanvas(bm.width, bm.height);
    const octx = off.getContext('2d');
    octx.drawImage(bm, 0, 0);
    const ref = octx.getImageData(0, 0, bm.width, bm.height).data;
    let mismatched = 0;
    let maxDiff = 0;
    let transparent = 0;
    const colours = new Set();
    for (let i = 0; i < shown.length; i += 4) {
      if (shown[i + 3] !== 255) transparent++;
      colours.add((shown[i] << 16) | (shown[i + 1] << 8) | shown[i + 2]);
      let d = 0;
      for (let c = 0; c < 4; c++) d = Math.max(d, Math.abs(shown[i + c] - ref[i + c]));
      maxDiff = Math.max(maxDiff, d);
      if (d > 2) mismatched++;
    }
    const samples = [[0, 0], [w >> 1, h >> 1], [w - 1, h - 1], [w >> 2, (3 * h) >> 2]].map(([x, y]) => {
      const i = 4 * (y * w + x);
      return { x, y, canvas: [...shown.slice(i, i + 4)], preview: [...ref.slice(i, i + 4)] };
    });
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      canvas: [w, h],
      preview: [bm.width, bm.height],
      mismatched,
      maxDiff,
      transparent,
      colours: colours.size,
      samples,
    };
  }, id);
}

// ---------------------------------------------------------------------------------------------
// tests

test('the page loads, connects (hello) and shows the default scene', async () => {
  await page.goto(server.url, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector(`${byTestId('connection')}[data-state="open"]`, { timeout: 15_000 });
  assert.match(await page.textContent(byTestId('connection-text')), /connected/i);
  await page.waitForSelector(byTestId('server-version'), { timeout: 10_000 });
  assert.match(await page.textContent(byTestId('server-version')), /^v\d+\.\d+/);
  assert.match(await page.textContent(byTestId('server-workers')), /^\d+ workers?$/);

  await page.waitForSelector(`${byTestId('scene-editor')}[data-loaded="true"]`, { timeout: 10_000 });
  const shown = await editorScene();
  const served = await (await fetch(`${server.url}/api/scenes/default`)).json();
  // The editor shows f32 numbers in their shortest form (2.2, not 2.200000047683716).
  const f32 = (v) => JSON.parse(JSON.stringify(v), (_k, x) => (typeof x === 'number' ? Math.fround(x) : x));
  assert.deepEqual(f32(shown), f32(served.scene && !served.render ? served.scene : served));
  assert.doesNotMatch(await page.locator(byTestId('scene-editor')).inputValue(), /\d\.\d{12,}/, 'numbers are tidy');
  assert.ok(shown.render && shown.render.width > 0, 'the default scene has a render block');
  assert.equal(await page.isVisible(byTestId('editor-error')), false);
});

test('a small scene renders tile by tile, to done, with a matching canvas and a PNG download', async () => {
  const scene = await resetEditor();
  scene.render.width = 96;
  scene.render.height = 64;
  scene.render.spp = 4;
  const id = await submitScene(scene, { tile: 32, name: 'small test render' });
  assert.ok(id);

  // 96×64 in 32 px tiles: 3 × 2 = 6 tasks.
  await page.waitForFunction(
    () => /\b6 \/ 6 tiles · 100 %/.test(document.querySelector('[data-testid="progress-text"]').textContent),
    null,
    { timeout: 120_000 },
  );
  await waitJobStatus(id, 'done');
  const row = page.locator(`${byTestId('job-row')}[data-job-id="${id}"]`);
  assert.equal(await row.locator(byTestId('job-status')).textContent(), 'done');
  assert.match(await row.locator(byTestId('job-progress')).textContent(), /6\/6 · 100 %/);
  assert.match(await row.textContent(), /small test render/);
  assert.equal(await page.getAttribute(byTestId('progress'), 'value'), '6');
  assert.equal(await page.getAttribute(byTestId('progress'), 'max'), '6');

  // Every tile reached the canvas, and the canvas equals the server's preview.
  await page.waitForFunction(() => window.tessera.tilesDrawn() >= 6, null, { timeout: 10_000 });
  const cmp = await compareCanvasWithPreview(id);
  assert.equal(cmp.status, 200, 'preview answers');
  assert.match(cmp.type, /^image\/png/);
  assert.deepEqual(cmp.canvas, [96, 64]);
  assert.deepEqual(cmp.preview, [96, 64]);
  assert.equal(cmp.transparent, 0, 'every canvas pixel was painted');
  assert.ok(cmp.colours > 8, `the image is not flat (${cmp.colours} colours)`);
  assert.equal(cmp.mismatched, 0, `canvas differs from preview: ${JSON.stringify(cmp.samples)}`);

  // The download link serves a PNG.
  const link = row.locator(byTestId('job-download'));
  assert.equal(await link.isVisible(), true);
  const href = await link.getAttribute('href');
  const dl = await page.evaluate(async (u) => {
    const res = await fetch(u);
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { status: res.status, type: res.headers.get('content-type'), head: [...bytes.slice(0, 8)], size: bytes.length };
  }, href);
  assert.equal(dl.status, 200);
  assert.match(dl.type, /^image\/png/);
  assert.deepEqual(dl.head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(dl.size > 100);
  assert.equal(await page.isVisible(byTestId('viewer-download')), true);
});

test('invalid JSON and an invalid field show a message naming the line and the field', async () => {
  const scene = await resetEditor();
  const lines = JSON.stringify(scene, null, 2).split('\n');
  lines[3] = `${lines[3]} oops`; // garbage after a value on line 4
  await setEditor(lines.join('\n'));
  await page.click(byTestId('submit'));
  const err = page.locator(byTestId('editor-error'));
  await err.waitFor({ state: 'visible', timeout: 5000 });
  await page.waitForTimeout(600);
  assert.match(await err.textContent(), /^Line 4, column \d+: invalid JSON/);
  assert.equal(await err.getAttribute('data-line'), '4');
  assert.equal(await page.getAttribute(byTestId('scene-editor'), 'aria-invalid'), 'true');

  // A sphere with a negative radius: the server refuses it and names the field.
  const bad = await resetEditor();
  const idx = bad.shapes.findIndex((s) => s.type === 'sphere');
  assert.ok(idx >= 0, 'the default scene has a sphere');
  bad.shapes[idx].radius = -1;
  const text = JSON.stringify(bad, null, 2);
  await setEditor(text);
  const jobsBefore = await page.evaluate(() => window.tessera.jobs().length);
  await page.click(byTestId('submit'));
  await page.waitForFunction(
    () => /radius/.test(document.querySelector('[data-testid="editor-error"]').textContent),
    null,
    { timeout: 10_000 },
  );
  await page.waitForTimeout(600); // longer than the editor's live-validation delay
  assert.equal(await err.isVisible(), true, 'the server message stays shown');
  const msg = await err.textContent();
  assert.match(msg, new RegExp(`shapes\\[${idx}\\]\\.radius`));
  // The message points at the line holding `"radius": -1`.
  const needle = text.split('\n').findIndex((l) => /"radius": -1\b/.test(l)) + 1;
  assert.ok(needle > 0);
  assert.match(msg, new RegExp(`^Line ${needle}, column \\d+: `));
  assert.equal(await err.getAttribute('data-line'), String(needle));
  assert.equal(await page.evaluate(() => window.tessera.jobs().length), jobsBefore, 'no job was created');
});

test('the page stays responsive while a 256-tile job streams in', async () => {
  const scene = await resetEditor();
  scene.render.width = 512;
  scene.render.height = 512;
  scene.render.spp = 2;
  if (scene.render.max_depth > 4) scene.render.max_depth = 4;
  await fillForm(scene, { tile: 32, name: 'stream test' });

  // Watch the main thread: a requestAnimationFrame loop and the long-task observer.
  await page.evaluate(() => {
    const stats = { frames: 0, maxGap: 0, longTasks: [], running: true, start: performance.now() };
    window.__resp = stats;
    let last = performance.now();
    const loop = (t) => {
      stats.frames++;
      stats.maxGap = Math.max(stats.maxGap, t - last);
      last = t;
      if (stats.running) requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) stats.longTasks.push(Math.round(e.duration));
      }).observe({ type: 'longtask' });
    } catch {
      stats.noLongTaskApi = true;
    }
  });

  const id = await clickSubmit();
  await waitJobStatus(id, 'done', 300_000);
  await page.waitForFunction(() => window.tessera.tilesDrawn() >= 256, null, { timeout: 20_000 });
  const stats = await page.evaluate(() => {
    const s = window.__resp;
    s.running = false;
    s.elapsed = performance.now() - s.start;
    return s;
  });
  console.log(`# responsiveness: ${stats.frames} frames in ${Math.round(stats.elapsed)} ms, ` +
    `longest frame gap ${Math.round(stats.maxGap)} ms, long tasks ${JSON.stringify(stats.longTasks)}`);
  assert.equal(await page.textContent(byTestId('progress-text')), '256 / 256 tiles · 100 %');
  assert.equal(await page.evaluate(() => window.tessera.tilesDrawn()), 256, 'every tile was drawn, each once');
  const longest = Math.max(0, ...stats.longTasks);
  assert.ok(longest < 200, `a main-thread task took ${longest} ms`);
  assert.ok(stats.maxGap < 1000, `the animation loop stalled for ${Math.round(stats.maxGap)} ms`);
  assert.ok(stats.frames >= stats.elapsed / 100, `only ${stats.frames} frames in ${Math.round(stats.elapsed)} ms`);

  const cmp = await compareCanvasWithPreview(id);
  assert.equal(cmp.mismatched, 0, `canvas differs from preview: ${JSON.stringify(cmp.samples)}`);
});

test('ZIP all renders downloads a zip archive', async () => {
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 120_000 }),
    page.click(byTestId('zip-all')),
  ]);
  const name = download.suggestedFilename();
  assert.match(name, /\.zip$/i);
  const file = path.join(ensureOutDir(), name);
  await download.saveAs(file);
  const { readFileSync } = await import('node:fs');
  const bytes = readFileSync(file);
  assert.deepEqual([...bytes.subarray(0, 4)], [0x50, 0x4b, 0x03, 0x04], 'a ZIP local file header');
  await page.waitForFunction(() => !document.querySelector('[data-testid="zip-all"]').disabled, null, { timeout: 10_000 });
});

test('a queued or running job can be cancelled from the list', async () => {
  const scene = await resetEditor();
  scene.render.width = 640;
  scene.render.height = 480;
  scene.render.spp = 4096;
  const id = await submitScene(scene, { tile: 16, name: 'to be cancelled' });
  const row = page.locator(`${byTestId('job-row')}[data-job-id="${id}"]`);
  await row.locator(byTestId('job-cancel')).click({ timeout: 10_000 });
  await waitJobStatus(id, 'cancelled', 30_000);
  assert.equal(await row.locator(byTestId('job-cancel')).isVisible(), false);
  assert.equal(await row.locator(byTestId('job-download')).isVisible(), false);
});

test('clicking a finished job in the list shows its preview', async () => {
  const small = await page.evaluate(() => window.tessera.jobs().find((j) => j.name === 'small test render')?.id);
  assert.ok(small, 'the small render is listed');
  await page.click(`${byTestId('job-row')}[data-job-id="${small}"]`);
  await page.waitForFunction(
    (id) => {
      const c = document.querySelector('[data-testid="canvas"]');
      return c.dataset.jobId === id && c.dataset.preview === 'drawn';
    },
    small,
    { timeout: 10_000 },
  );
  assert.equal(await page.getAttribute(`${byTestId('job-row')}[data-job-id="${small}"]`, 'aria-current'), 'true');
  assert.match(await page.textContent(byTestId('viewer-job')), /small test render/);
  assert.equal(await page.textContent(byTestId('progress-text')), '6 / 6 tiles · 100 %');
  const cmp = await compareCanvasWithPreview(small);
  assert.deepEqual(cmp.canvas, [96, 64]);
  assert.equal(cmp.mismatched, 0);
});

test('the page reconnects by itself when the server restarts', async () => {
  await page.waitForSelector(`${byTestId('connection')}[data-state="open"]`);
  const restarted = server.restart({ downMs: 1500 });
  await page.waitForSelector(`${byTestId('connection')}:not([data-state="open"])`, { timeout: 15_000 });
  await restarted;
  await page.waitForSelector(`${byTestId('connection')}[data-state="open"]`, { timeout: 30_000 }).catch(async (e) => {
    const text = await page.textContent(byTestId('connection-text'));
    const log = await page.textContent(byTestId('log'));
    throw new Error(`${e.message}\nconnection: ${text}\nlog tail: ${log.slice(-800)}\nserver: ${server.output().slice(-2000)}`);
  });
  assert.match(await page.textContent(byTestId('connection-text')), /connected/i);
  // Jobs finished before the restart are still listed, and the list still updates.
  await page.click(byTestId('refresh-jobs'));
  const done = await page.evaluate(() => window.tessera.jobs().filter((j) => j.status === 'done').length);
  assert.ok(done >= 2, `finished jobs are still listed (${done})`);
});

test('with an access token (?token=T) the page connects, renders and downloads', async () => {
  const token = 'web-test-token';
  const secured = await startServer({ token });
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  try {
    const denied = await fetch(`${secured.url}/api/status`);
    assert.equal(denied.status, 401, 'the server really wants the token');
    const p = await ctx.newPage();
    const errors = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${secured.url}/?token=${token}`);
    await p.waitForSelector(`${byTestId('connection')}[data-state="open"]`, { timeout: 15_000 });
    await p.waitForSelector(`${byTestId('scene-editor')}[data-loaded="true"]`, { timeout: 10_000 });
    const scene = JSON.parse(await p.locator(byTestId('scene-editor')).inputValue());
    scene.render.width = 64;
    scene.render.height = 64;
    scene.render.spp = 2;
    await p.locator(byTestId('scene-editor')).fill(JSON.stringify(scene));
    await p.selectOption(byTestId('tile-size'), '32');
    await p.click(byTestId('submit'));
    await p.waitForFunction(() => /4 \/ 4 tiles · 100 %/.test(document.querySelector('[data-testid="progress-text"]').textContent), null, { timeout: 60_000 });
    await p.waitForFunction(() => window.tessera.tilesDrawn() >= 4, null, { timeout: 10_000 });
    const id = await p.locator(byTestId('canvas')).getAttribute('data-job-id');
    const row = p.locator(`${byTestId('job-row')}[data-job-id="${id}"][data-status="done"]`);
    await row.waitFor({ timeout: 30_000 });
    const [download] = await Promise.all([p.waitForEvent('download', { timeout: 15_000 }), row.locator(byTestId('job-download')).click()]);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(await download.path());
    assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'the download is a PNG');
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
    await secured.stop();
  }
});

test('screenshots for people (light and dark)', async () => {
  const dir = ensureOutDir();
  // Show the finished 256-tile render.
  const done = await page.evaluate(() => window.tessera.jobs().find((j) => j.name === 'stream test')?.id);
  if (done) {
    await page.click(`${byTestId('job-row')}[data-job-id="${done}"]`);
    await page
      .waitForFunction(() => document.querySelector('[data-testid="canvas"]').dataset.preview === 'drawn', null, { timeout: 10_000 })
      .catch(() => console.log('# the preview of the 256-tile job was not drawn for the screenshot'));
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.screenshot({ path: path.join(dir, 'tessera-light.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(dir, 'tessera-dark.png'), fullPage: true });
  await page.emulateMedia({ colorScheme: null });
  assert.deepEqual(pageErrors, [], 'no errors in the page');
});
