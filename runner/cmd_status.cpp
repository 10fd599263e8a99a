// status and runs: read a state file, take no lock, change nothing.
#include "runner/commands.hpp"
#include "runner/errors.hpp"
#include "runner/exit_codes.hpp"
#include "runner/state_files.hpp"
#include "runner/status_report.hpp"

#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>

#include <iostream>

namespace fleetrun::runner {

using nlohmann::json;

namespace {

std::unique_ptr<state::StateStore> open_state(const std::optional<std::string>& given, std::string& path)
{
  auto found = find_state_file(given);
  if (!found) throw UsageError(found.error());
  path = *found;
  auto store = open_existing_state(path);
  if (!store) throw state::StateFailure(store.error());
  return std::move(*store);
}

} // namespace

int run_status(const StatusOptions& options)
{
  std::string state_path;
  const auto store = open_state(options.state, state_path);
  std::optional<state::RunRecord> run;
  if (!options.run.empty()) {
    run = store->run(options.run);
  } else {
    const auto runs = store->runs();
    if (!runs.empty()) run = runs.front();
  }
  if (!run) {
    throw state::StateFailure(state_path + " holds no run" + (options.run.empty() ? std::string() : " " + options.run));
  }
  const json facts = status_facts(*store, *run);
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
  const auto store = open_state(options.state, state_path);
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

} // namespace fleetrun::runner
