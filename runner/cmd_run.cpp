// plan, apply and resume: the commands that read a plan and talk to the API.
#include "runner/commands.hpp"
#include "runner/coordinator.hpp"
#include "runner/exit_codes.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/session.hpp"
#include "runner/signals.hpp"

#include "losant/time_format.hpp"
#include "plans/plan_parser.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace fleetrun::runner {

using nlohmann::json;

namespace {

std::optional<plans::Plan> load_plan(const std::string& path)
{
  auto plan = plans::load_plan_file(path, plans::process_environment());
  if (!plan) {
    std::cerr << plan.error().render_all();
    return std::nullopt;
  }
  return std::move(*plan);
}

int exit_for(const api::ApiError& error)
{
  return error.kind == api::ErrorKind::permanent ? k_exit_usage : k_exit_api;
}

ExecutionOptions execution_options(const ExecutionFlags& flags, const plans::Plan& plan)
{
  ExecutionOptions options;
  options.concurrency = flags.concurrency > 0 ? flags.concurrency : plan.options.concurrency.value_or(4);
  options.rate = flags.rate >= 0 ? flags.rate : plan.options.rate.value_or(0);
  options.burst = flags.burst >= 0 ? flags.burst : plan.options.burst.value_or(0);
  options.retry_budget = flags.retry_budget;
  options.backoff.max_attempts = std::max(1, flags.max_attempts);
  options.keep_going = flags.keep_going;
  options.max_failure_percent =
      flags.max_failure_percent >= 0 ? flags.max_failure_percent : plan.options.max_failure_percent.value_or(10);
  return options;
}

// Ends an apply or resume: records the outcome and says what happened.
int finish_run(state::StateStore& store, const std::string& run_id, const RunResult& result, const std::string& output)
{
  state::RunStatus status = state::RunStatus::completed;
  int code = k_exit_ok;
  switch (result.outcome) {
  case RunOutcome::completed: break;
  case RunOutcome::failed:
    status = state::RunStatus::failed;
    code = k_exit_partial;
    break;
  case RunOutcome::interrupted:
    status = state::RunStatus::interrupted;
    code = k_exit_interrupted;
    break;
  case RunOutcome::auth_failed:
    status = state::RunStatus::interrupted;
    code = k_exit_api;
    break;
  case RunOutcome::state_mismatch:
    status = state::RunStatus::interrupted;
    code = k_exit_state;
    break;
  }
  const auto& c = result.counters;
  const json counters = {{"requests", c.requests},
                         {"retries", c.retries},
                         {"throttled429", c.throttled},
                         {"serverErrors5xx", c.server_errors},
                         {"networkErrors", c.network_errors},
                         {"timeouts", c.timeouts},
                         {"reconciledDevices", c.reconciled_devices},
                         {"jobsFollowed", c.jobs_followed}};
  store.set_run_summary(
      run_id,
      json{{"outcome", std::string(state::to_string(status))}, {"message", result.message}, {"counters", counters}}
          .dump());
  store.set_run_status(run_id, status);
  store.add_event(run_id, std::string(state::to_string(status)),
                  result.message.empty() ? "every step finished" : result.message);
  store.release_lock(run_id);
  const auto run = store.run(run_id);
  const json facts = status_facts(store, *run);
  if (output == "json") {
    std::cout << facts.dump(2) << "\n";
  } else {
    std::cout << render_status(facts);
  }
  if (!result.message.empty()) {
    if (code == k_exit_ok)
      spdlog::info("{}", result.message);
    else
      spdlog::error("{}", result.message);
  }
  return code;
}

std::string find_state_file(const std::string& given)
{
  if (!given.empty()) return given;
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(".")) {
    if (entry.path().string().ends_with(".fleetrun.db")) found.push_back(entry.path().filename().string());
  }
  return found.size() == 1 ? found.front() : std::string();
}

bool confirm(const json& facts)
{
  std::int64_t devices = 0;
  for (const auto& step : facts["steps"]) {
    const std::string action = step["action"];
    if (action != "export" && action != "create" && action != "restore") devices += step["devices"].get<std::int64_t>();
  }
  std::cout << "This changes " << devices << " device(s) as shown above. Type 'yes' to apply: " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "yes";
}

bool changes_any_device(const plans::Plan& plan, const json& facts)
{
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (plans::changes_devices(plan.steps[i].action) && facts["steps"][i]["devices"].get<std::int64_t>() > 0)
      return true;
  }
  return false;
}

// What plan and apply start from: the plan, its state file and the API.
struct PlanSession {
  plans::Plan plan;
  std::string state_path;
  std::unique_ptr<ApiConnection> connection;
  std::unique_ptr<state::StateStore> store;
};

// The error is the exit code, the reason already logged.
std::expected<PlanSession, int> open_plan_session(const ConnectionOptions& flags, const std::string& plan_path,
                                                  const std::string& state_option)
{
  auto plan = load_plan(plan_path);
  if (!plan) return std::unexpected(k_exit_usage);
  auto connection = ApiConnection::open(effective_connection(flags, &*plan));
  if (!connection) {
    spdlog::error("{}", connection.error());
    return std::unexpected(k_exit_usage);
  }
  const std::string state_path = state_option.empty() ? default_state_path(plan_path) : state_option;
  auto store = state::StateStore::open(state_path, state::OpenMode::create_if_missing);
  if (!store) {
    spdlog::error("{}", store.error().message);
    return std::unexpected(k_exit_state);
  }
  return PlanSession{std::move(*plan), state_path, std::move(*connection), std::move(*store)};
}

// Records a new run of `plan` against the connection's API.
state::RunRecord insert_new_run(state::StateStore& db, state::RunKind kind, const plans::Plan& plan,
                                const std::string& plan_path, const ApiConnection& connection,
                                const std::string& preview_run_id)
{
  state::RunRecord run;
  run.id = db.new_run_id();
  run.kind = kind;
  run.status = state::RunStatus::running;
  run.plan_path = std::filesystem::absolute(plan_path).string();
  run.plan_hash = plan.text_hash;
  run.effective_hash = plan.effective_hash;
  run.plan_text = plan.text;
  run.api_url = connection.options().api_url;
  run.application_id = connection.client().application_id();
  run.preview_run_id = preview_run_id;
  run.created_ms = run.updated_ms = losant::now_epoch_ms();
  db.insert_run(run);
  return run;
}

// status, runs and resume read an existing state file.
std::expected<std::unique_ptr<state::StateStore>, int> open_existing_state(const std::string& state_option,
                                                                           std::string& state_path)
{
  state_path = find_state_file(state_option);
  if (state_path.empty()) {
    spdlog::error("which state file? pass --state FILE (none or several *.fleetrun.db here)");
    return std::unexpected(k_exit_usage);
  }
  auto store = state::StateStore::open(state_path, state::OpenMode::must_exist);
  if (!store) {
    spdlog::error("{}", store.error().message);
    return std::unexpected(k_exit_state);
  }
  return std::move(*store);
}

// Everything before the first change: resolve the queries (GET only), check
// drift against the preview and the guards, show the plan, ask, and record
// the steps. Apply runs it; resume runs it again for a run that was stopped
// before its steps were recorded (nothing was changed then).
int prepare_run(state::StateStore& db, const plans::Plan* plan, const state::RunRecord& run,
                const std::optional<state::RunRecord>& preview, api::LosantClient& client,
                const std::atomic<bool>& stop, bool yes, const std::string& output, RunCounters& counters,
                RateLimiter& limiter)
{
  const auto refuse = [&](const std::string& message, int code) {
    db.add_event(run.id, "refused", message);
    db.set_run_status(run.id, state::RunStatus::refused);
    db.release_lock(run.id);
    spdlog::error("{}; nothing was changed", message);
    return code;
  };

  // Fresh resolution (GET only): the devices to use without a preview, and the
  // drift check against it with one.
  PreparationContext context{stop, counters, limiter};
  PatchTallies tallies;
  if (auto resolved = resolve_queries(db, *plan, run.id, client, context, &tallies); !resolved) {
    return refuse("resolving queries: " + resolved.error().describe(), exit_for(resolved.error()));
  }
  std::string snapshot_run = run.id;
  if (preview) {
    std::string drift;
    for (const auto& query : db.queries(preview->id)) {
      std::int64_t gone = 0, added = 0;
      const auto gone_ids = db.devices_missing_from(preview->id, query.name, run.id, query.name, 5, gone);
      const auto added_ids = db.devices_missing_from(run.id, query.name, preview->id, query.name, 5, added);
      if (gone == 0 && added == 0) continue;
      drift += "query " + query.name + ": " + std::to_string(added) + " device(s) added, " + std::to_string(gone) +
               " gone since the preview";
      const auto list = [](const std::vector<std::string>& ids) {
        std::string text;
        for (const auto& id : ids) text += (text.empty() ? "" : ", ") + id;
        return text;
      };
      if (added > 0) drift += " (added: " + list(added_ids) + (added > 5 ? ", ..." : "") + ")";
      if (gone > 0) drift += " (gone: " + list(gone_ids) + (gone > 5 ? ", ..." : "") + ")";
      drift += "; ";
    }
    if (!drift.empty()) {
      db.add_event(run.id, "drift", drift);
      std::cerr << "drift: " << drift << "\n";
      if (plan->options.on_drift == plans::OnDrift::abort) {
        return refuse("the fleet drifted since preview " + preview->id + " and the plan says on_drift: abort",
                      k_exit_guard);
      }
      std::cerr << "using the preview's device lists (on_drift: use_snapshot)\n";
    }
    snapshot_run = preview->id;
  }
  auto violations = check_guards(db, *plan, snapshot_run, client, context);
  if (!violations) return refuse("checking guards: " + violations.error().describe(), exit_for(violations.error()));
  if (!violations->empty()) {
    std::string message;
    for (const auto& v : *violations) message += (message.empty() ? "" : "; ") + v.message;
    return refuse("guard: " + message, k_exit_guard);
  }
  const auto preview_started = std::chrono::steady_clock::now();
  // The changes counted during resolution are this run's; with a preview the
  // devices may be the preview's (on_drift: use_snapshot), counted from the file.
  const json facts = preview_facts(db, *plan, snapshot_run, snapshot_run == run.id ? &tallies : nullptr);
  spdlog::debug("preview computed in {} ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - preview_started)
                                                 .count());
  if (output != "json") std::cout << "apply " << run.id << "\n" << render_preview(facts);
  if (changes_any_device(*plan, facts) && !yes) {
    if (isatty(STDIN_FILENO) == 0) {
      return refuse("changing devices needs confirmation and there is no terminal to ask on; pass --yes", k_exit_usage);
    }
    if (!confirm(facts)) return refuse("not confirmed", k_exit_guard);
  }
  {
    auto transaction = db.transaction();
    insert_steps(db, *plan, run.id, snapshot_run);
    transaction.commit();
  }
  return k_exit_ok;
}

} // namespace

int run_plan(const ConnectionOptions& flags, const PlanCommandOptions& options)
{
  const auto& stop = install_stop_handlers();
  auto session = open_plan_session(flags, options.plan, options.state);
  if (!session) return session.error();
  const plans::Plan* plan = &session->plan;
  const auto* connection = &session->connection; // (*connection)->client(), like the other commands
  const std::string& state_path = session->state_path;
  state::StateStore& db = *session->store;
  const state::RunRecord run = insert_new_run(db, state::RunKind::preview, *plan, options.plan, **connection, "");
  db.add_event(run.id, "preview_started", "dry-run of " + run.plan_path + ": GET requests only");

  // A dry-run sends GET requests only: resolving queries and counting the fleet.
  RunCounters counters;
  RateLimiter limiter(plan->options.rate.value_or(0), plan->options.burst.value_or(0), RateLimiter::Clock::now());
  limiter.allow_in_flight(1);
  PreparationContext context{stop, counters, limiter};
  PatchTallies tallies;
  auto resolved = resolve_queries(db, *plan, run.id, (*connection)->client(), context, &tallies);
  if (!resolved) {
    spdlog::error("resolving queries: {}", resolved.error().describe());
    db.set_run_status(run.id, state::RunStatus::refused);
    return exit_for(resolved.error());
  }
  auto violations = check_guards(db, *plan, run.id, (*connection)->client(), context);
  if (!violations) {
    spdlog::error("checking guards: {}", violations.error().describe());
    db.set_run_status(run.id, state::RunStatus::refused);
    return exit_for(violations.error());
  }
  json facts = preview_facts(db, *plan, run.id, &tallies);
  json guard_list = json::array();
  for (const auto& v : *violations) guard_list.push_back({{"where", v.where}, {"message", v.message}});
  facts["run"] = run.id;
  facts["stateFile"] = state_path;
  facts["application"] = run.application_id;
  facts["apiUrl"] = run.api_url;
  facts["guards"] = {{"ok", violations->empty()}, {"violations", guard_list}};
  db.set_run_summary(run.id, facts.dump());
  db.set_run_status(run.id, violations->empty() ? state::RunStatus::previewed : state::RunStatus::refused);
  if (options.output == "json") {
    write_preview_json(std::cout, facts, db, *plan, run.id);
  } else {
    std::cout << "preview " << run.id << " of " << options.plan << " (application " << run.application_id << " at "
              << run.api_url << ")\n"
              << render_preview(facts);
    for (const auto& v : *violations) std::cout << "guard refused: " << v.message << "\n";
    std::cout << "Nothing was changed. Saved in " << state_path << ".";
    if (violations->empty())
      std::cout << " Apply exactly this: fleetrun apply " << options.plan << " --from-preview " << run.id;
    std::cout << "\n";
  }
  return violations->empty() ? k_exit_ok : k_exit_guard;
}

int run_apply(const ConnectionOptions& flags, const ApplyOptions& options)
{
  const auto& stop = install_stop_handlers();
  auto session = open_plan_session(flags, options.plan, options.state);
  if (!session) return session.error();
  const plans::Plan* plan = &session->plan;
  const auto* connection = &session->connection; // (*connection)->client(), like the other commands
  const std::string& state_path = session->state_path;
  state::StateStore& db = *session->store;
  api::LosantClient& client = (*connection)->client();

  std::optional<state::RunRecord> preview;
  if (!options.from_preview.empty()) {
    preview = db.run(options.from_preview);
    if (!preview || preview->kind != state::RunKind::preview) {
      spdlog::error("{} holds no preview {} (fleetrun runs --state {} lists them)", state_path, options.from_preview,
                    state_path);
      return k_exit_state;
    }
    if (preview->status != state::RunStatus::previewed) {
      spdlog::error("preview {} was refused by its guards; fix the plan and preview again", preview->id);
      return k_exit_guard;
    }
    if (preview->plan_hash != plan->text_hash || preview->effective_hash != plan->effective_hash) {
      spdlog::error(
          "the plan changed since preview {} (its text or its ${{VAR}} values); run `fleetrun plan` again and "
          "review the new preview",
          preview->id);
      return k_exit_state;
    }
    if (preview->application_id != client.application_id() || preview->api_url != (*connection)->options().api_url) {
      spdlog::error("preview {} was made against application {} at {}, not {} at {}", preview->id,
                    preview->application_id, preview->api_url, client.application_id(),
                    (*connection)->options().api_url);
      return k_exit_state;
    }
  }

  // One live run per state file: a second apply would work on the same fleet at the same time.
  for (const auto& other : db.runs()) {
    if (other.kind != state::RunKind::apply || other.status != state::RunStatus::running) continue;
    if (const auto holder = db.lock_holder(other.id);
        holder && state::lock_holder_alive(*holder, losant::now_epoch_ms())) {
      spdlog::error("run {} in {} is being applied by pid {} on {}; wait for it, or stop it and resume it", other.id,
                    state_path, holder->pid, holder->host);
      return k_exit_state;
    }
  }
  const state::RunRecord run = insert_new_run(db, state::RunKind::apply, *plan, options.plan, **connection,
                                              preview ? preview->id : std::string());
  if (auto locked = db.acquire_lock(run.id); !locked) {
    spdlog::error("cannot lock the new run {}", run.id);
    return k_exit_state;
  }
  db.add_event(run.id, "started",
               "apply of " + run.plan_path + (preview ? " using preview " + preview->id : std::string()));
  RunCounters counters;
  const ExecutionOptions execution = execution_options(options.execution, *plan);
  // One limiter for every request of this invocation, preparation and steps:
  // a bucket started afresh for the steps would not know what resolution spent.
  RateLimiter limiter(execution.rate, execution.burst, RateLimiter::Clock::now());
  limiter.allow_in_flight(1); // resolution: one page in flight at a time
  if (const int code =
          prepare_run(db, &*plan, run, preview, client, stop, options.yes, options.output, counters, limiter);
      code != k_exit_ok) {
    return code;
  }
  const RunResult result = execute_run(db, *plan, run.id, **connection, execution, stop, limiter, counters);
  return finish_run(db, run.id, result, options.output);
}

int run_resume(const ConnectionOptions& flags, const ResumeOptions& options)
{
  const auto& stop = install_stop_handlers();
  std::string state_path;
  auto store = open_existing_state(options.state, state_path);
  if (!store) return store.error();
  state::StateStore& db = **store;
  std::optional<state::RunRecord> run;
  if (!options.run.empty()) {
    run = db.run(options.run);
    if (!run || run->kind != state::RunKind::apply) {
      spdlog::error("{} holds no apply run {}", state_path, options.run);
      return k_exit_state;
    }
  } else {
    for (const auto& candidate : db.runs()) {
      if (candidate.kind == state::RunKind::apply && candidate.status != state::RunStatus::refused) {
        run = candidate;
        break;
      }
    }
    if (!run) {
      spdlog::error("{} holds no apply run to resume", state_path);
      return k_exit_state;
    }
  }
  if (run->status == state::RunStatus::completed) {
    std::cout << "run " << run->id << " already completed; nothing to resume\n";
    return k_exit_ok;
  }
  const std::string plan_path = options.plan.empty() ? run->plan_path : options.plan;
  auto plan = load_plan(plan_path);
  if (!plan) return k_exit_usage;
  if (plan->text_hash != run->plan_hash) {
    spdlog::error(
        "{} changed since run {} started; resume refuses to mix two plans. Restore the file, or start a new run "
        "with `fleetrun apply`",
        plan_path, run->id);
    return k_exit_state;
  }
  if (plan->effective_hash != run->effective_hash) {
    spdlog::error(
        "the ${{VAR}} values of {} differ from when run {} started; set them as they were, or start a new run",
        plan_path, run->id);
    return k_exit_state;
  }
  ConnectionOptions connection_options = effective_connection(flags, &*plan);
  if (connection_options.api_url != run->api_url) {
    spdlog::error("run {} was against {}, not {}; resume talks to the same API", run->id, run->api_url,
                  connection_options.api_url);
    return k_exit_state;
  }
  auto connection = ApiConnection::open(connection_options);
  if (!connection) {
    spdlog::error("{}", connection.error());
    return k_exit_usage;
  }
  if ((*connection)->client().application_id() != run->application_id) {
    spdlog::error("run {} was against application {}, not {}", run->id, run->application_id,
                  (*connection)->client().application_id());
    return k_exit_state;
  }
  if (auto locked = db.acquire_lock(run->id); !locked) {
    const auto& holder = locked.error();
    spdlog::error("run {} is being applied by pid {} on {} (heartbeat {} s ago); wait for it or stop it", run->id,
                  holder.pid, holder.host, (losant::now_epoch_ms() - holder.heartbeat_ms) / 1000);
    return k_exit_state;
  }
  db.set_run_status(run->id, state::RunStatus::running);
  db.add_event(run->id, "resumed", "resumed by pid " + std::to_string(getpid()));
  RunCounters counters;
  const ExecutionOptions execution = execution_options(options.execution, *plan);
  // One limiter for every request of this invocation, preparation and steps:
  // a bucket started afresh for the steps would not know what resolution spent.
  RateLimiter limiter(execution.rate, execution.burst, RateLimiter::Clock::now());
  limiter.allow_in_flight(1); // resolution: one page in flight at a time
  if (db.steps(run->id).empty()) {
    // Stopped before its steps were recorded, so before any change: prepare again.
    std::optional<state::RunRecord> preview;
    if (!run->preview_run_id.empty()) preview = db.run(run->preview_run_id);
    if (const int code = prepare_run(db, &*plan, *run, preview, (*connection)->client(), stop, true, options.output,
                                     counters, limiter);
        code != k_exit_ok) {
      return code;
    }
  }
  const RunResult result = execute_run(db, *plan, run->id, **connection, execution, stop, limiter, counters);
  return finish_run(db, run->id, result, options.output);
}

int run_status(const StatusOptions& options)
{
  std::string state_path;
  auto store = open_existing_state(options.state, state_path);
  if (!store) return store.error();
  std::optional<state::RunRecord> run;
  if (!options.run.empty()) {
    run = (*store)->run(options.run);
  } else {
    const auto runs = (*store)->runs();
    if (!runs.empty()) run = runs.front();
  }
  if (!run) {
    spdlog::error("{} holds no run{}", state_path, options.run.empty() ? std::string() : " " + options.run);
    return k_exit_state;
  }
  const json facts = status_facts(**store, *run);
  if (options.output == "json") {
    std::cout << facts.dump(2) << "\n";
  } else {
    std::cout << render_status(facts);
  }
  return k_exit_ok;
}

int run_runs(const StatusOptions& options)
{
  std::string state_path;
  auto store = open_existing_state(options.state, state_path);
  if (!store) return store.error();
  json list = json::array();
  for (const auto& run : (*store)->runs()) {
    list.push_back({{"run", run.id},
                    {"kind", std::string(state::to_string(run.kind))},
                    {"status", std::string(state::to_string(run.status))},
                    {"created", losant::format_iso8601_ms(run.created_ms)},
                    {"plan", run.plan_path},
                    {"fromPreview", run.preview_run_id}});
  }
  if (options.output == "json") {
    std::cout << list.dump(2) << "\n";
    return k_exit_ok;
  }
  for (const auto& entry : list) {
    std::cout << entry["run"].get<std::string>() << "  " << entry["kind"].get<std::string>() << "  "
              << entry["status"].get<std::string>() << "  " << entry["created"].get<std::string>() << "  "
              << entry["plan"].get<std::string>();
    if (!entry["fromPreview"].get<std::string>().empty())
      std::cout << "  (from " << entry["fromPreview"].get<std::string>() << ")";
    std::cout << "\n";
  }
  return k_exit_ok;
}

} // namespace fleetrun::runner
