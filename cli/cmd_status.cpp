// fleetrun status: one run's steps, batches, jobs and events. Reads the state
// file (opened read-only), takes no lock, changes nothing.
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/options.hpp"
#include "cli/state_files.hpp"
#include "report/status_report.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace fleetrun::cli {

using nlohmann::json;

void setup_status(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<StatusOptions>();
  auto* command = app.add_subcommand("status", "Show a run's steps, batches and events (reads only; takes no lock)");
  add_state_option(*command, options->state, "the only *.fleetrun.db here");
  command->add_option("--run", options->run, "run id [default: the newest run]");
  add_output_option(*command, options->output);
  command->callback([&invocation, options] { invocation.run = [options] { return run_status(*options); }; });
}

int run_status(const StatusOptions& options)
{
  std::string state_path;
  const auto store = open_state_to_read(options.state, state_path);
  const auto run = std::optional<state::RunRecord>(chosen_run(*store, state_path, options.run));
  const report::RunFacts facts = report::run_facts(*store, *run);
  if (options.output == "json") {
    std::cout << report::to_json(facts).dump(2) << "\n";
  } else {
    std::cout << report::render_status(facts);
  }
  return k_exit_ok;
}

} // namespace fleetrun::cli
