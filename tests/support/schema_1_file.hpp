#pragma once
// A state file as fleetrun 1 wrote it (the tables a migration touches, as
// they were), with one finished run and its device lists: what migration
// tests start from.

namespace fleetrun::testing {

inline constexpr const char* k_schema_1_file = R"sql(
CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, plan_path TEXT NOT NULL,
  plan_hash TEXT NOT NULL, effective_hash TEXT NOT NULL, plan_text TEXT NOT NULL, api_url TEXT NOT NULL,
  application_id TEXT NOT NULL, preview_run_id TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, learned_rate REAL NOT NULL DEFAULT 0, summary_json TEXT NOT NULL DEFAULT '{}');
CREATE TABLE queries (run_id TEXT NOT NULL REFERENCES runs(id), name TEXT NOT NULL, query_json TEXT NOT NULL,
  total INTEGER NOT NULL DEFAULT 0, resolved INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, name));
CREATE TABLE query_devices (run_id TEXT NOT NULL, query_name TEXT NOT NULL, position INTEGER NOT NULL,
  device_id TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (run_id, query_name, position)) WITHOUT ROWID;
CREATE INDEX query_devices_by_id ON query_devices (run_id, query_name, device_id);
CREATE TABLE steps (run_id TEXT NOT NULL REFERENCES runs(id), step_index INTEGER NOT NULL, step_id TEXT NOT NULL,
  action TEXT NOT NULL, query_name TEXT NOT NULL, snapshot_run_id TEXT NOT NULL, status TEXT NOT NULL,
  device_count INTEGER NOT NULL DEFAULT 0, batch_count INTEGER NOT NULL DEFAULT 0, result_json TEXT NOT NULL DEFAULT '{}',
  started_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, step_index));
CREATE TABLE batches (run_id TEXT NOT NULL, step_index INTEGER NOT NULL, batch_index INTEGER NOT NULL,
  status TEXT NOT NULL, device_ids_json TEXT NOT NULL, device_count INTEGER NOT NULL, method TEXT NOT NULL,
  path TEXT NOT NULL, body TEXT NOT NULL, request_hash TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  http_status INTEGER NOT NULL DEFAULT 0, response TEXT NOT NULL DEFAULT '', job_id TEXT NOT NULL DEFAULT '',
  job_status TEXT NOT NULL DEFAULT '', job_progress TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',
  next_attempt_ms INTEGER NOT NULL DEFAULT 0, sent_ms INTEGER NOT NULL DEFAULT 0, finished_ms INTEGER NOT NULL DEFAULT 0,
  outcome_json TEXT NOT NULL DEFAULT '{}', PRIMARY KEY (run_id, step_index, batch_index));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL, message TEXT NOT NULL);
CREATE TABLE run_locks (run_id TEXT PRIMARY KEY, pid INTEGER NOT NULL, process_start TEXT NOT NULL, host TEXT NOT NULL,
  acquired_ms INTEGER NOT NULL, heartbeat_ms INTEGER NOT NULL);
INSERT INTO runs (id, kind, status, plan_path, plan_hash, effective_hash, plan_text, api_url, application_id,
  created_ms, updated_ms) VALUES ('r-old', 'apply', 'completed', 'plan.yaml', 'abc', 'def', 'version: 1',
  'http://127.0.0.1:1', '5f1a2b3c4d5e6f7a8b9c0d1e', 1000, 1000);
INSERT INTO query_devices VALUES ('r-old', 'all', 0, '5f0000000000000000000002', '{"name":"b"}');
INSERT INTO query_devices VALUES ('r-old', 'all', 1, '5f0000000000000000000001', '{"name":"a"}');
INSERT INTO query_devices VALUES ('r-old', 'other', 0, '5f0000000000000000000003', '{"name":"c"}');
PRAGMA application_id=1179406932;
PRAGMA user_version=1;
)sql";

} // namespace fleetrun::testing
