// status and runs: read a state file, take no lock, change nothing.
// prune: removes finished runs from it.
#include "runner/commands.hpp"
#include "runner/errors.hpp"
#include "runner/exit_codes.hpp"
#include "runner/run_report.hpp"
#include "runner/state_files.hpp"
#include "runner/status_report.hpp"

#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

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

// The run named, or the newest.
state::RunRecord chosen_run(const state::StateStore& store, const std::string& state_path, const std::string& id)
{
  std::optional<state::RunRecord> run;
  if (!id.empty()) {
    run = store.run(id);
  } else {
    const auto runs = store.runs();
    if (!runs.empty()) run = runs.front();
  }
  if (!run) throw state::StateFailure(state_path + " holds no run" + (id.empty() ? std::string() : " " + id));
  return *run;
}

} // namespace

int run_report(const ReportOptions& options)
{
  std::string state_path;
  const auto store = open_state(options.state, state_path);
  const state::RunRecord run = chosen_run(*store, state_path, options.run);
  std::ostringstream text;
  if (options.format == "csv") {
    write_report_csv(text, *store, run);
  } else {
    json facts = status_facts(*store, run);
    const json not_done = devices_not_done(*store, run);
    if (options.format == "json") {
      facts["devicesNotDone"] = not_done;
      text << facts.dump(2) << "\n";
    } else if (options.format == "html") {
      text << render_report_html(facts, not_done);
    } else {
      text << render_report_markdown(facts, not_done);
    }
  }
  if (options.output_file.empty() || options.output_file == "-") {
    std::cout << text.str();
    return k_exit_ok;
  }
  // Written whole or not at all: a temporary file beside it, renamed.
  const std::string temporary = options.output_file + ".part";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text.str();
    out.close();
    if (!out) {
      std::filesystem::remove(temporary);
      throw UsageError("-o " + options.output_file + ": cannot write it (does its folder exist?)");
    }
  }
  std::filesystem::rename(temporary, options.output_file);
  std::cerr << "report of run " << run.id << " written to " << options.output_file << "\n";
  return k_exit_ok;
}

int run_status(const StatusOptions& options)
{
  std::string state_path;
  const auto store = open_state(options.state, state_path);
  const auto run = std::optional<state::RunRecord>(chosen_run(*store, state_path, options.run));
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

namespace {

// Midnight UTC of a YYYY-MM-DD date, in epoch milliseconds.
std::int64_t epoch_ms_of_date(const std::string& date)
{
  std::tm parts{};
  int consumed = 0;
  if (date.size() != 10 ||
      std::sscanf(date.c_str(), "%4d-%2d-%2d%n", &parts.tm_year, &parts.tm_mon, &parts.tm_mday, &consumed) != 3 ||
      consumed != 10 || parts.tm_mon < 1 || parts.tm_mon > 12 || parts.tm_mday < 1 || parts.tm_mday > 31) {
    throw UsageError("--before " + date + ": expected a date as YYYY-MM-DD (UTC)");
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&parts)) * 1000;
}

bool finished(state::RunStatus status)
{
  return status != state::RunStatus::running && status != state::RunStatus::interrupted;
}

std::string megabytes(std::uintmax_t bytes)
{
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

} // namespace

int run_prune(const PruneOptions& options)
{
  if (!options.keep && options.before.empty()) throw UsageError("prune needs --keep N or --before YYYY-MM-DD");
  const std::int64_t before_ms = options.before.empty() ? 0 : epoch_ms_of_date(options.before);
  std::string state_path;
  const auto store = open_state(options.state, state_path);
  const auto runs = store->runs(); // newest first
  // What a kept run still reads (the preview an apply used) is kept with it.
  std::set<std::string> removable;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const bool old_enough = (options.keep && static_cast<int>(i) >= *options.keep) ||
                            (!options.before.empty() && runs[i].created_ms < before_ms);
    if (old_enough && finished(runs[i].status)) removable.insert(runs[i].id);
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& run : runs) {
      if (removable.contains(run.id)) continue;
      for (const auto& read : store->runs_read_by(run.id)) changed = removable.erase(read) > 0 || changed;
    }
  }
  const auto size_before = std::filesystem::file_size(state_path);
  for (const auto& run : runs) {
    if (!removable.contains(run.id)) continue;
    std::cout << (options.dry_run ? "would remove " : "removing ") << run.id << " (" << state::to_string(run.kind)
              << ", " << state::to_string(run.status) << ", " << losant::format_iso8601_ms(run.created_ms) << ")\n";
    if (!options.dry_run) store->delete_run(run.id);
  }
  if (options.dry_run) {
    std::cout << removable.size() << " of " << runs.size() << " runs would be removed; nothing was changed\n";
    return k_exit_ok;
  }
  if (!removable.empty()) store->reclaim_space();
  std::cout << "removed " << removable.size() << " of " << runs.size() << " runs (unfinished runs and what they read "
            << "are kept); " << state_path << ": " << megabytes(size_before) << " -> "
            << megabytes(std::filesystem::file_size(state_path)) << "\n";
  return k_exit_ok;
}

} // namespace fleetrun::runner
