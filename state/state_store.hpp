#pragma once
// The state file, read side: one SQLite database per plan (or per --state),
// the single source of truth of every run. Its writes all go through one
// type, RunJournal (state/run_journal.hpp): the read side cannot write, and a
// command that only reads opens the file read-only. The persistent format
// and the resume protocol are described in docs/STATE.md. SQLite headers stay
// in state/*.cpp.
//
// Not thread safe: one coordinator owns the store (see runner/coordinator).

#include "state/records.hpp"

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fleetrun::state {

// read_only: a command that only reads (status, runs, report): the file is
// opened read-only and an older schema is not migrated (it is refused, saying
// what to run). The others open it for a RunJournal, creating and migrating.
enum class OpenMode { read_only, create_if_missing, must_exist };

class RunJournal;

// The read side of the state file. Every method reads; none writes.
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
  bool read_only() const;
  // Throws StateFailure when the file at path() is gone or is another file
  // than the one opened (deleted, moved away or replaced under a running
  // command): what is written would reach no file anyone will read.
  void check_still_there() const;
  // PRAGMA synchronous of this connection: 2 FULL (the default here), 1 NORMAL.
  int synchronous() const;

  // Runs.
  std::optional<RunRecord> run(const std::string& id) const;
  std::vector<RunRecord> runs() const; // newest first
  // The runs whose device lists `id`'s steps read (its preview, when applied from one).
  std::vector<std::string> runs_read_by(const std::string& id) const;

  // Resolved device lists.
  std::optional<QueryRecord> query(const std::string& run_id, const std::string& name) const;
  std::vector<QueryRecord> queries(const std::string& run_id) const;
  std::int64_t device_count(const std::string& run_id, const std::string& name) const;
  // Visits device ids (and documents, when `with_documents`) in id order:
  // the first `limit` of them, or all when it is negative.
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
  std::vector<StepRecord> steps(const std::string& run_id) const;
  // A step's batches; without requests, their device ids and bodies are left
  // out (a million-device step's requests are tens of megabytes).
  std::vector<BatchRecord> batches(const std::string& run_id, int step_index, bool with_requests = true) const;
  std::optional<BatchRecord> batch(const std::string& run_id, int step_index, int batch_index) const;

  // Events: an append-only story of the run.
  std::vector<EventRecord> events(const std::string& run_id) const;

  // Who holds a run's lock, if anyone.
  std::optional<LockHolder> lock_holder(const std::string& run_id) const;

  struct Impl; // state/sqlite.hpp

private:
  friend class RunJournal;
  StateStore(std::string path, void* db, bool read_only);
  Impl& impl() const { return *m_impl; }
  std::string m_path;
  std::unique_ptr<Impl> m_impl;
};

// Whether a process that took a lock is still alive (same host: pid and its
// start time; other hosts: a heartbeat within the last two minutes).
bool lock_holder_alive(const LockHolder& holder, std::int64_t now_ms);

} // namespace fleetrun::state
