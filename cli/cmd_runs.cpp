// fleetrun runs: the runs a state file holds, newest first. Reads only.
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/options.hpp"
#include "cli/state_files.hpp"

#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace fleetrun::cli {

using nlohmann::json;

void setup_runs(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<RunsOptions>();
  auto* command = app.add_subcommand("runs", "List the runs in a state file");
  add_state_option(*command, options->state, "the only *.fleetrun.db here");
  add_output_option(*command, options->output);
  command->callback([&invocation, options] { invocation.run = [options] { return run_runs(*options); }; });
}

int run_runs(const RunsOptions& options)
{
  std::string state_path;
  const auto store = open_state_to_read(options.state, state_path);
  json list = json::array();
  for (const auto& run : store->runs()) {
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

} // namespace fleetrun::cli
