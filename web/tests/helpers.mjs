// Shared set-up for the browser tests: the real `tessera up` server and Debian's Chromium.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

export const OUT_DIR = path.join(here, 'out');

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function tesseraBin() {
  const bin = process.env.TESSERA_BIN
    ? path.resolve(process.cwd(), process.env.TESSERA_BIN)
    : path.resolve(here, '../../target/debug/tessera');
  if (!existsSync(bin)) {
    throw new Error(`tessera binary not found at ${bin} (build it with \`cargo build -p tessera-cli\` or set TESSERA_BIN)`);
  }
  return bin;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Spawns `tessera up` and resolves once `GET /api/status` answers. */
async function spawnUp(bin, port, data, timeoutMs, token) {
  const args = ['up', '--port', String(port), '--bind', '127.0.0.1', '--data', data];
  if (token) args.push('--token', token);
  const useNice = existsSync('/usr/bin/nice') && process.env.TESSERA_TEST_NICE !== '0';
  const child = useNice
    ? spawn('/usr/bin/nice', ['-n', '10', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = { child, output: '', exited: null };
  const keep = (chunk) => {
    proc.output += chunk.toString();
    if (proc.output.length > 200_000) proc.output = proc.output.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  proc.exit = new Promise((resolve) => child.on('exit', (code, signal) => {
    proc.exited = { code, signal };
    resolve(proc.exited);
  }));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exited) throw new Error(`tessera up exited early (${JSON.stringify(proc.exited)}):\n${proc.output}`);
    try {
      const res = await fetch(`${url}/api/status`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (res.ok) {
        await res.json();
        return proc;
      }
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tessera up did not answer /api/status within ${timeoutMs} ms:\n${proc.output}`);
    }
    await sleep(150);
  }
}

async function stopProc(proc) {
  if (proc.exited) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => { if (!proc.exited) proc.child.kill('SIGKILL'); }, 5000);
  await proc.exit;
  clearTimeout(timer);
}

/**
 * Starts `tessera up` on a free loopback port with a fresh data directory and waits until
 * `GET /api/status` answers. The server runs at a lower CPU priority (nice 10) so the browser
 * under test is not starved by the render threads on a small machine.
 */
export async function startServer({ timeoutMs = 60_000, token } = {}) {
  const bin = tesseraBin();
  const port = await freePort();
  const data = mkdtempSync(path.join(tmpdir(), 'tessera-web-'));
  let proc;
  try {
    proc = await spawnUp(bin, port, data, timeoutMs, token);
  } catch (e) {
    rmSync(data, { recursive: true, force: true });
    throw e;
  }
  let log = '';
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    data,
    output: () => log + proc.output,
    /** Stops the server and starts it again on the same port and data directory. */
    async restart({ downMs = 0 } = {}) {
      await stopProc(proc);
      log += proc.output;
      if (downMs) await sleep(downMs);
      proc = await spawnUp(bin, port, data, timeoutMs, token);
    },
    async stop() {
      await stopProc(proc);
      rmSync(data, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath} (apt-get install -y chromium, or set CHROMIUM_BIN)`);
  }
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
}

export function ensureOutDir() {
  mkdirSync(OUT_DIR, { recursive: true });
  return OUT_DIR;
}
