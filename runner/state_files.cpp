#include "runner/state_files.hpp"

#include <algorithm>
#include <filesystem>
#include <vector>

namespace fleetrun::runner {

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

} // namespace fleetrun::runner
