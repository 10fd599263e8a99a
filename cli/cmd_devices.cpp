#include "cli/commands.hpp"
#include "cli/exit_codes.hpp"
#include "cli/options.hpp"
#include "cli/settings.hpp"
#include "runner/connection.hpp"

#include "losant/schemas.hpp"

#include <memory>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace fleetrun::cli {

using namespace runner;
using nlohmann::json;

namespace {

std::string tag_text(const json& device)
{
  std::string text;
  for (const auto& tag : device.value("tags", json::array())) {
    text += (text.empty() ? "" : ",") + tag.value("key", "") + "=" + tag.value("value", "");
  }
  return text;
}

} // namespace

void setup_devices(CLI::App& app, Invocation& invocation)
{
  auto options = std::make_shared<DevicesOptions>();
  auto& o = *options;
  auto* cmd = app.add_subcommand("devices", "List the devices a query matches (GET requests only)");
  add_connection_options(*cmd, invocation.connection);
  cmd->add_option("--query", o.query, "advanced device query (JSON)");
  cmd->add_option("--query-file", o.query_file, "read the advanced device query from a JSON file");
  cmd->add_option("--filter", o.filter, "name glob, e.g. 'north-*'");
  cmd->add_option("--device-class", o.device_classes, "device class (repeatable)");
  cmd->add_option("--tag", o.tags, "tag filter key=value (repeatable)");
  cmd->add_option("--parent-id", o.parent_id, "children of this system device");
  cmd->add_flag("--deleted", o.deleted, "list soft-deleted devices instead");
  cmd->add_option("--sort-field", o.sort_field, "name, id, creationDate, lastUpdated")->capture_default_str();
  cmd->add_option("--sort-direction", o.sort_direction, "asc or desc")->capture_default_str();
  cmd->add_option("--per-page", o.per_page, "page size (1-1000)")->capture_default_str();
  cmd->add_option("--limit", o.limit, "stop after this many devices (0: all)")->capture_default_str();
  cmd->add_option("--output", o.output, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  cmd->callback([&invocation, options] {
    invocation.run = [&invocation, options] { return run_devices(invocation.connection, *options); };
  });
}

int run_devices(const ConnectionFlags& connection_options, const DevicesOptions& options)
{
  api::DeviceListParams params;
  params.sort_field = options.sort_field;
  params.sort_direction = options.sort_direction;
  params.per_page = options.per_page;
  params.device_class = options.device_classes;
  params.query_deleted = options.deleted;
  if (!options.filter.empty()) {
    params.filter_field = "name";
    params.filter = options.filter;
  }
  if (!options.parent_id.empty()) params.parent_id = options.parent_id;
  for (const auto& tag : options.tags) {
    const auto eq = tag.find('=');
    params.tag_filter.emplace_back(tag.substr(0, eq), eq == std::string::npos ? "" : tag.substr(eq + 1));
  }
  std::string query_text = options.query;
  if (!options.query_file.empty()) {
    std::ifstream in(options.query_file);
    if (!in) {
      spdlog::error("cannot read query file {}", options.query_file);
      return k_exit_usage;
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    query_text = buffer.str();
  }
  if (!query_text.empty()) {
    const json query = json::parse(query_text, nullptr, false);
    if (query.is_discarded()) {
      spdlog::error("--query is not valid JSON");
      return k_exit_usage;
    }
    // Checked here against the official schema, so a typo is named before any request.
    const auto violations = losant::validate_against("advancedDeviceQuery", query);
    if (!violations.empty()) {
      for (const auto& v : violations) spdlog::error("query: {}", losant::describe(v));
      return k_exit_usage;
    }
    params.query_json = query.dump();
  }

  auto connection = ApiConnection::open(resolve_connection(connection_options, plans::process_environment(), nullptr));
  if (!connection) {
    spdlog::error("{}", connection.error());
    return k_exit_usage;
  }
  api::LosantClient& client = (*connection)->client();

  std::size_t shown = 0;
  std::size_t total = 0;
  json items = json::array();
  for (params.page = 0;; ++params.page) {
    const auto result = client.get_devices(params);
    if (!result) {
      spdlog::error("GET devices page {}: {}", params.page, result.error().describe());
      return result.error().kind == api::ErrorKind::permanent ? k_exit_usage : k_exit_api;
    }
    const json page = json::parse(result->body);
    total = page.value("totalCount", std::size_t{0});
    const auto& page_items = page.at("items");
    for (const auto& device : page_items) {
      if (options.limit != 0 && shown >= options.limit) break;
      if (options.output == "json") {
        items.push_back(device);
      } else {
        std::cout << device.value("id", "") << "  " << device.value("name", "") << "  "
                  << device.value("deviceClass", "") << "  " << tag_text(device) << '\n';
      }
      ++shown;
    }
    const std::size_t seen =
        static_cast<std::size_t>(params.page) * static_cast<std::size_t>(params.per_page) + page_items.size();
    if (page_items.empty() || seen >= total || (options.limit != 0 && shown >= options.limit)) break;
  }
  if (options.output == "json") {
    std::cout << json{{"totalCount", total}, {"count", shown}, {"items", items}}.dump(2) << '\n';
  } else {
    std::cout << shown << " of " << total << " matching devices shown\n";
  }
  return k_exit_ok;
}

} // namespace fleetrun::cli
