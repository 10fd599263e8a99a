// The same job as fleetrun's benchmark plan, written the way Losant's
// documentation and examples suggest, with the official `losant-rest`
// client: page through the devices, then patch them.
//
//   node bench/official_client.js batched|per-device <api-url> <description>
//   (LOSANT_API_TOKEN and LOSANT_APPLICATION_ID from the environment)
//
// batched:    PATCH /devices with 1000 deviceIds per request
// per-device: one PATCH /devices/{id} per device
// Both retry a 429 after a second (the client does not expose Retry-After),
// as a careful script would; neither records any state. Prints one JSON line.
'use strict';
const path = require('path');
const api = require(path.join(__dirname, '..', 'tests', 'compat', 'node_modules', 'losant-rest'));

const [mode, url, description] = process.argv.slice(2);
const applicationId = process.env.LOSANT_APPLICATION_ID;
const client = api.createClient({ accessToken: process.env.LOSANT_API_TOKEN, url });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let requests = 0;
let throttled = 0;

async function call(fn) {
  for (;;) {
    requests += 1;
    try {
      return await fn();
    } catch (err) {
      if (err.statusCode !== 429) throw err;
      throttled += 1;
      await sleep(1000);
    }
  }
}

async function main() {
  const ids = [];
  for (let page = 0; ; page += 1) {
    const result = await call(() => client.devices.get({ applicationId, page, perPage: 1000, sortField: 'id', sortDirection: 'asc' }));
    for (const device of result.items) ids.push(device.id);
    if (result.items.length === 0 || ids.length >= result.totalCount) break;
  }
  if (mode === 'batched') {
    for (let i = 0; i < ids.length; i += 1000) {
      const deviceIds = ids.slice(i, i + 1000);
      await call(() => client.devices.patch({ applicationId, patchInfo: { deviceIds, updateFields: { description } } }));
    }
  } else if (mode === 'per-device') {
    for (const deviceId of ids) {
      await call(() => client.device.patch({ applicationId, deviceId, device: { description } }));
    }
  } else {
    throw new Error(`unknown mode ${mode}: batched or per-device`);
  }
  console.log(JSON.stringify({ mode, devices: ids.length, requests, throttled }));
}

main().catch((err) => {
  console.error(err.message || err);
  process.exit(1);
});
