// Two checks with ajv, the reference JSON Schema validator:
// 1. every request body fleetrun's own client sent during the integration
//    tests validates against the official Losant schema for its endpoint
//    (the tests' sandboxes log bodies when FLEETRUN_TEST_BODY_LOG_DIR is set);
// 2. the sandbox's built-in validator agrees with ajv on a corpus of valid
//    and broken bodies.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { requireOrSkip, startSandbox, admin, check, summary } = require('./support');
const Ajv = requireOrSkip('ajv');
const addFormats = requireOrSkip('ajv-formats');

const [, , fleetrun, integrationTests, schemaDir] = process.argv;

function loadSchemas() {
  const schemas = {};
  for (const file of fs.readdirSync(schemaDir).filter((f) => f.endsWith('.json'))) {
    schemas[path.basename(file, '.json')] = JSON.parse(fs.readFileSync(path.join(schemaDir, file), 'utf8'));
  }
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // The nested `#/definitions/advancedDeviceQuery` references mean the query
  // schema itself (NOTES.md): give every schema that definition.
  const query = { ...schemas.advancedDeviceQuery };
  delete query.$schema;
  const validators = {};
  for (const [name, schema] of Object.entries(schemas)) {
    const copy = { ...schema, definitions: { ...(schema.definitions || {}), advancedDeviceQuery: query } };
    delete copy.$schema;
    validators[name] = ajv.compile(copy);
  }
  return validators;
}

function schemaFor(method, route) {
  const rest = route.replace(/^\/applications\/[0-9a-fA-F]{24}/, '');
  const table = {
    'PATCH /devices': 'devicesPatch', 'POST /devices': 'devicePost', 'POST /devices/delete': 'devicesDeleteOrRestorePost',
    'POST /devices/restore': 'devicesDeleteOrRestorePost', 'POST /devices/removeData': 'devicesRemoveDataPost',
    'POST /devices/command': 'multiDeviceCommand', 'POST /devices/export': 'devicesExportPost',
  };
  const key = `${method} ${rest.replace(/^\/devices\/[0-9a-fA-F]{24}\/command$/, '/devices/{id}/command')}`;
  if (key === 'POST /devices/{id}/command') return 'deviceCommand';
  if (/^PATCH \/devices\/[0-9a-fA-F]{24}$/.test(key)) return 'devicePatch';
  return table[key];
}

function checkLoggedBodies(validators) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleetrun-bodies-'));
  const run = spawnSync(integrationTests, [], { env: { ...process.env, FLEETRUN_TEST_BODY_LOG_DIR: dir }, encoding: 'utf8' });
  check(run.status === 0, `the integration tests pass while logging bodies (exit ${run.status})`);
  let validated = 0;
  const covered = new Set();
  for (const file of fs.readdirSync(dir)) {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n').filter(Boolean)) {
      const entry = JSON.parse(line);
      if (!entry.agent || !entry.agent.startsWith('fleetrun/') || entry.body === undefined) continue;
      const schema = schemaFor(entry.method, entry.path);
      check(schema !== undefined, `a schema is known for ${entry.method} ${entry.path}`);
      if (!schema) continue;
      const ok = validators[schema](entry.body);
      check(ok, `${entry.method} ${entry.path} body validates against ${schema}: ${JSON.stringify(validators[schema].errors)}`);
      validated += 1;
      covered.add(schema);
    }
  }
  console.log(`validated ${validated} request bodies sent by fleetrun, schemas: ${[...covered].sort().join(', ')}`);
  check(validated > 0, 'fleetrun sent request bodies to validate');
  fs.rmSync(dir, { recursive: true, force: true });
}

// Valid bodies and systematic breakages of them.
function corpus() {
  const id = '575ec8687ae143cd83dc4a97';
  const valid = {
    devicesPatch: [
      { deviceIds: [id], updateOperations: [{ operation: 'set', target: 'tag', value: { key: 'fw', value: '2' } }] },
      { query: { $or: [{ id: { $in: [id] } }, { tags: { site: 'x' } }] }, updateFields: { description: 'd', tags: [{ key: 'a', value: 'b' }] } },
      { deviceIds: [id], updateOperations: [{ operation: 'remove', target: 'attributeTag', attributeName: 'a', tagKey: 'k' }] },
      { deviceIds: [id], updateOperations: [{ operation: 'add', target: 'attribute', value: { name: 'x', dataType: 'number' } }] },
    ],
    devicesDeleteOrRestorePost: [{ query: { name: { $startsWith: 'n', $ci: true } } }, { query: {}, forceJob: true, email: 'a@b.co' }],
    devicesRemoveDataPost: [{ query: { id }, start: 1, end: 0, attributes: ['t'] }, { query: {}, attributes: null }],
    multiDeviceCommand: [{ name: 'reboot', payload: { a: 1 }, time: 5, deviceIds: [id] }, { name: 'x', deviceTags: [{ key: 'a' }], time: { $date: '2026-01-01' } }],
    devicesExportPost: [{}, { format: 'json', query: { tags: { $tagKey: 'a', $tagValue: { $in: ['b'] } } } }],
    devicePost: [{ name: 'n' }, { name: 'n', deviceClass: 'gateway', systemInterval: 30 }],
    advancedDeviceQuery: [{}, { tags: { $ne: { site: null } } }, { creationDate: { $gte: 1, $lt: '2026-01-01' } }, { $nor: [{ parentId: null }] }],
  };
  const broken = [
    ['devicesPatch', { deviceIds: ['x'] }], ['devicesPatch', { deviceIds: [id], extra: 1 }],
    ['devicesPatch', { deviceIds: [id], updateOperations: [{ operation: 'set', target: 'colour', value: 'x' }] }],
    ['devicesPatch', { updateOperations: [{ operation: 'set', target: 'systemInterval', value: 2 }] }],
    ['devicesPatch', { updateOperations: [{ operation: 'set', target: 'systemInterval', value: 5.5 }] }],
    ['devicesPatch', { updateFields: { name: '' } }], ['devicesPatch', { deviceIds: Array(1001).fill(id) }],
    ['devicesPatch', { updateOperations: Array(26).fill({ operation: 'remove', target: 'description' }) }],
    ['devicesDeleteOrRestorePost', {}], ['devicesDeleteOrRestorePost', { query: { nmae: 'x' } }],
    ['devicesDeleteOrRestorePost', { query: { id: { $in: Array(101).fill(id) } } }],
    ['devicesDeleteOrRestorePost', { query: { id: { $eq: id, $ne: id } } }],
    ['devicesDeleteOrRestorePost', { query: {}, email: 'nope' }], ['devicesDeleteOrRestorePost', { query: {}, forceJob: 'yes' }],
    ['devicesRemoveDataPost', { query: {}, start: 'then' }], ['devicesRemoveDataPost', { query: {}, attributes: ['bad name'] }],
    ['multiDeviceCommand', { payload: {} }], ['multiDeviceCommand', { name: '' }], ['multiDeviceCommand', { name: 'x', time: true }],
    ['multiDeviceCommand', { name: 'x', time: { $date: 1 } }], ['devicesExportPost', { format: 'xml' }],
    ['devicesExportPost', { callbackUrl: 'not a url' }], ['devicePost', {}], ['devicePost', { name: 'n', systemInterval: 4000 }],
    ['advancedDeviceQuery', { tags: { $tagKey: 5 } }], ['advancedDeviceQuery', { name: { $startsWith: '' } }],
    ['advancedDeviceQuery', { $and: 'x' }], ['advancedDeviceQuery', { $or: Array(101).fill({}) }],
    ['advancedDeviceQuery', { name: { $regex: 'x' } }], ['advancedDeviceQuery', { deviceClass: { $in: [null] } }],
  ];
  const cases = [];
  for (const [schema, bodies] of Object.entries(valid)) for (const body of bodies) cases.push([schema, body]);
  return cases.concat(broken);
}

async function checkValidatorAgreement(validators) {
  const sandbox = await startSandbox(fleetrun, []);
  try {
    let agreed = 0;
    for (const [schema, body] of corpus()) {
      const ours = await admin(sandbox, 'POST', `/_sandbox/validate/${schema}`, body);
      const theirs = validators[schema](body);
      check(ours.valid === theirs, `${schema} ${JSON.stringify(body).slice(0, 120)}: sandbox says ${ours.valid} (${ours.violations.join('; ')}), ajv says ${theirs}`);
      if (ours.valid === theirs) agreed += 1;
    }
    console.log(`the sandbox's validator agrees with ajv on ${agreed} of ${corpus().length} bodies`);
  } finally {
    sandbox.stop();
  }
}

async function main() {
  const validators = loadSchemas();
  checkLoggedBodies(validators);
  await checkValidatorAgreement(validators);
  return summary();
}

main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
