#pragma once
// What a state file says about one run, as typed values: what `status`,
// `report` and the notification read. Read from the state file only; takes no
// lock. `to_json` gives `status --output json` its shape (docs/CLI.md).

#include "state/state_store.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleetrun::report {

struct LockFacts {
  std::int64_t pid = 0;
  std::string host;
  std::int64_t heartbeat_ms = 0;
  bool alive = false; // the process still runs
};

// A batch that did not end done and has an error to show.
struct BatchProblem {
  int batch = 0;      // from 1
  std::string status; // as people read it: pending, in flight, failed, unknown, ...
  std::string error;
};

struct JobInProgress {
  int batch = 0; // from 1
  std::string job_id;
  std::string job_status;
  std::string progress;
};

struct StepFacts {
  int index = 0; // from 1
  std::string id;
  std::string action;
  std::string query;
  std::string status;
  std::int64_t devices = 0;
  std::int64_t batch_count = 0;
  // Batches by state as people read it: pending (planned or waiting to
  // retry), in flight (sending), done, enqueued, failed, unknown.
  std::map<std::string, std::int64_t> batches;
  // Devices by the same states; a job that ended errored part-way counts its
  // failed devices as failed and the rest as done.
  std::map<std::string, std::int64_t> devices_by_state;
  // The step's outcome counts (updated, sent, removed, failed, ...).
  std::map<std::string, std::int64_t> totals;
  nlohmann::json result; // as the step loop recorded it (batches, totals, failedDevices)
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0; // 0: not finished
  std::vector<BatchProblem> problems;
  std::vector<JobInProgress> jobs;
};

struct EventFacts {
  std::int64_t at_ms = 0;
  std::string kind;
  std::string message;
};

// Requests per bucket of whole seconds, for the report's chart.
struct TimelineBucket {
  std::int64_t offset = 0; // in buckets since start_ms
  std::int64_t requests = 0;
  std::int64_t throttled = 0;
  std::int64_t failed = 0;
};
struct Timeline {
  std::int64_t start_ms = 0;
  std::int64_t bucket_seconds = 1;
  std::vector<TimelineBucket> buckets;
};

struct RunFacts {
  std::string run;
  std::string kind;
  std::string status;
  std::string plan;
  std::string application;
  std::string api_url;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  double learned_rate = 0;
  std::string from_preview; // empty: devices resolved by the run itself
  std::optional<LockFacts> lock;
  std::vector<StepFacts> steps;
  std::vector<EventFacts> events;
  // The run's request counters as recorded at its end (null before):
  // requests, retries, throttled429, ..., requestsBy {resolution, batches, ...}.
  nlohmann::json counters;
  Timeline timeline;
  nlohmann::json summary; // as recorded (outcome, message, counters, timeline; or a preview's facts)
};

// A device of a step that did not end done, with its batch's outcome and reason.
struct DeviceNotDone {
  std::string step;
  int batch = 0; // from 1
  std::string device;
  std::string outcome; // failed, part_failed, pending, in_flight, enqueued, unknown
  std::string reason;
};

RunFacts run_facts(const state::StateStore& store, const state::RunRecord& run);

nlohmann::json to_json(const RunFacts& facts);
nlohmann::json to_json(const std::vector<DeviceNotDone>& devices);

} // namespace fleetrun::report
