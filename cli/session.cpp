#include "cli/session.hpp"

#include "cli/errors.hpp"
#include "cli/exit_codes.hpp"
#include "cli/notify.hpp"
#include "cli/state_files.hpp"
#include "preview/guards.hpp"
#include "preview/preview.hpp"
#include "report/progress_line.hpp"
#include "report/status_report.hpp"
#include "text/text_format.hpp"

#include "api/device_page.hpp"
#include "plans/plan_parser.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cctype>
#include <filesystem>
#include <functional>
#include <iostream>
#include <unistd.h>

namespace fleetrun::cli {

using namespace runner;
using nlohmann::json;
using preview::check_guards;
using preview::check_uncertain;
using preview::confirmation_phrase;
using preview::describe_drift;
using preview::preview_facts;
using preview::render_preview;
using report::progress_line;
using report::render_status;
using report::run_facts;
using text::with_commas;

namespace {

// The exit code of a request that stopped a command before any change: a
// query the API refused as invalid is the plan's problem (2); anything else
// means the API could not be used (5).
int exit_for(const api::ApiError& error)
{
  return error.kind == api::ErrorKind::permanent && error.status == 400 ? k_exit_usage : k_exit_api;
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

api::ApiResult count_fleet(Coordinator& coordinator)
{
  api::DeviceListParams all;
  all.per_page = 1;
  return coordinator.get(api::endpoints::list_devices(all));
}

} // namespace

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
  session.journal = std::make_unique<state::RunJournal>(*session.store);
  return session;
}

RunOrigin origin_of(const std::string& plan_path, const ApiConnection& connection, const std::string& preview_id)
{
  return {std::filesystem::absolute(plan_path).string(), connection.options().api_url,
          connection.client().application_id(), preview_id};
}

api::ApiResult FleetCounter::operator()()
{
  auto page = count_fleet(coordinator);
  if (page) {
    if (const auto index = api::index_device_page(page->body); index && index->total_count) size = *index->total_count;
  }
  return page;
}

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
  const report::RunFacts facts = run_facts(db, *run);
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
  const report::RunFacts facts = run_facts(db, *db.run(run_id));
  if (output == "json") {
    std::cout << report::to_json(facts).dump(2) << "\n";
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

} // namespace fleetrun::cli
