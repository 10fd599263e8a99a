#pragma once
// The state file, write side: every write any command makes, in one type.
// The coordinator writes a run through it from its first row to its last
// event; `prune` removes finished runs through it. SIGKILL at any moment
// leaves either the old or the new state: WAL mode, synchronous=FULL, one
// short transaction per change.

#include "state/state_store.hpp"

#include <string>
#include <utility>
#include <vector>

namespace fleetrun::state {

class Transaction;

class RunJournal {
public:
  // Writes to `store`, which must have been opened for writing (throws StateFailure otherwise).
  explicit RunJournal(StateStore& store);
  RunJournal(const RunJournal&) = delete;
  RunJournal& operator=(const RunJournal&) = delete;

  const StateStore& reader() const { return m_store; }
  const std::string& path() const { return m_store.path(); }

  // All writes below commit immediately unless a Transaction is open.
  Transaction transaction();

  // Runs.
  std::string new_run_id() const;
  void insert_run(const RunRecord& run);
  // Removes a run and everything recorded for it, in one transaction.
  void delete_run(const std::string& id);
  // Gives the space of removed rows back to the file system (VACUUM).
  void reclaim_space();
  void set_run_status(const std::string& id, RunStatus status);
  void set_run_summary(const std::string& id, const std::string& summary_json);
  void set_learned_rate(const std::string& id, double rate);

  // Resolved device lists, streamed in by pages.
  void upsert_query(const QueryRecord& query);
  void clear_query_devices(const std::string& run_id, const std::string& name);
  // Adds devices (id and the kept part of the API document); a device already
  // in the list is kept once.
  void append_devices(const std::string& run_id, const std::string& name,
                      const std::vector<std::pair<std::string, std::string>>& devices);

  // Steps and batches.
  void insert_step(const StepRecord& step);
  void update_step(const StepRecord& step);
  void insert_batch(const BatchRecord& batch);
  void update_batch(const BatchRecord& batch);
  // Records everything but the request (ids, method, path, body, hash), which
  // stays as stored: what the coordinator writes as a batch moves along.
  void update_batch_progress(const BatchRecord& batch);

  // Events: an append-only story of the run.
  void add_event(const std::string& run_id, const std::string& kind, const std::string& message);

  // The run lock. acquire() takes a free lock or one left by a dead process
  // (noting the takeover in the run's events) and refuses one held by a live
  // process, saying who holds it.
  std::expected<void, LockHolder> acquire_lock(const std::string& run_id);
  void heartbeat(const std::string& run_id);
  void release_lock(const std::string& run_id);

  // Raw SQL: schema changes, tests and benchmarks.
  void execute(const std::string& sql);

private:
  friend class Transaction;
  friend class RelaxedDurability;
  StateStore::Impl& impl() const { return *m_store.m_impl; }
  StateStore& m_store;
};

// An all-or-nothing unit: rolls back unless commit() is called. Nested
// transactions are savepoints: an inner one that is not committed undoes its
// own writes only; nothing is durable until the outermost one commits.
class Transaction {
public:
  explicit Transaction(RunJournal& journal);
  ~Transaction();
  Transaction(Transaction&& other) noexcept;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Transaction& operator=(Transaction&&) = delete;
  void commit();

private:
  RunJournal* m_journal;
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
  explicit RelaxedDurability(RunJournal& journal);
  ~RelaxedDurability();
  RelaxedDurability(const RelaxedDurability&) = delete;
  RelaxedDurability& operator=(const RelaxedDurability&) = delete;
  void restore();
  // Back to synchronous=NORMAL after a restore().
  void relax();

private:
  RunJournal* m_journal;
  bool m_restored = false;
};

} // namespace fleetrun::state
