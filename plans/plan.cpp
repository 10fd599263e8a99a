#include "plans/plan.hpp"

#include <nlohmann/json.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <algorithm>
#include <array>

namespace fleetrun::plans {

namespace {

constexpr std::array<std::pair<ActionKind, std::string_view>, 7> k_actions = {{
    {ActionKind::delete_devices, "delete"},
    {ActionKind::patch, "patch"},
    {ActionKind::remove_data, "remove_data"},
    {ActionKind::send_command, "send_command"},
    {ActionKind::export_devices, "export"},
    {ActionKind::create, "create"},
    {ActionKind::restore, "restore"},
}};

} // namespace

const nlohmann::json& Step::params() const
{
  static const nlohmann::json k_empty = nlohmann::json::object();
  return m_params ? *m_params : k_empty;
}

void Step::set_params(const nlohmann::json& params)
{
  params_json = params.dump();
  m_params = std::make_shared<const nlohmann::json>(params);
}

std::string Plan::variable_hashes_json() const
{
  nlohmann::json hashes = nlohmann::json::object();
  for (const auto& [name, value] : variables) hashes[name] = sha256_hex(value);
  return hashes.dump();
}

std::string_view action_name(ActionKind kind)
{
  for (const auto& [k, name] : k_actions) {
    if (k == kind) return name;
  }
  return "?";
}

std::optional<ActionKind> action_from_name(std::string_view name)
{
  for (const auto& [k, n] : k_actions) {
    if (n == name) return k;
  }
  return std::nullopt;
}

const std::vector<std::string>& action_names()
{
  static const std::vector<std::string> k_names = [] {
    std::vector<std::string> names;
    for (const auto& [k, n] : k_actions) names.emplace_back(n);
    return names;
  }();
  return k_names;
}

bool changes_devices(ActionKind kind)
{
  return kind == ActionKind::delete_devices || kind == ActionKind::patch || kind == ActionKind::remove_data ||
         kind == ActionKind::send_command;
}

std::string_view delivery_name(CommandDelivery delivery)
{
  switch (delivery) {
  case CommandDelivery::at_most_once: return "at_most_once";
  case CommandDelivery::at_least_once: return "at_least_once";
  case CommandDelivery::effectively_once: break;
  }
  return "effectively_once";
}

bool QuerySpec::matches_everything() const
{
  return (query_json == "{}" || query_json.empty()) && filter.empty() && device_classes.empty() && tags.empty() &&
         parent_id.empty();
}

const QuerySpec* Plan::find_query(std::string_view query_name) const
{
  const auto it =
      std::find_if(queries.begin(), queries.end(), [&](const QuerySpec& q) { return q.name == query_name; });
  return it == queries.end() ? nullptr : &*it;
}

std::string sha256_hex(std::string_view text)
{
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text.data(), static_cast<unsigned>(text.size()));
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::vector<std::string> deleted_before(const Plan& plan, std::size_t index)
{
  std::vector<std::string> queries;
  for (std::size_t i = 0; i < index && i < plan.steps.size(); ++i) {
    const auto& step = plan.steps[i];
    if (step.action == ActionKind::delete_devices && !step.query.empty() &&
        std::find(queries.begin(), queries.end(), step.query) == queries.end()) {
      queries.push_back(step.query);
    }
  }
  return queries;
}

} // namespace fleetrun::plans
