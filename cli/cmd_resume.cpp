// fleetrun resume: continues an interrupted apply run where it stopped, each
// batch from its recorded state (docs/STATE.md, "What resume does").
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/options.hpp"
#include "cli/session.hpp"
#include "cli/signals.hpp"
#include "cli/state_files.hpp"
#include "preview/plan_changes.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/worker_pool.hpp"

#include "losant/time_format.hpp"

#include <iostream>
#include <memory>

namespace fleetrun::cli {

using namespace runner;

void setup_resume(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<ResumeOptions>();
  auto* command = app.add_subcommand("resume", "Continue an interrupted apply run where it stopped");
  add_connection_options(*command, invocation.connection);
  command->add_option("plan", options->plan, "plan file [default: the one the run recorded]");
  add_state_option(*command, options->state, "the only *.fleetrun.db here");
  command->add_option("--run", options->run, "run id [default: the newest apply run]");
  add_output_option(*command, options->output);
  add_execution_options(*command, options->execution);
  add_progress_option(*command, options->progress);
  command->callback([&invocation, options] {
    invocation.run = [&invocation, options] { return run_resume(invocation.connection, *options); };
  });
}

int run_resume(const ConnectionFlags& flags, const ResumeOptions& options)
{
  const auto& stop = install_stop_handlers();
  auto state_path = find_state_file(options.state);
  if (!state_path) throw UsageError(state_path.error());
  auto store = open_existing_state(*state_path);
  if (!store) throw state::StateFailure(store.error());
  const state::StateStore& db = **store;
  state::RunJournal journal(**store);
  std::optional<state::RunRecord> run;
  if (!options.run.empty()) {
    run = db.run(options.run);
    if (!run || run->kind != state::RunKind::apply) {
      throw state::StateFailure(*state_path + " holds no apply run " + options.run);
    }
  } else {
    for (const auto& candidate : db.runs()) {
      if (candidate.kind == state::RunKind::apply && candidate.status != state::RunStatus::refused) {
        run = candidate;
        break;
      }
    }
    if (!run) throw state::StateFailure(*state_path + " holds no apply run to resume");
  }
  if (run->status == state::RunStatus::completed) {
    std::cout << "run " << run->id << " already completed; nothing to resume\n";
    return k_exit_ok;
  }
  const std::string plan_path = options.plan.empty() ? run->plan_path : options.plan;
  const plans::Plan plan = load_plan(plan_path);
  if (plan.text_hash != run->plan_hash || plan.effective_hash != run->effective_hash) {
    throw state::StateFailure(plan_path + " changed since run " + run->id + " started:\n" +
                              preview::describe_plan_change(*run, plan) +
                              "resume refuses to mix two plans: restore the file and the variables, or start a new "
                              "run with `fleetrun apply`");
  }
  const ConnectionSettings connection_settings = resolve_connection(flags, plans::process_environment(), &plan);
  if (connection_settings.api_url != run->api_url) {
    throw state::StateFailure("run " + run->id + " was against " + run->api_url + ", not " +
                              connection_settings.api_url + "; resume talks to the same API");
  }
  const auto connection = open_connection(connection_settings);
  if (connection->client().application_id() != run->application_id) {
    throw state::StateFailure("run " + run->id + " was against application " + run->application_id + ", not " +
                              connection->client().application_id());
  }

  const ExecutionSettings settings = resolve_execution(options.execution, plan);
  SystemClock clock;
  WorkerPool sender(*connection, settings.concurrency);
  RateLimiter limiter(settings.rate, settings.burst, clock.now());
  limiter.allow_in_flight(1); // resolution: one page in flight at a time
  Coordinator coordinator(journal, plan, {sender, limiter, clock, stop}, settings);
  if (auto locked = coordinator.take_over(run->id); !locked) {
    const auto& holder = locked.error();
    throw state::StateFailure("run " + run->id + " is being applied by pid " + std::to_string(holder.pid) + " on " +
                              holder.host + " (heartbeat " +
                              std::to_string((losant::now_epoch_ms() - holder.heartbeat_ms) / 1000) +
                              " s ago); wait for it or stop it");
  }
  if (db.steps(run->id).empty()) {
    // Stopped before its steps were recorded, so before any change: prepare again.
    std::optional<state::RunRecord> preview;
    if (!run->preview_run_id.empty()) preview = db.run(run->preview_run_id);
    if (const int code = prepare_run(coordinator, db, plan, *run, preview, true, options.output, connection_settings);
        code != k_exit_ok) {
      notify_outcome(plan, db, run->id, code);
      return code;
    }
  }
  show_progress(coordinator, options.progress);
  const int code = execute_and_finish(coordinator, db, run->id, options.output, connection_settings);
  notify_outcome(plan, db, run->id, code);
  return code;
}

} // namespace fleetrun::cli
