// fleetrun plan: the dry-run. Resolves the queries and shows (or prints as
// JSON) what apply would do; GET requests only. The preview is saved in the
// state file, for `apply --from-preview`.
#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/session.hpp"
#include "cli/signals.hpp"
#include "preview/guards.hpp"
#include "preview/preview.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/worker_pool.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace fleetrun::cli {

using namespace runner;
using nlohmann::json;

void setup_plan(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<PlanCommandOptions>();
  auto* command =
      app.add_subcommand("plan", "Dry-run: resolve the queries and show what apply would do (GET requests only)");
  add_connection_options(*command, invocation.connection);
  command->add_option("plan", options->plan, "plan file")->required()->check(CLI::ExistingFile);
  add_state_option(*command, options->state, "PLAN with .fleetrun.db");
  add_output_option(*command, options->output);
  add_execution_options(*command, options->execution);
  command->add_flag("--detailed-exitcode", options->detailed_exitcode,
                    "exit 0 when applying would do nothing, 2 when it would do something, 1 for an invalid plan "
                    "(as terraform plan)");
  command->callback([&invocation, options] {
    // With --detailed-exitcode, 2 means "something would be done": an error is 1, as in terraform.
    if (options->detailed_exitcode) invocation.usage_error_exit = k_exit_partial;
    invocation.run = [&invocation, options] { return run_plan(invocation.connection, *options); };
  });
}

int run_plan(const ConnectionFlags& flags, const PlanCommandOptions& options)
{
  const auto& stop = install_stop_handlers();
  Session session = open_session(flags, options.plan, options.state);
  const plans::Plan& plan = session.plan;
  const state::StateStore& db = *session.store;
  const ConnectionSettings& connection = session.connection->options();

  // A dry-run sends GET requests only: resolving queries and counting the fleet.
  SystemClock clock;
  WorkerPool sender(*session.connection, 1);
  const ExecutionSettings settings = resolve_execution(options.execution, plan);
  RateLimiter limiter(settings.rate, settings.burst, clock.now());
  limiter.allow_in_flight(1);
  Coordinator coordinator(*session.journal, plan, {sender, limiter, clock, stop}, settings);
  const state::RunRecord run =
      coordinator.begin(state::RunKind::preview, origin_of(options.plan, *session.connection, ""));

  if (auto resolved = coordinator.resolve(run.id); !resolved) {
    return stopped_before_change(coordinator, run.id, "resolving queries", resolved.error(), connection);
  }
  FleetCounter fleet{coordinator, std::nullopt};
  auto violations = preview::check_guards(db, plan, run.id, std::ref(fleet));
  if (!violations) return stopped_before_change(coordinator, run.id, "checking guards", violations.error(), connection);
  json facts = preview::preview_facts(db, plan, run.id);
  if (fleet.size) facts["fleetDevices"] = *fleet.size;
  for (auto& v : preview::check_uncertain(plan, facts)) violations->push_back(std::move(v));
  json guard_list = json::array();
  for (const auto& v : *violations) guard_list.push_back({{"where", v.where}, {"message", v.message}});
  facts["run"] = run.id;
  facts["stateFile"] = session.state_path;
  facts["application"] = run.application_id;
  facts["apiUrl"] = run.api_url;
  facts["guards"] = {{"ok", violations->empty()}, {"violations", guard_list}};
  coordinator.record_preview(run.id, facts, violations->empty());
  if (options.output == "json") {
    preview::write_preview_json(std::cout, facts, db, plan, run.id);
  } else {
    std::cout << "preview " << run.id << " of " << options.plan << " (application " << run.application_id << " at "
              << run.api_url << ")\n"
              << preview::render_preview(facts);
    for (const auto& v : *violations) std::cout << "guard refused: " << v.message << "\n";
    std::cout << "Nothing was changed. Saved in " << session.state_path << ".";
    if (violations->empty())
      std::cout << " Apply exactly this: fleetrun apply " << options.plan << " --from-preview " << run.id;
    std::cout << "\n";
  }
  if (!violations->empty()) return k_exit_guard;
  // --detailed-exitcode, as terraform plan: 0 nothing would be done, 2 something would.
  if (options.detailed_exitcode) return preview::would_do_anything(facts) ? k_exit_usage : k_exit_ok;
  return k_exit_ok;
}

} // namespace fleetrun::cli
