// fleetrun apply: resolves the queries again (or takes a saved preview's
// devices), checks guards and drift, shows the plan, asks, and runs it; every
// batch is recorded before its request leaves and right after its answer.
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

#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>

namespace fleetrun::cli {

using namespace runner;

void setup_apply(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<ApplyOptions>();
  auto* command = app.add_subcommand("apply", "Apply a plan: every batch recorded before and after its request");
  add_connection_options(*command, invocation.connection);
  command->add_option("plan", options->plan, "plan file")->required()->check(CLI::ExistingFile);
  add_state_option(*command, options->state, "PLAN with .fleetrun.db");
  command->add_flag("--yes,-y", options->yes, "do not ask before changing devices");
  command->add_option("--from-preview", options->from_preview, "use exactly the devices of this saved preview run");
  add_progress_option(*command, options->progress);
  command->add_flag("--scheduled", options->scheduled,
                    "for schedules: continue this plan's unfinished run (as resume) instead of starting another; "
                    "exit 75 when another fleetrun is applying one now");
  command->add_flag("--reuse-preview", options->reuse_preview,
                    "apply a preview that an earlier apply used already (it repeats what that one did)");
  add_output_option(*command, options->output);
  add_execution_options(*command, options->execution);
  command->callback([&invocation, options] {
    invocation.run = [&invocation, options] { return run_apply(invocation.connection, *options); };
  });
}

namespace {

// The preview an apply uses, checked: it exists, was not refused, and was
// made of this plan against this application.
state::RunRecord usable_preview(const Session& session, const std::string& preview_id, bool reuse)
{
  auto preview = session.store->run(preview_id);
  if (!preview || preview->kind != state::RunKind::preview) {
    throw state::StateFailure(session.state_path + " holds no preview " + preview_id + " (fleetrun runs --state " +
                              session.state_path + " lists them)");
  }
  if (preview->status != state::RunStatus::previewed) {
    throw GuardRefusal("preview " + preview->id + " was refused by its guards; fix the plan and preview again");
  }
  if (preview->plan_hash != session.plan.text_hash || preview->effective_hash != session.plan.effective_hash) {
    throw state::StateFailure("the plan changed since preview " + preview->id + ":\n" +
                              preview::describe_plan_change(*preview, session.plan) +
                              "run `fleetrun plan` again and review the new preview");
  }
  // A preview is applied once, as a saved plan is in Terraform: applying it
  // again would repeat every command it sends.
  for (const auto& other : session.store->runs()) {
    if (other.kind == state::RunKind::apply && other.preview_run_id == preview->id &&
        other.status != state::RunStatus::refused && !reuse) {
      throw state::StateFailure("preview " + preview->id + " was applied already, by run " + other.id + " (" +
                                std::string(state::to_string(other.status)) +
                                "); preview again, `fleetrun resume --run " + other.id +
                                "` to finish that run, or pass --reuse-preview to apply it once more");
    }
  }
  const auto& connection = *session.connection;
  if (preview->application_id != connection.client().application_id() ||
      preview->api_url != connection.options().api_url) {
    throw state::StateFailure("preview " + preview->id + " was made against application " + preview->application_id +
                              " at " + preview->api_url + ", not " + connection.client().application_id() + " at " +
                              connection.options().api_url);
  }
  return *preview;
}

// One live run per state file: a second apply would work on the same fleet at the same time.
void refuse_if_live_run(const state::StateStore& db, const std::string& state_path)
{
  for (const auto& other : db.runs()) {
    if (other.kind != state::RunKind::apply || other.status != state::RunStatus::running) continue;
    if (const auto holder = db.lock_holder(other.id);
        holder && state::lock_holder_alive(*holder, losant::now_epoch_ms())) {
      throw state::StateFailure("run " + other.id + " in " + state_path + " is being applied by pid " +
                                std::to_string(holder->pid) + " on " + holder->host +
                                "; wait for it, or stop it and resume it");
    }
  }
}

// apply --scheduled: the newest apply run of this plan in the state file
// when it is unfinished (interrupted, or running with its process gone).
// Throws Busy (exit 75) when any apply run of the file is live.
std::optional<std::string> unfinished_run_of(const ApplyOptions& options)
{
  const std::string state_path = options.state.value_or(default_state_path(options.plan));
  if (!std::filesystem::exists(state_path)) return std::nullopt;
  auto store = open_existing_state(state_path);
  if (!store) throw state::StateFailure(store.error());
  const std::string plan_path = std::filesystem::absolute(options.plan).lexically_normal().string();
  std::optional<std::string> unfinished;
  bool newest_of_plan_seen = false;
  for (const auto& run : (*store)->runs()) { // newest first
    if (run.kind != state::RunKind::apply) continue;
    if (run.status == state::RunStatus::running) {
      if (const auto holder = (*store)->lock_holder(run.id);
          holder && state::lock_holder_alive(*holder, losant::now_epoch_ms())) {
        throw Busy("run " + run.id + " in " + state_path + " is being applied by pid " + std::to_string(holder->pid) +
                   " on " + holder->host + "; this scheduled invocation does nothing");
      }
    }
    if (newest_of_plan_seen || std::filesystem::path(run.plan_path).lexically_normal().string() != plan_path) continue;
    newest_of_plan_seen = true;
    if (run.status == state::RunStatus::running || run.status == state::RunStatus::interrupted) unfinished = run.id;
  }
  return unfinished;
}

} // namespace

int run_apply(const ConnectionFlags& flags, const ApplyOptions& options)
{
  if (options.scheduled) {
    if (const auto unfinished = unfinished_run_of(options); unfinished) {
      spdlog::info("run {} of this plan is unfinished: continuing it (apply --scheduled)", *unfinished);
      ResumeOptions resume;
      resume.plan = options.plan;
      resume.state = options.state;
      resume.run = *unfinished;
      resume.output = options.output;
      resume.progress = options.progress;
      resume.execution = options.execution;
      return run_resume(flags, resume);
    }
  }
  const auto& stop = install_stop_handlers();
  Session session = open_session(flags, options.plan, options.state);
  const plans::Plan& plan = session.plan;
  const state::StateStore& db = *session.store;
  std::optional<state::RunRecord> preview;
  if (!options.from_preview.empty()) preview = usable_preview(session, options.from_preview, options.reuse_preview);
  refuse_if_live_run(db, session.state_path);

  const ExecutionSettings settings = resolve_execution(options.execution, plan);
  SystemClock clock;
  WorkerPool sender(*session.connection, settings.concurrency);
  // One limiter for every request of this invocation, preparation and steps:
  // a bucket started afresh for the steps would not know what resolution spent.
  RateLimiter limiter(settings.rate, settings.burst, clock.now());
  limiter.allow_in_flight(1); // resolution: one page in flight at a time
  Coordinator coordinator(*session.journal, plan, {sender, limiter, clock, stop}, settings);
  const state::RunRecord run = coordinator.begin(
      state::RunKind::apply, origin_of(options.plan, *session.connection, preview ? preview->id : std::string()));
  if (const int code =
          prepare_run(coordinator, db, plan, run, preview, options.yes, options.output, session.connection->options());
      code != k_exit_ok) {
    notify_outcome(plan, db, run.id, code);
    return code;
  }
  show_progress(coordinator, options.progress);
  const int code = execute_and_finish(coordinator, db, run.id, options.output, session.connection->options());
  notify_outcome(plan, db, run.id, code);
  return code;
}

} // namespace fleetrun::cli
