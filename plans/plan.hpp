#pragma once
// The plan model: what `fleetrun validate` checks and `plan`/`apply` run.
// Losant's own fields (update operations, remove-data range, command name and
// payload, device documents) are kept as JSON text, exactly as the plan wrote
// them after ${VAR} interpolation; jobs/ turns them into request bodies.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetrun::plans {

// 1-based position in the plan file; 0 when unknown.
struct Location {
  int line = 0;
  int column = 0;
};

enum class ActionKind { delete_devices, patch, remove_data, send_command, export_devices, create, restore };

// The name as written in plans: delete, patch, remove_data, send_command, export, create, restore.
std::string_view action_name(ActionKind kind);
std::optional<ActionKind> action_from_name(std::string_view name);
const std::vector<std::string>& action_names();

// Changes existing devices: needs confirmation and the whole-fleet guard.
bool changes_devices(ActionKind kind);

struct QuerySpec {
  std::string name;
  std::string query_json = "{}"; // the advanced query; "{}" when only simple filters are given
  bool has_advanced_query = false;
  std::string filter; // name glob
  std::vector<std::string> device_classes;
  std::vector<std::pair<std::string, std::string>> tags;
  std::string parent_id;
  bool deleted = false; // match soft-deleted devices (restore)
  std::optional<std::int64_t> expect_min;
  std::optional<std::int64_t> expect_max;
  Location location;

  // An empty advanced query and no simple filter: every device.
  bool matches_everything() const;
};

// How a send_command batch whose outcome is unknown is treated on resume.
enum class CommandDelivery { effectively_once, at_most_once, at_least_once };
std::string_view delivery_name(CommandDelivery delivery);

// A patch on devices whose result the API's docs do not settle (a tag key held
// more than once): go ahead as previewed, or refuse the run (exit 3).
enum class OnUncertain { proceed, abort };

struct Step {
  std::string id;
  ActionKind action = ActionKind::patch;
  std::string query;                  // the QuerySpec's name; empty for create
  std::string params_json = "{}";     // the action's Losant fields, e.g. {"updateOperations":[...]}
  std::optional<int> batch_size;      // devices per request; default: the API's limit for the action
  bool allow_whole_fleet = false;     // permits a changing step whose query matches every device
  bool resend_unknown_export = false; // export only: on resume, re-send a batch whose outcome is unknown
  CommandDelivery delivery = CommandDelivery::effectively_once; // send_command only
  std::optional<double> max_failure_percent;                    // overrides the plan's options
  std::optional<int> job_timeout_seconds;                       // overrides the plan's options
  std::optional<OnUncertain> on_uncertain;                      // patch only; overrides the plan's options
  std::string description;
  Location location;

  // The action's Losant fields, parsed once (set_params keeps text and tree together).
  const nlohmann::json& params() const;
  void set_params(const nlohmann::json& params);

private:
  std::shared_ptr<const nlohmann::json> m_params;
};

enum class OnDrift { abort, use_snapshot };

struct Target {
  std::string api_url; // empty: environment, flags or the default
  std::string application_id;
  std::string token_env = "LOSANT_API_TOKEN";
  std::string token_file;
};

struct PlanOptions {
  OnDrift on_drift = OnDrift::abort;
  OnUncertain on_uncertain = OnUncertain::proceed;
  int job_timeout_seconds = 600;
  std::optional<int> concurrency; // CLI flags override these four
  std::optional<double> rate;
  std::optional<double> burst;
  std::optional<double> max_failure_percent;
};

// notify: a webhook told how an apply run ended (runner/notify.hpp).
struct NotifySpec {
  std::string webhook_url_env;                                    // the variable holding the URL
  std::vector<std::string> on = {"finished", "failed", "paused"}; // which outcomes are sent
};

struct Plan {
  int version = 1;
  std::string name;
  std::string description;
  Target target;
  PlanOptions options;
  std::optional<NotifySpec> notify;
  std::vector<QuerySpec> queries;
  std::vector<Step> steps;

  std::string source_path;
  std::string text;           // the file as read
  std::string text_hash;      // SHA-256 of `text`, hex
  std::string effective_json; // the interpolated plan as canonical JSON
  std::string effective_hash; // SHA-256 of effective_json, hex
  // The ${VAR}s the plan used and the values it took (after defaults). Never
  // stored or shown: runs keep a SHA-256 of each (variable_hashes).
  std::map<std::string, std::string> variables;

  // {"SITE": "<sha256 of its value>", ...}
  std::string variable_hashes_json() const;

  const QuerySpec* find_query(std::string_view name) const;
};

// The queries of delete steps before step `index`: the preview and apply
// leave their devices out of that step.
std::vector<std::string> deleted_before(const Plan& plan, std::size_t index);

// SHA-256 of text, as 64 lowercase hex characters.
std::string sha256_hex(std::string_view text);

} // namespace fleetrun::plans
