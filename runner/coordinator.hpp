#pragma once
// The coordinator: the only writer of a run's state file, from the run's
// first row to its last event, and the one loop that executes its steps.
//
// A run's life, each line one method below:
//   begin / take_over   the run's row, its lock, "started" or "resumed"
//   resolve             device lists, page by page (GET requests only)
//   refuse              a guard, drift or the operator said no: nothing changed
//   record_preview      a dry-run's facts
//   record_steps        the steps of an apply, pending
//   execute             the steps, in order (below)
//   finish              the outcome, the counters, the lock released
//
// execute(), for each step:
//   plan its batches once (one transaction), or load them when resuming;
//   give each batch a BatchMachine (batch_machine.hpp), which says from the
//     recorded state what to do (the resume table of docs/STATE.md);
//   loop: send what is due while slots and the rate limit allow, committing
//     each batch's intent before its request leaves; wait for one answer;
//     hand it to the batch's machine and carry out what it says (write the
//     progress, record events, schedule follow-ups); stop early on a signal,
//     the failure budget or a halt;
//   the step ends when every batch is final or nothing more can be done now.

#include "runner/dispatcher.hpp"
#include "runner/progress.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/request_sender.hpp"
#include "runner/resolution.hpp"
#include "runner/settings.hpp"

#include "plans/plan.hpp"
#include "runner/machine_names.hpp"
#include "state/run_journal.hpp"

#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <expected>
#include <string>

namespace fleetrun::runner {

// What a run needs from the outside world; the coordinator owns none of it.
struct RunServices {
  RequestSender& sender;
  RateLimiter& limiter;
  const Clock& clock;
  const std::atomic<bool>& stop_requested;
};

enum class RunOutcome { completed, failed, interrupted, auth_failed, state_mismatch, api_paused };

struct RunResult {
  RunOutcome outcome = RunOutcome::completed;
  std::string message;
};

// Where a new run comes from, for its row.
struct RunOrigin {
  std::string plan_path; // absolute
  std::string api_url;
  std::string application_id;
  std::string preview_run_id; // apply --from-preview
};

class Coordinator final : public DeviceListSink {
public:
  Coordinator(state::RunJournal& journal, const plans::Plan& plan, RunServices services, ExecutionSettings settings);

  // A new run of the plan: its row, and for an apply its lock (the error
  // names the holder when the lock is taken).
  state::RunRecord begin(state::RunKind kind, const RunOrigin& origin);
  // An existing apply run continued by this process: its lock, status running.
  std::expected<void, state::LockHolder> take_over(const std::string& run_id);

  // Resolves every query some step uses into the run's device lists (GET only).
  std::expected<void, api::ApiError> resolve(const std::string& run_id);
  // One GET through the rate limit, transient failures retried with backoff.
  api::ApiResult get(api::RequestSpec request);

  void note(const std::string& run_id, const std::string& kind, const std::string& message);
  // The run ends before any change: status refused, event, lock released.
  void refuse(const std::string& run_id, const std::string& message);
  // Stopped by a signal before any change: status interrupted (resume prepares it again).
  void interrupt(const std::string& run_id, const std::string& message);
  // A dry-run's outcome: its facts, previewed or refused by a guard.
  void record_preview(const std::string& run_id, const nlohmann::json& facts, bool guards_ok);
  // The steps of an apply, pending, each reading the device lists of `snapshot_run`.
  void record_steps(const std::string& run_id, const std::string& snapshot_run);

  // Runs (or resumes) the apply run's steps to their end, a failure that
  // stops them, or a stop request.
  RunResult execute(const std::string& run_id);
  // Records the outcome and the counters and releases the lock.
  void finish(const std::string& run_id, const RunResult& result);

  const RunCounters& counters() const { return m_allowance.counters; }

  // Progress of execute(): `observer` gets a snapshot of the step under way
  // every `every` (of the services' clock) and once when each step ends.
  void report_progress(ProgressObserver observer, std::chrono::milliseconds every);

  // DeviceListSink: resolution's pages, written as they come.
  void begin_list(const std::string& run_id, const plans::QuerySpec& query) override;
  void append_page(const std::string& run_id, const plans::QuerySpec& query, const jobs::DevicePage& page) override;
  void end_list(const std::string& run_id, const plans::QuerySpec& query, std::int64_t total, bool complete) override;

private:
  class StepLoop;
  Moment moment() const;
  void heartbeat(const std::string& run_id);
  // At most once a second: the state file must still be the one opened.
  void check_state_file();
  ReadContext read_context();

  state::RunJournal& m_store; // the run's every write; reads through m_store.reader()
  const plans::Plan& m_plan;
  RunServices m_services;
  ExecutionSettings m_settings;
  RunAllowance m_allowance;
  Dispatcher m_dispatcher;
  int m_pages_since_sync = 0;
  double m_saved_rate = -1;
  double m_started_from = 0; // the learned rate this run started from (0: none)
  SteadyTime m_next_file_check{};
  std::unique_ptr<state::RelaxedDurability> m_relaxed;
  ProgressObserver m_progress;
  std::chrono::milliseconds m_progress_every{5000};
  SteadyTime m_execute_started{};
};

} // namespace fleetrun::runner
