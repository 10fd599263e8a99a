#pragma once
// What plan, apply and resume share: loading the plan, opening the
// connection and the state file, the steps before the first change (resolve,
// drift, guards, the preview shown, the confirmation), and the end of a run
// (its outcome said, notified, mapped to an exit code).

#include "cli/settings.hpp"
#include "runner/connection.hpp"
#include "runner/coordinator.hpp"

#include "plans/plan.hpp"
#include "state/run_journal.hpp"

#include <memory>
#include <optional>
#include <string>

namespace fleetrun::cli {

// The plan, or every problem in it printed and UsageError thrown.
plans::Plan load_plan(const std::string& path);
std::unique_ptr<runner::ApiConnection> open_connection(const ConnectionSettings& settings);

// What plan and apply start from: the plan, where the API is, the state file
// opened for writing (the coordinator's journal).
struct Session {
  plans::Plan plan;
  ConnectionSettings settings;
  std::unique_ptr<runner::ApiConnection> connection;
  std::string state_path;
  std::unique_ptr<state::StateStore> store;
  std::unique_ptr<state::RunJournal> journal;
};

Session open_session(const ConnectionFlags& flags, const std::string& plan_path,
                     const std::optional<std::string>& state_option);

runner::RunOrigin origin_of(const std::string& plan_path, const runner::ApiConnection& connection,
                            const std::string& preview_id);

// The run ends before any change: refused (exit `code`), or stopped by a
// signal or the API while `doing` something (130, 2 or 5).
int refuse(runner::Coordinator& coordinator, const std::string& run_id, const std::string& message, int code);
int stopped_before_change(runner::Coordinator& coordinator, const std::string& run_id, const std::string& doing,
                          const api::ApiError& error, const ConnectionSettings& connection);

// Counts the application's devices once, for the whole-fleet guard, and keeps
// the count for the preview's shares of the fleet.
struct FleetCounter {
  runner::Coordinator& coordinator;
  std::optional<std::int64_t> size;
  api::ApiResult operator()();
};

// --progress: a live line on a terminal (rewritten in place twice a second),
// otherwise a log line every 5 seconds; both once more when a step ends.
void show_progress(runner::Coordinator& coordinator, const std::string& mode);

// Everything before the first change: resolve the queries (GET only), check
// drift against the preview and the guards, show the plan, ask, and record
// the steps. Apply runs it; resume runs it again for a run that was stopped
// before its steps were recorded (nothing was changed then).
int prepare_run(runner::Coordinator& coordinator, const state::StateStore& db, const plans::Plan& plan,
                const state::RunRecord& run, const std::optional<state::RunRecord>& preview, bool yes,
                const std::string& output, const ConnectionSettings& connection);

// notify: (cli/notify.hpp) for a run that ended with `code`: 0 finished, 130
// and a paused API (5 with the run resumable) paused, anything else failed.
void notify_outcome(const plans::Plan& plan, const state::StateStore& db, const std::string& run_id, int code);

// Executes the run's steps, records the outcome, says what happened; the exit code.
int execute_and_finish(runner::Coordinator& coordinator, const state::StateStore& db, const std::string& run_id,
                       const std::string& output, const ConnectionSettings& connection);

} // namespace fleetrun::cli
