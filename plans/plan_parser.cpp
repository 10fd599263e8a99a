#include "plans/plan_parser.hpp"

#include "plans/yaml_document.hpp"

#include "losant/json_schema.hpp"
#include "losant/schemas.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace fleetrun::plans {

using nlohmann::json;

namespace detail {
std::string_view plan_schema_template();
}

namespace {

// The plan schema with every {"$losant": name} replaced by that official schema.
const json& plan_schema()
{
  static const json k_schema = [] {
    json schema = json::parse(detail::plan_schema_template());
    for (auto& [name, definition] : schema["definitions"].items()) {
      if (definition.is_object() && definition.contains("$losant")) {
        json official = losant::official_schema(definition["$losant"].get<std::string>());
        official.erase("$schema");
        definition = std::move(official);
      }
    }
    return schema;
  }();
  return k_schema;
}

const json* resolve_in_plan_schema(std::string_view ref)
{
  if (!ref.starts_with("#/")) return nullptr;
  const json::json_pointer pointer(std::string(ref.substr(1)));
  const json& schema = plan_schema();
  return schema.contains(pointer) ? &schema.at(pointer) : nullptr;
}

class PlanReader {
public:
  PlanReader(const YamlDocument& document, std::string file, const Environment& env)
      : m_doc(document), m_file(std::move(file)), m_env(env)
  {
  }

  std::vector<Diagnostic> problems;

  std::optional<Plan> read(json root)
  {
    if (!root.is_object()) {
      report("", "a plan is a YAML mapping with version, queries and steps");
      return std::nullopt;
    }
    forbid_tokens(root);
    const std::string token_env = root.contains("target") && root["target"].is_object()
                                      ? root["target"].value("token_env", std::string("LOSANT_API_TOKEN"))
                                      : std::string("LOSANT_API_TOKEN");
    interpolate(root, "", token_env);
    validate_structure(root);
    Plan plan = build(root);
    check_references(plan, root);
    if (!problems.empty()) return std::nullopt;
    plan.effective_json = root.dump();
    plan.effective_hash = sha256_hex(plan.effective_json);
    return plan;
  }

private:
  void report(const std::string& path, const std::string& message, bool at_key = false)
  {
    problems.push_back({m_file, m_doc.locate(path, at_key), message});
  }

  static std::string where(const std::string& path) { return path.empty() ? "" : path + ": "; }

  static const std::vector<std::string>& token_keys()
  {
    static const std::vector<std::string> k_token_keys = {"token", "api_token", "apiToken", "accessToken",
                                                          "access_token"};
    return k_token_keys;
  }

  static bool is_token_key(const std::string& key)
  {
    return std::find(token_keys().begin(), token_keys().end(), key) != token_keys().end();
  }

  // A token in the plan would be copied into the state file and every report.
  void forbid_tokens(const json& root)
  {
    const auto& k_token_keys = token_keys();
    const auto check = [&](const json& object, const std::string& base) {
      if (!object.is_object()) return;
      for (const auto& key : k_token_keys) {
        if (object.contains(key)) {
          const std::string path = base.empty() ? key : base + "." + key;
          report(path,
                 path + ": a plan never holds the API token; name the variable that does with token_env "
                        "(default LOSANT_API_TOKEN) or a file with token_file",
                 true);
        }
      }
    };
    check(root, "");
    if (root.contains("target")) check(root["target"], "target");
  }

  // ${VAR} in any string value, from the environment; $${ stays a literal ${.
  void interpolate(json& value, const std::string& path, const std::string& token_env)
  {
    if (value.is_object()) {
      for (auto& [key, child] : value.items()) interpolate(child, path.empty() ? key : path + "." + key, token_env);
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i)
        interpolate(value[i], path + "[" + std::to_string(i) + "]", token_env);
    } else if (value.is_string()) {
      const std::string text = value.get<std::string>();
      if (text.find('$') == std::string::npos) return;
      std::string out;
      for (std::size_t i = 0; i < text.size();) {
        if (text.compare(i, 3, "$${") == 0) {
          out += "${";
          i += 3;
        } else if (text.compare(i, 2, "${") == 0) {
          const auto close = text.find('}', i + 2);
          if (close == std::string::npos) {
            report(path, where(path) + "unterminated ${ in \"" + text + "\" (write $${ for a literal ${)");
            return;
          }
          // ${NAME} or ${NAME:-default}, the default taken when NAME is unset or empty.
          std::string name = text.substr(i + 2, close - i - 2);
          std::optional<std::string> fallback;
          if (const auto dash = name.find(":-"); dash != std::string::npos) {
            fallback = name.substr(dash + 2);
            name = name.substr(0, dash);
          }
          if (name == token_env || name == "LOSANT_API_TOKEN") {
            report(path, where(path) + "${" + name +
                             "} would copy the API token into the plan, its state file and "
                             "reports; the token is read from the environment by itself");
            return;
          }
          auto found = m_env(name);
          if ((!found || found->empty()) && fallback) found = fallback;
          if (!found) {
            report(path, where(path) + "environment variable " + name + " is not set (used as ${" + name + "})");
            return;
          }
          out += *found;
          i = close + 1;
        } else {
          out += text[i++];
        }
      }
      value = out;
    }
  }

  void add_violations(const std::vector<losant::SchemaViolation>& violations, const std::string& prefix)
  {
    for (const auto& violation : violations) {
      std::string path = violation.path;
      if (!prefix.empty()) path = path.empty() ? prefix : prefix + "." + path;
      const bool at_key = violation.message.starts_with("unknown field") || violation.message.starts_with("the name");
      const auto last_dot = path.find_last_of('.');
      const std::string field = last_dot == std::string::npos ? path : path.substr(last_dot + 1);
      if (at_key && is_token_key(field)) continue; // already reported, with the reason
      report(path, losant::describe({path, violation.message}), at_key);
    }
  }

  void validate_structure(const json& root)
  {
    static const losant::SchemaResolver k_resolver = resolve_in_plan_schema;
    add_violations(losant::validate_json(plan_schema(), root, k_resolver), "");
    const auto steps = root.find("steps");
    if (steps == root.end() || !steps->is_array()) return;
    for (std::size_t i = 0; i < steps->size(); ++i) {
      const json& step = (*steps)[i];
      const std::string path = "steps[" + std::to_string(i) + "]";
      if (!step.is_object() || !step.contains("action") || !step["action"].is_string()) continue;
      const std::string action = step["action"].get<std::string>();
      if (!action_from_name(action)) {
        const auto suggestion = did_you_mean(action, action_names());
        std::string message = path + ".action: unknown action \"" + action + "\"";
        message += suggestion ? " (did you mean \"" + *suggestion + "\"?)"
                              : "; the actions are delete, patch, "
                                "remove_data, send_command, export, create, restore";
        // The schema already said "must be one of"; replace that with this.
        std::erase_if(problems, [&](const Diagnostic& d) { return d.message.starts_with(path + ".action:"); });
        report(path + ".action", message);
        continue;
      }
      add_violations(losant::validate_json(plan_schema()["definitions"]["step_" + action], step, k_resolver), path);
      if (action == "patch" && !step.contains("updateOperations") && !step.contains("updateFields")) {
        report(path, path + ": a patch step needs updateOperations or updateFields");
      }
    }
  }

  static std::vector<std::string> strings_of(const json& value)
  {
    std::vector<std::string> out;
    if (value.is_string()) out.push_back(value.get<std::string>());
    if (value.is_array()) {
      for (const auto& item : value) {
        if (item.is_string()) out.push_back(item.get<std::string>());
      }
    }
    return out;
  }

  Plan build(const json& root)
  {
    Plan plan;
    plan.name = root.value("name", "");
    plan.description = root.value("description", "");
    if (auto target = root.find("target"); target != root.end() && target->is_object()) {
      plan.target.api_url = target->value("api_url", "");
      plan.target.application_id = target->value("application", "");
      plan.target.token_env = target->value("token_env", std::string("LOSANT_API_TOKEN"));
      plan.target.token_file = target->value("token_file", "");
    }
    if (auto options = root.find("options"); options != root.end() && options->is_object()) {
      plan.options.on_drift =
          options->value("on_drift", "abort") == "use_snapshot" ? OnDrift::use_snapshot : OnDrift::abort;
      const auto number = [&](const char* key) -> std::optional<double> {
        const auto it = options->find(key);
        return it != options->end() && it->is_number() ? std::optional(it->get<double>()) : std::nullopt;
      };
      if (const auto concurrency = number("concurrency")) plan.options.concurrency = static_cast<int>(*concurrency);
      plan.options.rate = number("rate");
      plan.options.burst = number("burst");
      plan.options.max_failure_percent = number("max_failure_percent");
      if (options->contains("job_timeout_seconds") && (*options)["job_timeout_seconds"].is_number_integer()) {
        plan.options.job_timeout_seconds = (*options)["job_timeout_seconds"].get<int>();
      }
    }
    if (auto queries = root.find("queries"); queries != root.end() && queries->is_object()) {
      for (const auto& [name, spec] : queries->items()) {
        if (!spec.is_object()) continue;
        QuerySpec query;
        query.name = name;
        query.location = m_doc.locate("queries." + name, true);
        if (auto q = spec.find("query"); q != spec.end() && q->is_object()) {
          query.query_json = q->dump();
          query.has_advanced_query = true;
        }
        query.filter = spec.value("filter", "");
        if (spec.contains("device_class")) query.device_classes = strings_of(spec["device_class"]);
        if (auto tags = spec.find("tags"); tags != spec.end() && tags->is_array()) {
          for (const auto& tag : *tags) {
            if (tag.is_object()) query.tags.emplace_back(tag.value("key", ""), tag.value("value", ""));
          }
        }
        query.parent_id = spec.value("parent_id", "");
        query.deleted = spec.value("deleted", false);
        if (auto expect = spec.find("expect"); expect != spec.end() && expect->is_object()) {
          if (expect->contains("min") && (*expect)["min"].is_number_integer())
            query.expect_min = (*expect)["min"].get<std::int64_t>();
          if (expect->contains("max") && (*expect)["max"].is_number_integer())
            query.expect_max = (*expect)["max"].get<std::int64_t>();
          if (query.expect_min && query.expect_max && *query.expect_min > *query.expect_max) {
            report("queries." + name + ".expect", "queries." + name + ".expect: min (" +
                                                      std::to_string(*query.expect_min) + ") is greater than max (" +
                                                      std::to_string(*query.expect_max) + ")");
          }
        }
        plan.queries.push_back(std::move(query));
      }
    }
    static const std::vector<std::string> k_plan_keys = {
        "id",         "action",   "query",       "batch_size",          "allow_whole_fleet",
        "on_unknown", "delivery", "description", "max_failure_percent", "job_timeout_seconds"};
    if (auto steps = root.find("steps"); steps != root.end() && steps->is_array()) {
      for (std::size_t i = 0; i < steps->size(); ++i) {
        const json& spec = (*steps)[i];
        if (!spec.is_object()) continue;
        const auto action = action_from_name(spec.value("action", ""));
        if (!action) continue;
        Step step;
        step.id = spec.value("id", "");
        step.action = *action;
        step.query = spec.value("query", "");
        step.location = m_doc.locate("steps[" + std::to_string(i) + "]");
        if (spec.contains("batch_size") && spec["batch_size"].is_number_integer())
          step.batch_size = spec["batch_size"].get<int>();
        step.allow_whole_fleet = spec.value("allow_whole_fleet", false);
        step.resend_unknown_export = spec.value("on_unknown", "report") == "resend";
        const std::string delivery = spec.value("delivery", "effectively_once");
        step.delivery = delivery == "at_most_once"    ? CommandDelivery::at_most_once
                        : delivery == "at_least_once" ? CommandDelivery::at_least_once
                                                      : CommandDelivery::effectively_once;
        step.description = spec.value("description", "");
        if (spec.contains("job_timeout_seconds") && spec["job_timeout_seconds"].is_number_integer()) {
          step.job_timeout_seconds = spec["job_timeout_seconds"].get<int>();
        }
        if (spec.contains("max_failure_percent") && spec["max_failure_percent"].is_number()) {
          step.max_failure_percent = spec["max_failure_percent"].get<double>();
        }
        json params = json::object();
        for (const auto& [key, value] : spec.items()) {
          if (std::find(k_plan_keys.begin(), k_plan_keys.end(), key) == k_plan_keys.end()) params[key] = value;
        }
        step.set_params(params);
        plan.steps.push_back(std::move(step));
      }
    }
    return plan;
  }

  void check_references(const Plan& plan, const json& root)
  {
    std::vector<std::string> query_names;
    for (const auto& q : plan.queries) query_names.push_back(q.name);
    std::vector<std::string> seen_ids;
    if (!root.contains("steps") || !root["steps"].is_array()) return;
    const json& steps = root["steps"];
    for (std::size_t i = 0; i < steps.size(); ++i) {
      if (!steps[i].is_object() || !steps[i].contains("id") || !steps[i]["id"].is_string()) continue;
      const std::string id = steps[i]["id"].get<std::string>();
      const std::string path = "steps[" + std::to_string(i) + "].id";
      if (std::find(seen_ids.begin(), seen_ids.end(), id) != seen_ids.end()) {
        report(path, path + ": step id \"" + id + "\" is used by an earlier step; ids must be unique");
      }
      seen_ids.push_back(id);
    }
    for (std::size_t i = 0, s = 0; i < steps.size() && s < plan.steps.size(); ++i) {
      if (!steps[i].is_object() || !action_from_name(steps[i].value("action", ""))) continue;
      const Step& step = plan.steps[s++];
      const std::string path = "steps[" + std::to_string(i) + "]";
      if (step.action == ActionKind::create || step.query.empty()) continue;
      const QuerySpec* query = plan.find_query(step.query);
      if (query == nullptr) {
        const auto suggestion = did_you_mean(step.query, query_names);
        report(path + ".query", path + ".query: no query named \"" + step.query + "\" in queries" +
                                    (suggestion ? " (did you mean \"" + *suggestion + "\"?)" : std::string()));
        continue;
      }
      if (step.action == ActionKind::restore && !query->deleted) {
        report(path + ".query", path + ".query: restore brings back deleted devices, but query \"" + query->name +
                                    "\" matches live ones; set deleted: true on it");
      }
      if (step.action != ActionKind::restore && query->deleted) {
        report(path + ".query",
               path + ".query: query \"" + query->name + "\" matches deleted devices; only a restore step can use it");
      }
      if (changes_devices(step.action) && query->matches_everything() && !step.allow_whole_fleet) {
        report(path + ".query",
               path + ".query: query \"" + query->name + "\" matches every device of the application; a " +
                   std::string(action_name(step.action)) + " step on the whole fleet needs allow_whole_fleet: true");
      }
    }
  }

  const YamlDocument& m_doc;
  std::string m_file;
  const Environment& m_env;
};

} // namespace

std::string ParseFailure::render_all() const
{
  std::string out;
  for (const auto& diagnostic : diagnostics) out += render(diagnostic, source_lines);
  return out;
}

Environment process_environment()
{
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::expected<Plan, ParseFailure> parse_plan(const std::string& text, const std::string& file, const Environment& env)
{
  auto document = load_yaml(text, file);
  if (!document) {
    ParseFailure failure{document.error(), {}};
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) failure.source_lines.push_back(line);
    return std::unexpected(std::move(failure));
  }
  PlanReader reader(*document, file, env);
  auto plan = reader.read(document->value);
  if (!plan) {
    auto problems = std::move(reader.problems);
    std::stable_sort(problems.begin(), problems.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return std::pair(a.location.line, a.location.column) < std::pair(b.location.line, b.location.column);
    });
    return std::unexpected(ParseFailure{std::move(problems), document->lines});
  }
  plan->source_path = file;
  plan->text = text;
  plan->text_hash = sha256_hex(text);
  return std::move(*plan);
}

std::expected<Plan, ParseFailure> load_plan_file(const std::string& path, const Environment& env)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(ParseFailure{{{path, {}, "cannot read the plan file"}}, {}});
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_plan(buffer.str(), path, env);
}

const std::string& plan_schema_text()
{
  static const std::string k_text = plan_schema().dump(2) + "\n";
  return k_text;
}

} // namespace fleetrun::plans
