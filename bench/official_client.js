// The same job as fleetrun's benchmark plan, written the way Losant's
// documentation and examples suggest, with the official `losant-rest`
// client: page through the devices, then patch them.
//
//   node bench/official_client.js batched|per-device|concurrent <api-url> <description>
//   (LOSANT_API_TOKEN and LOSANT_APPLICATION_ID from the environment)
//
// batched:    PATCH /devices with 1000 deviceIds per request
// per-device: one PATCH /devices/{id} per device
// concurrent: a careful script for real conditions (issue 11): pages by id
//             cursor, then PATCH by 1000 deviceIds and POST a command to the
//             same 1000, four requests in flight, each 429 waited out
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
  if (mode === 'concurrent') {
    // By id cursor, as Losant suggests for a set that may change.
    for (;;) {
      const query = ids.length === 0 ? {} : { id: { $gt: ids[ids.length - 1] } };
      const result = await call(() => client.devices.get({ applicationId, perPage: 1000, sortField: 'id', sortDirection: 'asc', query }));
      for (const device of result.items) ids.push(device.id);
      if (result.items.length < 1000 || result.items.length >= result.totalCount) break;
    }
  } else {
    for (let page = 0; ; page += 1) {
      const result = await call(() => client.devices.get({ applicationId, page, perPage: 1000, sortField: 'id', sortDirection: 'asc' }));
      for (const device of result.items) ids.push(device.id);
      if (result.items.length === 0 || ids.length >= result.totalCount) break;
    }
  }
  if (mode === 'concurrent') {
    const chunks = [];
    for (let i = 0; i < ids.length; i += 1000) chunks.push(ids.slice(i, i + 1000));
    const inFlight = async (work) => {
      let next = 0;
      const worker = async () => {
        while (next < chunks.length) {
          const chunk = chunks[next];
          next += 1;
          await work(chunk);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    };
    await inFlight((deviceIds) => call(() => client.devices.patch({ applicationId, patchInfo: { deviceIds, updateFields: { description } } })));
    await inFlight((deviceIds) => call(() => client.devices.sendCommand({ applicationId, multiDeviceCommand: { deviceIds, name: 'ping' } })));
  } else if (mode === 'batched') {
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
