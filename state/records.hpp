#pragma once
// What the state file records, as plain values: runs, device-list queries,
// steps, batches, events, the lock holder, and the errors of the store.
// Header-only and free of SQLite: the batch machine (machine/) works on these
// records without linking the store.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fleetrun::state {

// 1 + the migrations in state/schema.cpp; docs/STATE.md lists what each added.
inline constexpr int k_schema_version = 3;
inline constexpr std::uint32_t k_application_id = 0x464C5254; // "FLRT", in the SQLite header

// Thrown when the state file fails under a running command (disk full, I/O
// error, a table missing): fleetrun stops with exit code 4.
class StateFailure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct StateError {
  std::string message;
};

enum class RunKind { preview, apply };
// previewed: a saved dry-run; refused: a guard or drift stopped it before any change;
// running: applying (or killed while applying); interrupted: stopped by a signal;
// completed / failed: every step finished, without / with failed batches.
enum class RunStatus { previewed, refused, running, interrupted, completed, failed };
enum class StepStatus { pending, running, done, failed };
// See docs/STATE.md for the life of a batch.
enum class BatchStatus { planned, sending, retry_wait, enqueued, done, failed, unknown };

constexpr std::string_view to_string(RunKind kind)
{
  return kind == RunKind::preview ? "preview" : "apply";
}

constexpr std::string_view to_string(RunStatus status)
{
  switch (status) {
  case RunStatus::previewed: return "previewed";
  case RunStatus::refused: return "refused";
  case RunStatus::running: return "running";
  case RunStatus::interrupted: return "interrupted";
  case RunStatus::completed: return "completed";
  case RunStatus::failed: return "failed";
  }
  return "?";
}

constexpr std::string_view to_string(StepStatus status)
{
  switch (status) {
  case StepStatus::pending: return "pending";
  case StepStatus::running: return "running";
  case StepStatus::done: return "done";
  case StepStatus::failed: return "failed";
  }
  return "?";
}

constexpr std::string_view to_string(BatchStatus status)
{
  switch (status) {
  case BatchStatus::planned: return "planned";
  case BatchStatus::sending: return "sending";
  case BatchStatus::retry_wait: return "retry_wait";
  case BatchStatus::enqueued: return "enqueued";
  case BatchStatus::done: return "done";
  case BatchStatus::failed: return "failed";
  case BatchStatus::unknown: return "unknown";
  }
  return "?";
}

constexpr std::optional<BatchStatus> batch_status_from(std::string_view text)
{
  for (const auto status : {BatchStatus::planned, BatchStatus::sending, BatchStatus::retry_wait, BatchStatus::enqueued,
                            BatchStatus::done, BatchStatus::failed, BatchStatus::unknown}) {
    if (to_string(status) == text) return status;
  }
  return std::nullopt;
}

struct RunRecord {
  std::string id;
  RunKind kind = RunKind::apply;
  RunStatus status = RunStatus::running;
  std::string plan_path;
  std::string plan_hash;      // SHA-256 of the plan file's text
  std::string effective_hash; // SHA-256 of the interpolated plan
  std::string plan_text;
  std::string api_url;
  std::string application_id;
  std::string preview_run_id; // apply --from-preview: the preview whose devices it uses
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  double learned_rate = 0; // requests/second last known to work; 0 unknown
  std::string summary_json = "{}";
  std::string variables_json = "{}"; // ${VAR} name -> SHA-256 of its value, as the plan used them
};

struct QueryRecord {
  std::string run_id;
  std::string name;
  std::string query_json;
  std::int64_t total = 0;
  bool resolved = false;
};

struct StepRecord {
  std::string run_id;
  int index = 0;
  std::string step_id;
  std::string action;
  std::string query_name;      // whose device list the step uses (run_id of the snapshot below)
  std::string snapshot_run_id; // the run that holds that device list
  StepStatus status = StepStatus::pending;
  std::int64_t device_count = 0;
  int batch_count = 0;
  std::string result_json = "{}";
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
};

struct BatchRecord {
  std::string run_id;
  int step_index = 0;
  int batch_index = 0;
  BatchStatus status = BatchStatus::planned;
  std::string device_ids_json = "[]";
  std::string method;
  std::string path; // relative to /applications/{id}, e.g. /devices/delete
  std::string body;
  std::string request_hash; // SHA-256 of method, path and body
  int attempts = 0;
  int http_status = 0;
  std::string response; // the useful part of the answer
  std::string job_id;
  std::string job_status;
  std::string job_progress; // "completed/total"
  std::string error;
  std::int64_t device_count = 0;
  std::int64_t next_attempt_ms = 0;
  std::int64_t sent_ms = 0;
  std::int64_t finished_ms = 0;
  std::string outcome_json = "{}"; // counts from the answer or the job
};

struct EventRecord {
  std::int64_t id = 0;
  std::string run_id;
  std::int64_t at_ms = 0;
  std::string kind;
  std::string message;
};

struct LockHolder {
  std::int64_t pid = 0;
  std::string process_start; // the process's start time (from /proc), against pid reuse
  std::string host;
  std::int64_t heartbeat_ms = 0;
};

} // namespace fleetrun::state
