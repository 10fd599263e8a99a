#include "cli/state_files.hpp"

#include "cli/errors.hpp"

#include <algorithm>
#include <filesystem>
#include <vector>

namespace fleetrun::cli {

std::string default_state_path(const std::string& plan_path)
{
  std::filesystem::path path(plan_path);
  path.replace_extension(".fleetrun.db");
  return path.string();
}

std::expected<std::string, std::string> find_state_file(const std::optional<std::string>& given)
{
  if (given && !given->empty()) return *given;
  std::vector<std::string> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(".", error)) {
    if (entry.path().filename().string().ends_with(".fleetrun.db")) found.push_back(entry.path().filename().string());
  }
  std::sort(found.begin(), found.end());
  if (found.size() == 1) return found.front();
  if (found.empty()) {
    return std::unexpected("no *.fleetrun.db state file in " + std::filesystem::current_path(error).string() +
                           "; pass --state FILE (apply and plan write one beside the plan)");
  }
  std::string list;
  for (const auto& name : found) list += "\n  " + name;
  return std::unexpected("several state files here; pass --state FILE to choose one of:" + list);
}

std::expected<std::unique_ptr<state::StateStore>, std::string> open_existing_state(const std::string& path)
{
  auto store = state::StateStore::open(path, state::OpenMode::must_exist);
  if (!store) return std::unexpected(store.error().message);
  return std::move(*store);
}

std::unique_ptr<state::StateStore> open_state_to_read(const std::optional<std::string>& given, std::string& path)
{
  auto found = find_state_file(given);
  if (!found) throw UsageError(found.error());
  path = *found;
  auto store = state::StateStore::open(path, state::OpenMode::read_only);
  if (!store) throw state::StateFailure(store.error().message);
  return std::move(*store);
}

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

} // namespace fleetrun::cli
