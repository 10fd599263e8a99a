// plan, apply and resume: the commands that read a plan and talk to the API.
// They gather what a run needs (plan, settings, connection, state file) and
// hand every write to the coordinator.
#include "runner/commands.hpp"
#include "runner/coordinator.hpp"
#include "runner/errors.hpp"
#include "runner/exit_codes.hpp"
#include "runner/guards.hpp"
#include "runner/notify.hpp"
#include "runner/plan_changes.hpp"
#include "runner/preview.hpp"
#include "runner/progress.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/signals.hpp"
#include "runner/state_files.hpp"
#include "runner/status_report.hpp"
#include "runner/text_format.hpp"
#include "runner/worker_pool.hpp"

#include "api/device_page.hpp"
#include "losant/time_format.hpp"
#include "plans/plan_parser.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cctype>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace fleetrun::runner {

using nlohmann::json;

namespace {

// The plan, or every problem in it printed and UsageError thrown.
plans::Plan load_plan(const std::string& path)
{
  auto plan = plans::load_plan_file(path, plans::process_environment());
  if (!plan) {
    std::cerr << plan.error().render_all();
    throw UsageError(path + ": " + std::to_string(plan.error().diagnostics.size()) + " problem(s); nothing was sent");
  }
  return std::move(*plan);
}

std::unique_ptr<ApiConnection> open_connection(const ConnectionSettings& settings)
{
  auto connection = ApiConnection::open(settings);
  if (!connection) throw UsageError(connection.error());
  return std::move(*connection);
}

// The exit code of a request that stopped a command before any change: a
// query the API refused as invalid is the plan's problem (2); anything else
// means the API could not be used (5).
int exit_for(const api::ApiError& error)
{
  return error.kind == api::ErrorKind::permanent && error.status == 400 ? k_exit_usage : k_exit_api;
}

int refuse(Coordinator& coordinator, const std::string& run_id, const std::string& message, int code)
{
  coordinator.refuse(run_id, message);
  spdlog::error("{}; nothing was changed", message);
  return code;
}

// A request before the first change failed: stopped by a signal (130,
// resumable), or refused with the error and the request it answers.
int stopped_before_change(Coordinator& coordinator, const std::string& run_id, const std::string& doing,
                          const api::ApiError& error, const ConnectionSettings& connection)
{
  if (error.kind == api::ErrorKind::cancelled) {
    coordinator.interrupt(run_id, "stopped by a signal while " + doing + "; nothing was changed");
    spdlog::error("stopped by a signal while {}; nothing was changed", doing);
    return k_exit_interrupted;
  }
  const std::string hint = hint_for(error, connection);
  return refuse(coordinator, run_id, doing + ": " + error.describe_with_request() + (hint.empty() ? "" : "; " + hint),
                exit_for(error));
}

bool confirm(const json& facts)
{
  const std::string phrase = confirmation_phrase(facts);
  if (phrase == "yes") {
    std::cout << "Apply the plan above? Type 'yes' to apply: " << std::flush;
  } else {
    std::cout << "This deletes, removes data from or commands " << with_commas(std::stoll(phrase))
              << " devices. Type that number (" << phrase << ") to apply: " << std::flush;
  }
  std::string answer;
  std::getline(std::cin, answer);
  std::erase(answer, ',');
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) answer.pop_back();
  return answer == phrase;
}

bool changes_any_device(const plans::Plan& plan, const json& facts)
{
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (plans::changes_devices(plan.steps[i].action) && facts["steps"][i]["devices"].get<std::int64_t>() > 0)
      return true;
  }
  return false;
}

// What plan and apply start from: the plan, where the API is, the state file.
struct Session {
  plans::Plan plan;
  ConnectionSettings settings;
  std::unique_ptr<ApiConnection> connection;
  std::string state_path;
  std::unique_ptr<state::StateStore> store;
};

Session open_session(const ConnectionFlags& flags, const std::string& plan_path,
                     const std::optional<std::string>& state_option)
{
  Session session;
  session.plan = load_plan(plan_path);
  session.settings = resolve_connection(flags, plans::process_environment(), &session.plan);
  session.connection = open_connection(session.settings);
  session.state_path = state_option.value_or(default_state_path(plan_path));
  auto store = state::StateStore::open(session.state_path, state::OpenMode::create_if_missing);
  if (!store) throw state::StateFailure(store.error().message + " (choose another place with --state FILE)");
  session.store = std::move(*store);
  return session;
}

RunOrigin origin_of(const std::string& plan_path, const ApiConnection& connection, const std::string& preview_id)
{
  return {std::filesystem::absolute(plan_path).string(), connection.options().api_url,
          connection.client().application_id(), preview_id};
}

api::ApiResult count_fleet(Coordinator& coordinator)
{
  api::DeviceListParams all;
  all.per_page = 1;
  return coordinator.get(api::endpoints::list_devices(all));
}

// Counts the application's devices once, for the whole-fleet guard, and keeps
// the count for the preview's shares of the fleet.
struct FleetCounter {
  Coordinator& coordinator;
  std::optional<std::int64_t> size;

  api::ApiResult operator()()
  {
    auto page = count_fleet(coordinator);
    if (page) {
      if (const auto index = api::index_device_page(page->body); index && index->total_count)
        size = *index->total_count;
    }
    return page;
  }
};

// --progress: a live line on a terminal (rewritten in place twice a second),
// otherwise a log line every 5 seconds; both once more when a step ends.
void show_progress(Coordinator& coordinator, const std::string& mode)
{
  if (mode == "never") return;
  const bool live = mode == "always" || isatty(STDERR_FILENO) != 0;
  if (live) {
    coordinator.report_progress(
        [](const ProgressSnapshot& snapshot) {
          std::cerr << "\r\033[K" << progress_line(snapshot) << (snapshot.step_done ? "\n" : "") << std::flush;
        },
        std::chrono::milliseconds(500));
  } else {
    coordinator.report_progress([](const ProgressSnapshot& snapshot) { spdlog::info("{}", progress_line(snapshot)); },
                                std::chrono::milliseconds(5000));
  }
}

// Everything before the first change: resolve the queries (GET only), check
// drift against the preview and the guards, show the plan, ask, and record
// the steps. Apply runs it; resume runs it again for a run that was stopped
// before its steps were recorded (nothing was changed then).
int prepare_run(Coordinator& coordinator, const state::StateStore& db, const plans::Plan& plan,
                const state::RunRecord& run, const std::optional<state::RunRecord>& preview, bool yes,
                const std::string& output, const ConnectionSettings& connection)
{
  // Fresh resolution (GET only): the devices to use without a preview, and the
  // drift check against it with one.
  if (auto resolved = coordinator.resolve(run.id); !resolved) {
    return stopped_before_change(coordinator, run.id, "resolving queries", resolved.error(), connection);
  }
  std::string snapshot_run = run.id;
  if (preview) {
    if (const std::string drift = describe_drift(db, preview->id, run.id); !drift.empty()) {
      coordinator.note(run.id, "drift", drift);
      std::cerr << "drift: " << drift << "\n";
      if (plan.options.on_drift == plans::OnDrift::abort) {
        return refuse(coordinator, run.id,
                      "the fleet drifted since preview " + preview->id + " and the plan says on_drift: abort",
                      k_exit_guard);
      }
      std::cerr << "using the preview's device lists (on_drift: use_snapshot)\n";
    }
    snapshot_run = preview->id;
  }
  FleetCounter fleet{coordinator, std::nullopt};
  auto violations = check_guards(db, plan, snapshot_run, std::ref(fleet));
  if (!violations) return stopped_before_change(coordinator, run.id, "checking guards", violations.error(), connection);
  if (!violations->empty()) {
    std::string message;
    for (const auto& v : *violations) message += (message.empty() ? "" : "; ") + v.message;
    return refuse(coordinator, run.id, "guard: " + message, k_exit_guard);
  }
  json facts = preview_facts(db, plan, snapshot_run);
  if (fleet.size) facts["fleetDevices"] = *fleet.size;
  if (const auto uncertain = check_uncertain(plan, facts); !uncertain.empty()) {
    std::string message;
    for (const auto& v : uncertain) message += (message.empty() ? "" : "; ") + v.message;
    return refuse(coordinator, run.id, "guard: " + message, k_exit_guard);
  }
  if (output != "json") std::cout << "apply " << run.id << "\n" << render_preview(facts);
  if (changes_any_device(plan, facts) && !yes) {
    if (isatty(STDIN_FILENO) == 0) {
      return refuse(coordinator, run.id,
                    "changing devices needs confirmation and there is no terminal to ask on; pass --yes", k_exit_usage);
    }
    if (!confirm(facts)) return refuse(coordinator, run.id, "not confirmed", k_exit_guard);
  }
  coordinator.record_steps(run.id, snapshot_run);
  return k_exit_ok;
}

// Executes the run's steps, records the outcome, says what happened.
// notify: (runner/notify.hpp) for a run that ended with `code`: 0 finished,
// 130 and a paused API (5 with the run resumable) paused, anything else failed.
void notify_outcome(const plans::Plan& plan, const state::StateStore& db, const std::string& run_id, int code)
{
  if (!plan.notify) return;
  const auto run = db.run(run_id);
  if (!run) return;
  const json facts = status_facts(db, *run);
  const std::string outcome = code == k_exit_ok                                                            ? "finished"
                              : code == k_exit_interrupted || run->status == state::RunStatus::interrupted ? "paused"
                                                                                                           : "failed";
  send_notification(plan, plans::process_environment(), outcome, facts);
}

int execute_and_finish(Coordinator& coordinator, const state::StateStore& db, const std::string& run_id,
                       const std::string& output, const ConnectionSettings& connection)
{
  const RunResult result = coordinator.execute(run_id);
  coordinator.finish(run_id, result);
  const json facts = status_facts(db, *db.run(run_id));
  if (output == "json") {
    std::cout << facts.dump(2) << "\n";
  } else {
    std::cout << render_status(facts);
  }
  int code = k_exit_ok;
  switch (result.outcome) {
  case RunOutcome::completed: break;
  case RunOutcome::failed: code = k_exit_partial; break;
  case RunOutcome::interrupted: code = k_exit_interrupted; break;
  case RunOutcome::auth_failed:
    code = k_exit_api;
    {
      api::ApiError refused;
      refused.kind = api::ErrorKind::auth;
      spdlog::error("{}", hint_for(refused, connection));
    }
    break;
  case RunOutcome::api_paused: code = k_exit_api; break;
  case RunOutcome::state_mismatch: code = k_exit_state; break;
  }
  if (!result.message.empty()) {
    if (code == k_exit_ok)
      spdlog::info("{}", result.message);
    else
      spdlog::error("{}", result.message);
  }
  return code;
}

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
                              describe_plan_change(*preview, session.plan) +
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

int run_plan(const ConnectionFlags& flags, const PlanCommandOptions& options)
{
  const auto& stop = install_stop_handlers();
  Session session = open_session(flags, options.plan, options.state);
  const plans::Plan& plan = session.plan;
  state::StateStore& db = *session.store;
  const ConnectionSettings& connection = session.connection->options();

  // A dry-run sends GET requests only: resolving queries and counting the fleet.
  SystemClock clock;
  WorkerPool sender(*session.connection, 1);
  const ExecutionSettings settings = resolve_execution(options.execution, plan);
  RateLimiter limiter(settings.rate, settings.burst, clock.now());
  limiter.allow_in_flight(1);
  Coordinator coordinator(db, plan, {sender, limiter, clock, stop}, settings);
  const state::RunRecord run =
      coordinator.begin(state::RunKind::preview, origin_of(options.plan, *session.connection, ""));

  if (auto resolved = coordinator.resolve(run.id); !resolved) {
    return stopped_before_change(coordinator, run.id, "resolving queries", resolved.error(), connection);
  }
  FleetCounter fleet{coordinator, std::nullopt};
  auto violations = check_guards(db, plan, run.id, std::ref(fleet));
  if (!violations) return stopped_before_change(coordinator, run.id, "checking guards", violations.error(), connection);
  json facts = preview_facts(db, plan, run.id);
  if (fleet.size) facts["fleetDevices"] = *fleet.size;
  for (auto& v : check_uncertain(plan, facts)) violations->push_back(std::move(v));
  json guard_list = json::array();
  for (const auto& v : *violations) guard_list.push_back({{"where", v.where}, {"message", v.message}});
  facts["run"] = run.id;
  facts["stateFile"] = session.state_path;
  facts["application"] = run.application_id;
  facts["apiUrl"] = run.api_url;
  facts["guards"] = {{"ok", violations->empty()}, {"violations", guard_list}};
  coordinator.record_preview(run.id, facts, violations->empty());
  if (options.output == "json") {
    write_preview_json(std::cout, facts, db, plan, run.id);
  } else {
    std::cout << "preview " << run.id << " of " << options.plan << " (application " << run.application_id << " at "
              << run.api_url << ")\n"
              << render_preview(facts);
    for (const auto& v : *violations) std::cout << "guard refused: " << v.message << "\n";
    std::cout << "Nothing was changed. Saved in " << session.state_path << ".";
    if (violations->empty())
      std::cout << " Apply exactly this: fleetrun apply " << options.plan << " --from-preview " << run.id;
    std::cout << "\n";
  }
  if (!violations->empty()) return k_exit_guard;
  // --detailed-exitcode, as terraform plan: 0 nothing would be done, 2 something would.
  if (options.detailed_exitcode) return would_do_anything(facts) ? k_exit_usage : k_exit_ok;
  return k_exit_ok;
}

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
  state::StateStore& db = *session.store;
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
  Coordinator coordinator(db, plan, {sender, limiter, clock, stop}, settings);
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

int run_resume(const ConnectionFlags& flags, const ResumeOptions& options)
{
  const auto& stop = install_stop_handlers();
  auto state_path = find_state_file(options.state);
  if (!state_path) throw UsageError(state_path.error());
  auto store = open_existing_state(*state_path);
  if (!store) throw state::StateFailure(store.error());
  state::StateStore& db = **store;
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
                              describe_plan_change(*run, plan) +
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
  Coordinator coordinator(db, plan, {sender, limiter, clock, stop}, settings);
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

} // namespace fleetrun::runner
