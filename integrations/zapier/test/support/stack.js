'use strict';
// Starts the real gateway and its sandbox upstream as child processes on
// 127.0.0.1 (free ports, temporary data dirs), the same way tests/processes.py
// does for the Python suite. Used by jest's globalSetup/globalTeardown.
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
// GATEWAY_ROOT: where the gateway's sources are (default: this repository).
const ROOT = process.env.GATEWAY_ROOT || REPO;
const PYTHON = process.env.GATEWAY_PYTHON || path.join(REPO, '.venv', 'bin', 'python');
const SPEED = process.env.ZAPIER_TEST_SPEED || '200';

function tail(file, n = 3000) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.slice(-n);
  } catch (e) {
    return '';
  }
}

// Spawn `python -m gateway.cli ARGS` and resolve with its URL once it prints
// `<prefix><url>` on stdout. stderr goes to a log file in the stack's dir.
function startProcess(args, { env, logFile, prefix, timeoutMs = 60000 }) {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(PYTHON, ['-m', 'gateway.cli', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', log],
  });
  fs.closeSync(log);
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${prefix.trim()}: ${why}; log:\n${tail(logFile)}`));
    };
    const timer = setTimeout(() => fail('never became ready'), timeoutMs);
    const lines = readline.createInterface({ input: child.stdout });
    // Keep reading after readiness so the child never blocks on a full pipe.
    lines.on('line', (line) => {
      if (!done && line.startsWith(prefix)) {
        done = true;
        clearTimeout(timer);
        resolve({ child, url: line.slice(prefix.length).trim(), logFile });
      }
    });
    child.on('error', (err) => fail(err.message));
    child.on('exit', (code, signal) => fail(`exited early (${code ?? signal})`));
  });
}

function stopProcess(proc, graceMs = 15000) {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
    proc.child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.child.kill('SIGTERM');
  });
}

async function startStack() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nemo-zapier-'));
  const stack = { dir, sandbox: null, gateway: null };
  try {
    stack.sandbox = await startProcess(
      ['sandbox', '--host', '127.0.0.1', '--port', '0', '--speed', SPEED,
        '--data-dir', path.join(dir, 'sandbox-data')],
      { env: {}, logFile: path.join(dir, 'sandbox.log'), prefix: 'sandbox listening on ' },
    );
    const minted = await fetch(`${stack.sandbox.url}/_sandbox/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ credits: 100000 }),
    });
    if (!minted.ok) throw new Error(`minting a sandbox token: HTTP ${minted.status}`);
    const token = (await minted.json()).data.token;
    const env = {
      GATEWAY_DATA_DIR: path.join(dir, 'gateway-data'),
      NEMO_API_URL: stack.sandbox.url,
      NEMO_TOKEN: token,
      GATEWAY_ALLOW_PRIVATE_URLS: '1',
      GATEWAY_TIME_SCALE: SPEED,
      GATEWAY_TICK_SECONDS: '0.2',
      GATEWAY_LEASE_SECONDS: '3',
      GATEWAY_WEBHOOK_TIMEOUT: '2',
    };
    const keyOut = execFileSync(PYTHON, ['-m', 'gateway.cli', 'keys', 'create', '--name', 'zap'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stack.apiKey = keyOut.trim().split('\n').pop().trim();
    stack.gateway = await startProcess(
      ['serve', '--host', '127.0.0.1', '--port', '0'],
      { env, logFile: path.join(dir, 'gateway.log'), prefix: 'gateway listening on ' },
    );
    return stack;
  } catch (err) {
    await stopStack(stack);
    throw err;
  }
}

async function stopStack(stack, { keepDir = false } = {}) {
  if (!stack) return;
  await stopProcess(stack.gateway);
  await stopProcess(stack.sandbox);
  if (!keepDir) fs.rmSync(stack.dir, { recursive: true, force: true });
}

module.exports = { ROOT, PYTHON, startStack, stopStack };
