// Wire compatibility: Losant's official JavaScript client (losant-rest from
// npm), used unchanged, drives the fleetrun sandbox. Every call is checked
// against the sandbox's own state through its admin view.
//
// losant-rest 2.8 has no method for restore or job logs; for those the test
// uses the client's own generic `request` (same headers, same serializer).
'use strict';
const { requireOrSkip, startSandbox, admin, check, summary } = require('./support');
const api = requireOrSkip('losant-rest');

const APP = '5f1a2b3c4d5e6f7a8b9c0d1e';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const sandbox = await startSandbox(process.argv[2], ['--devices', '60', '--job-threshold', '20', '--job-duration-ms', '200']);
  try {
    const client = api.createClient({ accessToken: 'sandbox-token', url: sandbox.url });
    const dump = await admin(sandbox, 'GET', '/_sandbox/devices');

    // List with an advanced query (sent as one JSON parameter).
    const north = await client.devices.get({ applicationId: APP, query: { tags: { site: 'north' } }, perPage: 1000, sortField: 'id' });
    const expectedNorth = dump.filter((d) => d.tags.some((t) => t.key === 'site' && t.value === 'north'));
    check(north.totalCount === expectedNorth.length && north.items.length === expectedNorth.length, 'devices.get with query matches the fleet');
    check(north.items.every((d, i) => i === 0 || north.items[i - 1].id < d.id), 'devices.get sorted by id');

    // List with bracket-serialized tagFilter and deviceClass arrays (qs).
    const south = await client.devices.get({ applicationId: APP, tagFilter: [{ key: 'site', value: 'south' }], deviceClass: ['standalone', 'gateway'], perPage: 1000 });
    check(south.items.length > 0 && south.items.every((d) => d.tags.some((t) => t.key === 'site' && t.value === 'south') && ['standalone', 'gateway'].includes(d.deviceClass)),
      'devices.get with tagFilter and deviceClass arrays');

    // Paging.
    const page1 = await client.devices.get({ applicationId: APP, perPage: 25, page: 1, sortField: 'id' });
    check(page1.count === 25 && page1.page === 1 && page1.totalCount === 60, 'devices.get paging');

    // Create.
    const created = await client.devices.post({ applicationId: APP, device: { name: 'compat-device', deviceClass: 'standalone', tags: [{ key: 'origin', value: 'compat' }], attributes: [{ name: 'temperature', dataType: 'number' }] } });
    let state = await admin(sandbox, 'GET', '/_sandbox/devices');
    check(state.some((d) => d.id === created.id && d.name === 'compat-device'), 'devices.post creates a device');

    // Single device get.
    const one = await client.device.get({ applicationId: APP, deviceId: created.id });
    check(one.name === 'compat-device' && one.tags[0].value === 'compat', 'device.get');

    // Patch (bulk, by ids).
    const ids = north.items.slice(0, 3).map((d) => d.id);
    const patched = await client.devices.patch({ applicationId: APP, patchInfo: { deviceIds: ids, updateOperations: [{ operation: 'set', target: 'tag', value: { key: 'fw', value: '9.0.0' } }] } });
    state = await admin(sandbox, 'GET', '/_sandbox/devices');
    check(patched.updated === 3, 'devices.patch answers the updated count');
    check(ids.every((id) => state.find((d) => d.id === id).tags.some((t) => t.key === 'fw' && t.value === '9.0.0')), 'devices.patch changes the devices');

    // Send command, then read it back from the command history.
    const time = Date.UTC(2026, 10, 1, 12, 0, 0);
    const sent = await client.devices.sendCommand({ applicationId: APP, multiDeviceCommand: { name: 'reboot', payload: { delay: 1 }, time, deviceIds: ids } });
    check(sent.success === true, 'devices.sendCommand answers success');
    const history = await client.device.getCommand({ applicationId: APP, deviceId: ids[0], limit: 10, start: 1 });
    check(history.length === 1 && history[0].name === 'reboot' && history[0].payload.delay === 1 && Date.parse(history[0].time) === time, 'device.getCommand returns the command');

    // Remove data for one attribute.
    const target = state.find((d) => (d.dataPointsByAttribute.temperature || 0) > 0);
    const removed = await client.devices.removeData({ applicationId: APP, options: { query: { id: target.id }, attributes: ['temperature'] } });
    state = await admin(sandbox, 'GET', '/_sandbox/devices');
    check(removed.completed === 1, 'devices.removeData answers completed');
    check(!('temperature' in state.find((d) => d.id === target.id).dataPointsByAttribute), 'devices.removeData removes the data points');

    // Delete, then restore (generic request: losant-rest has no restore method).
    const deleted = await client.devices.delete({ applicationId: APP, options: { query: { id: created.id } } });
    state = await admin(sandbox, 'GET', '/_sandbox/devices');
    check(deleted.removed === 1 && state.find((d) => d.id === created.id).deletedAt, 'devices.delete soft-deletes');
    const listedDeleted = await client.devices.get({ applicationId: APP, query: { id: created.id } });
    check(listedDeleted.totalCount === 0, 'a deleted device is no longer listed');
    const restored = await client.request({ method: 'post', url: `/applications/${APP}/devices/restore`, data: { query: { id: created.id } } });
    state = await admin(sandbox, 'GET', '/_sandbox/devices');
    check(restored.restored === 1 && !state.find((d) => d.id === created.id).deletedAt, 'restore brings the device back');

    // Export.
    const exported = await client.devices.export({ applicationId: APP, email: 'ops@example.com', options: { query: { tags: { site: 'north' } }, format: 'json' } });
    check(exported.success === true, 'devices.export answers success');

    // A bulk patch over the threshold: 202, then the job log (generic request).
    const queued = await client.devices.patch({ applicationId: APP, patchInfo: { query: {}, updateOperations: [{ operation: 'set', target: 'description', value: 'bulk' }] } });
    check(queued.jobQueued === true && typeof queued.jobId === 'string', 'a large patch is queued as a job');
    let log;
    for (let i = 0; i < 100; i += 1) {
      log = await client.request({ method: 'get', url: `/applications/${APP}/jobLogs/${queued.jobId}` });
      if (log.status === 'completed') break;
      await sleep(50);
    }
    check(log.status === 'completed' && log.output.updated === 61 && log.progress.total === 61, 'the job log reports completion and counts');
    const logs = await client.request({ method: 'get', url: `/applications/${APP}/jobLogs`, params: { perPage: 10 } });
    check(logs.items.some((l) => l.jobId === queued.jobId), 'job logs can be listed');
    state = await admin(sandbox, 'GET', '/_sandbox/devices?deleted=exclude');
    check(state.every((d) => d.description === 'bulk'), 'the queued job changed every device');

    // Errors surface as the client expects them: statusCode and type.
    try {
      await client.devices.patch({ applicationId: APP, patchInfo: { deviceIds: ['nope'], updateFields: { name: 'x' } } });
      check(false, 'an invalid body is refused');
    } catch (err) {
      check(err.statusCode === 400 && err.type === 'Validation' && /deviceIds\[0\]/.test(err.message), 'validation errors name the field');
    }
    try {
      await api.createClient({ accessToken: 'wrong', url: sandbox.url }).devices.get({ applicationId: APP });
      check(false, 'a wrong token is refused');
    } catch (err) {
      check(err.statusCode === 401, 'a wrong token gets 401');
    }
  } finally {
    sandbox.stop();
  }
  return summary();
}

main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
