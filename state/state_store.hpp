#pragma once
// The state file: one SQLite database per plan (or per --state), the single
// source of truth of every run. WAL mode, synchronous=FULL, one short
// transaction per change, so that a SIGKILL at any moment leaves either the
// old or the new state. The persistent format and the resume protocol are
// described in docs/STATE.md. SQLite headers stay in state_store.cpp.
//
// Not thread safe: one coordinator owns the store (see runner/coordinator).

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fleetrun::state {

// 1 + the migrations in state_store.cpp; docs/STATE.md lists what each added.
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

std::string_view to_string(RunKind kind);
std::string_view to_string(RunStatus status);
std::string_view to_string(StepStatus status);
std::string_view to_string(BatchStatus status);
std::optional<BatchStatus> batch_status_from(std::string_view text);

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

enum class OpenMode { create_if_missing, must_exist };

class Transaction;

class StateStore {
public:
  // Refuses (with the reason) a file that is not SQLite, not fleetrun's, or
  // written by a newer schema. A new file is created readable by its owner
  // only (0600; its -wal and -shm files follow it).
  static std::expected<std::unique_ptr<StateStore>, StateError> open(const std::string& path, OpenMode mode);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  const std::string& path() const { return m_path; }
  // Throws StateFailure when the file at path() is gone or is another file
  // than the one opened (deleted, moved away or replaced under a running
  // command): what is written would reach no file anyone will read.
  void check_still_there() const;
  // PRAGMA synchronous of this connection: 2 FULL (the default here), 1 NORMAL.
  int synchronous() const;

  // All writes below commit immediately unless a Transaction is open.
  Transaction transaction();

  // Runs.
  std::string new_run_id() const;
  void insert_run(const RunRecord& run);
  std::optional<RunRecord> run(const std::string& id) const;
  std::vector<RunRecord> runs() const; // newest first
  // The runs whose device lists `id`'s steps read (its preview, when applied from one).
  std::vector<std::string> runs_read_by(const std::string& id) const;
  // Removes a run and everything recorded for it, in one transaction.
  void delete_run(const std::string& id);
  // Gives the space of removed rows back to the file system (VACUUM).
  void reclaim_space();
  void set_run_status(const std::string& id, RunStatus status);
  void set_run_summary(const std::string& id, const std::string& summary_json);
  void set_learned_rate(const std::string& id, double rate);

  // Resolved device lists, streamed in by pages.
  void upsert_query(const QueryRecord& query);
  std::optional<QueryRecord> query(const std::string& run_id, const std::string& name) const;
  std::vector<QueryRecord> queries(const std::string& run_id) const;
  void clear_query_devices(const std::string& run_id, const std::string& name);
  // Appends devices (id and API document) in order after those stored.
  void append_devices(const std::string& run_id, const std::string& name,
                      const std::vector<std::pair<std::string, std::string>>& devices);
  std::int64_t device_count(const std::string& run_id, const std::string& name) const;
  // Visits device ids (and documents, when `with_documents`) in their stored
  // order: the first `limit` of them, or all when it is negative.
  void for_each_device(const std::string& run_id, const std::string& name, bool with_documents,
                       const std::function<void(const std::string& id, const std::string& document)>& visit,
                       std::int64_t limit = -1) const;
  // Like for_each_device, without the ids also in any of the lists `excluded`
  // of the same run (a step's devices less those an earlier step deletes).
  void for_each_device_excluding(const std::string& run_id, const std::string& name,
                                 const std::vector<std::string>& excluded,
                                 const std::function<void(const std::string& id)>& visit) const;
  // A list's devices in id order, one at a time: several can be read side by
  // side (the preview walks the lists of all steps together, device by device).
  class DeviceCursor {
  public:
    virtual ~DeviceCursor() = default;
    virtual bool next() = 0; // false at the end
    virtual const std::string& id() const = 0;
    virtual const std::string& document() const = 0;
  };
  std::unique_ptr<DeviceCursor> devices_by_id(const std::string& run_id, const std::string& name,
                                              bool with_documents) const;
  // Ids in `a_run`'s list and not in `b_run`'s: drift between a preview and now.
  std::vector<std::string> devices_missing_from(const std::string& a_run, const std::string& a_name,
                                                const std::string& b_run, const std::string& b_name, std::int64_t limit,
                                                std::int64_t& total) const;

  // Steps and batches.
  void insert_step(const StepRecord& step);
  std::vector<StepRecord> steps(const std::string& run_id) const;
  void update_step(const StepRecord& step);
  void insert_batch(const BatchRecord& batch);
  // A step's batches; without requests, their device ids and bodies are left
  // out (a million-device step's requests are tens of megabytes).
  std::vector<BatchRecord> batches(const std::string& run_id, int step_index, bool with_requests = true) const;
  std::optional<BatchRecord> batch(const std::string& run_id, int step_index, int batch_index) const;
  void update_batch(const BatchRecord& batch);
  // Records everything but the request (ids, method, path, body, hash), which
  // stays as stored: what the coordinator writes as a batch moves along.
  void update_batch_progress(const BatchRecord& batch);

  // Events: an append-only story of the run.
  void add_event(const std::string& run_id, const std::string& kind, const std::string& message);
  std::vector<EventRecord> events(const std::string& run_id) const;

  // The run lock. acquire() takes a free lock or one left by a dead process
  // (noting the takeover in the run's events) and refuses one held by a live
  // process, saying who holds it.
  std::expected<void, LockHolder> acquire_lock(const std::string& run_id);
  void heartbeat(const std::string& run_id);
  void release_lock(const std::string& run_id);
  std::optional<LockHolder> lock_holder(const std::string& run_id) const;

  // For tests and bench: raw SQL.
  void execute(const std::string& sql);

private:
  friend class Transaction;
  StateStore(std::string path, void* db);
  std::string m_path;
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// An all-or-nothing unit: rolls back unless commit() is called. Nested
// transactions are savepoints: an inner one that is not committed undoes its
// own writes only; nothing is durable until the outermost one commits.
class Transaction {
public:
  explicit Transaction(StateStore& store);
  ~Transaction();
  Transaction(Transaction&& other) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  void commit();

private:
  StateStore* m_store;
  int m_depth;
  bool m_done = false;
};

// While it lives, commits are not forced to disk (synchronous=NORMAL): they
// survive the process being killed, not a power cut. For writes that are
// redone anyway when they did not all land (a device list not yet marked
// resolved); restore() (or the destructor) goes back to synchronous=FULL, and
// the next commit syncs everything written before it.
class RelaxedDurability {
public:
  explicit RelaxedDurability(StateStore& store);
  ~RelaxedDurability();
  RelaxedDurability(const RelaxedDurability&) = delete;
  RelaxedDurability& operator=(const RelaxedDurability&) = delete;
  void restore();
  // Back to synchronous=NORMAL after a restore().
  void relax();

private:
  StateStore* m_store;
  bool m_restored = false;
};

// Whether a process that took a lock is still alive (same host: pid and its
// start time; other hosts: a heartbeat within the last two minutes).
bool lock_holder_alive(const LockHolder& holder, std::int64_t now_ms);

} // namespace fleetrun::state
