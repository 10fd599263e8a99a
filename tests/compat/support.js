// Shared helpers for the compat tests: start the real sandbox binary, talk to
// its admin view, and exit 77 (CTest's "skipped") when npm packages are missing.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const http = require('http');

function requireOrSkip(name) {
  try {
    return require(name);
  } catch (err) {
    if (process.env.CI === 'true') {
      // scripts/test.sh runs npm ci; in CI a missing package fails the test.
      console.log(`FAILED: npm package ${name} is not installed (run npm ci in tests/compat)`);
      process.exit(1);
    }
    console.log(`SKIPPED: npm package ${name} is not installed (run npm ci in tests/compat)`);
    process.exit(77);
  }
}

async function startSandbox(fleetrun, args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetrun-compat-'));
  const portFile = path.join(dir, 'port');
  const child = spawn(fleetrun, ['sandbox', '--port', '0', '--port-file', portFile, ...args], { stdio: 'ignore' });
  const deadline = Date.now() + 30000;
  while (!fs.existsSync(portFile)) {
    if (Date.now() > deadline) throw new Error('sandbox did not start');
    await new Promise((r) => setTimeout(r, 20));
  }
  const port = Number(fs.readFileSync(portFile, 'utf8').trim());
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dir,
    stop() { child.kill('SIGTERM'); },
  };
}

function admin(sandbox, method, urlPath, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ host: '127.0.0.1', port: sandbox.port, method, path: urlPath,
      headers: data ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${method} ${urlPath} -> ${res.statusCode} ${text}`));
        resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

let failures = 0;
let passes = 0;
function check(condition, what) {
  if (condition) {
    passes += 1;
  } else {
    failures += 1;
    console.log(`FAILED: ${what}`);
  }
}
function summary() {
  console.log(`${passes} passed, ${failures} failed`);
  return failures === 0 ? 0 : 1;
}

module.exports = { requireOrSkip, startSandbox, admin, check, summary };
