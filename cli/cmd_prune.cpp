// fleetrun prune: removes finished runs from a state file (never an
// unfinished one, nor a preview a kept run read) through the state file's
// journal, and gives the space back.
#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/options.hpp"
#include "cli/state_files.hpp"

#include "losant/time_format.hpp"

#include <filesystem>
#include <iostream>
#include <memory>
#include <set>

namespace fleetrun::cli {

void setup_prune(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<PruneOptions>();
  auto& prune = *options;
  auto* command = app.add_subcommand(
      "prune", "Remove finished runs from a state file and reclaim the space (never an unfinished run)");
  add_optional(*command, "--state", prune.state, "state file [default: the only *.fleetrun.db here]");
  add_optional(*command, "--keep", prune.keep, "keep the newest N runs", "")->check(CLI::NonNegativeNumber);
  command->add_option("--before", prune.before, "remove runs created before this UTC date (YYYY-MM-DD)");
  command->add_flag("--dry-run", prune.dry_run, "only list what would be removed");
  command->callback([&invocation, options] { invocation.run = [options] { return run_prune(*options); }; });
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
  auto found = find_state_file(options.state);
  if (!found) throw UsageError(found.error());
  const std::string& state_path = *found;
  auto opened = open_existing_state(state_path);
  if (!opened) throw state::StateFailure(opened.error());
  const auto& store = *opened;
  state::RunJournal journal(*store);
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
    if (!options.dry_run) journal.delete_run(run.id);
  }
  if (options.dry_run) {
    std::cout << removable.size() << " of " << runs.size() << " runs would be removed; nothing was changed\n";
    return k_exit_ok;
  }
  if (!removable.empty()) journal.reclaim_space();
  std::cout << "removed " << removable.size() << " of " << runs.size() << " runs (unfinished runs and what they read "
            << "are kept); " << state_path << ": " << megabytes(size_before) << " -> "
            << megabytes(std::filesystem::file_size(state_path)) << "\n";
  return k_exit_ok;
}

} // namespace fleetrun::cli
