#include "plans/plan_parser.hpp"
#include "plans/plan_text.hpp"

#include "plans/yaml_document.hpp"

#include "losant/json_schema.hpp"
#include "losant/schemas.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace fleetrun::plans {

using nlohmann::json;

namespace detail {
std::string_view plan_schema_template();
}

namespace {

using detail::check_text;
using detail::normalized_line_ends;
using detail::position_of;
using detail::printable;
using detail::utf8_length;

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

// Typed reads that never throw: a value of the wrong type has been reported
// by the schema check already; here it reads as the fallback.
std::string text_of(const json& object, const char* key, std::string fallback = {})
{
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool flag_of(const json& object, const char* key, bool fallback)
{
  if (!object.is_object()) return fallback;
  const auto it = object.find(key);
  return it != object.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

class PlanReader {
public:
  PlanReader(const YamlDocument& document, std::string file, const Environment& env, const std::string& text)
      : m_doc(document), m_file(std::move(file)), m_env(env), m_text(text)
  {
  }

  std::vector<Diagnostic> problems;

  std::optional<Plan> read(json root)
  {
    if (!root.is_object()) {
      report("", "a plan is a YAML mapping with version, queries and steps");
      return std::nullopt;
    }
    forbid_token_keys(root, "");
    const std::string token_env = text_of(root.value("target", json::object()), "token_env", "LOSANT_API_TOKEN");
    interpolate(root, "", token_env);
    for (const auto& [token, source] : known_tokens(root, token_env)) forbid_token_values(root, "", token, source);
    if (!all_utf8(root, "")) return std::nullopt; // nothing below could print such a value
    validate_structure(root);
    Plan plan = build(root);
    check_references(plan, root);
    if (!problems.empty()) return std::nullopt;
    plan.effective_json = root.dump();
    plan.effective_hash = sha256_hex(plan.effective_json);
    plan.variables = m_variables;
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

  // Strings from escapes ("\xFF") or ${VAR}s can still be invalid UTF-8.
  bool all_utf8(const json& value, const std::string& path)
  {
    bool ok = true;
    if (value.is_object()) {
      for (const auto& [key, child] : value.items()) ok = all_utf8(child, path.empty() ? key : path + "." + key) && ok;
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i)
        ok = all_utf8(value[i], path + "[" + std::to_string(i) + "]") && ok;
    } else if (value.is_string()) {
      const auto& text = value.get_ref<const std::string&>();
      for (std::size_t i = 0; i < text.size();) {
        const std::size_t length = utf8_length(text, i);
        if (length == 0 || text[i] == '\0') {
          report(path, where(path) + "the value is not valid UTF-8 text (from an escape or a ${VAR})");
          return false;
        }
        i += length;
      }
    }
    return ok;
  }

  // A token in the plan would be copied into the state file and every
  // report: no field that names one, at any depth...
  void forbid_token_keys(const json& value, const std::string& path)
  {
    if (value.is_object()) {
      for (const auto& [key, child] : value.items()) {
        const std::string child_path = path.empty() ? key : path + "." + key;
        if (is_token_key(key)) {
          report(child_path,
                 child_path + ": a plan never holds the API token; name the variable that does with "
                              "target.token_env (default LOSANT_API_TOKEN) or a file with target.token_file",
                 true);
        }
        forbid_token_keys(child, child_path);
      }
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) forbid_token_keys(value[i], path + "[" + std::to_string(i) + "]");
    }
  }

  // ...and no value that holds the token itself, written out or through a
  // ${VAR} that happens to hold it. The tokens are read where a run would
  // read them; the messages never show them.
  std::vector<std::pair<std::string, std::string>> known_tokens(const json& root, const std::string& token_env) const
  {
    std::vector<std::pair<std::string, std::string>> tokens; // value, where it comes from
    for (const std::string& name : {token_env, std::string("LOSANT_API_TOKEN")}) {
      if (auto value = m_env(name); value && !value->empty()) tokens.emplace_back(*value, "$" + name);
    }
    const std::string file = text_of(root.value("target", json::object()), "token_file");
    if (!file.empty()) {
      std::ifstream in(file);
      std::string line;
      if (in && std::getline(in, line)) {
        while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
        if (!line.empty()) tokens.emplace_back(line, "the token file " + file);
      }
    }
    std::erase_if(tokens, [](const auto& token) { return token.first.size() < 4; }); // too short to mean anything
    return tokens;
  }

  void forbid_token_values(const json& value, const std::string& path, const std::string& token,
                           const std::string& source)
  {
    if (value.is_object()) {
      for (const auto& [key, child] : value.items())
        forbid_token_values(child, path.empty() ? key : path + "." + key, token, source);
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i)
        forbid_token_values(value[i], path + "[" + std::to_string(i) + "]", token, source);
    } else if (value.is_string() && value.get<std::string>().find(token) != std::string::npos) {
      report(path, where(path) + "this value holds the API token (the value of " + source +
                       "); a plan never holds it, or it would be copied into the state file and every report");
    }
    if (path.empty()) {
      // In the text itself (a comment, an unused field): the plan's text is stored with each run.
      if (const auto at = m_text.find(token); at != std::string::npos && problems.empty()) {
        problems.push_back({m_file, position_of(m_text, at),
                            "the plan's text holds the API token (the value of " + source +
                                "); remove it: the text of a plan is stored with every run"});
      }
    }
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
          m_variables[name] = *found;
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
    plan.name = text_of(root, "name");
    plan.description = text_of(root, "description");
    if (auto target = root.find("target"); target != root.end() && target->is_object()) {
      plan.target.api_url = text_of(*target, "api_url");
      plan.target.application_id = text_of(*target, "application");
      plan.target.token_env = text_of(*target, "token_env", std::string("LOSANT_API_TOKEN"));
      plan.target.token_file = text_of(*target, "token_file");
    }
    if (auto options = root.find("options"); options != root.end() && options->is_object()) {
      plan.options.on_drift =
          text_of(*options, "on_drift", "abort") == "use_snapshot" ? OnDrift::use_snapshot : OnDrift::abort;
      plan.options.on_uncertain =
          text_of(*options, "on_uncertain", "proceed") == "abort" ? OnUncertain::abort : OnUncertain::proceed;
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
    if (auto notify = root.find("notify"); notify != root.end() && notify->is_object()) {
      NotifySpec spec;
      spec.webhook_url_env = text_of(*notify, "webhook_url_env");
      if (auto on = notify->find("on"); on != notify->end() && on->is_array()) {
        spec.on.clear();
        for (const auto& outcome : *on) {
          if (outcome.is_string()) spec.on.push_back(outcome.get<std::string>());
        }
      }
      plan.notify = std::move(spec);
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
        query.filter = text_of(spec, "filter");
        if (spec.contains("device_class")) query.device_classes = strings_of(spec["device_class"]);
        if (auto tags = spec.find("tags"); tags != spec.end() && tags->is_array()) {
          for (const auto& tag : *tags) {
            if (tag.is_object()) query.tags.emplace_back(text_of(tag, "key"), text_of(tag, "value"));
          }
        }
        query.parent_id = text_of(spec, "parent_id");
        query.deleted = flag_of(spec, "deleted", false);
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
        "id",          "action",   "query",       "batch_size",          "allow_whole_fleet",
        "on_unknown",  "delivery", "description", "max_failure_percent", "job_timeout_seconds",
        "on_uncertain"};
    if (auto steps = root.find("steps"); steps != root.end() && steps->is_array()) {
      for (std::size_t i = 0; i < steps->size(); ++i) {
        const json& spec = (*steps)[i];
        if (!spec.is_object()) continue;
        const auto action = action_from_name(text_of(spec, "action"));
        if (!action) continue;
        Step step;
        step.id = text_of(spec, "id");
        step.action = *action;
        step.query = text_of(spec, "query");
        step.location = m_doc.locate("steps[" + std::to_string(i) + "]");
        if (spec.contains("batch_size") && spec["batch_size"].is_number_integer())
          step.batch_size = spec["batch_size"].get<int>();
        step.allow_whole_fleet = flag_of(spec, "allow_whole_fleet", false);
        step.resend_unknown_export = text_of(spec, "on_unknown", "report") == "resend";
        const std::string delivery = text_of(spec, "delivery", "effectively_once");
        step.delivery = delivery == "at_most_once"    ? CommandDelivery::at_most_once
                        : delivery == "at_least_once" ? CommandDelivery::at_least_once
                                                      : CommandDelivery::effectively_once;
        step.description = text_of(spec, "description");
        if (spec.contains("job_timeout_seconds") && spec["job_timeout_seconds"].is_number_integer()) {
          step.job_timeout_seconds = spec["job_timeout_seconds"].get<int>();
        }
        if (spec.contains("on_uncertain") && spec["on_uncertain"].is_string()) {
          step.on_uncertain = spec["on_uncertain"] == "abort" ? OnUncertain::abort : OnUncertain::proceed;
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
      if (!steps[i].is_object() || !action_from_name(text_of(steps[i], "action"))) continue;
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
  const std::string& m_text;
  std::map<std::string, std::string> m_variables;
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

std::expected<Plan, ParseFailure> parse_plan(const std::string& raw_text, const std::string& file,
                                             const Environment& env)
{
  // Line ends as CR LF or CR alone read as LF; the hash stays the raw text's.
  const std::string text = normalized_line_ends(raw_text);
  std::vector<std::string> source_lines;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) source_lines.push_back(printable(line));
  if (auto problem = check_text(text, file)) return std::unexpected(ParseFailure{{*problem}, source_lines});
  auto document = load_yaml(text, file);
  if (!document) return std::unexpected(ParseFailure{document.error(), source_lines});
  PlanReader reader(*document, file, env, text);
  auto plan = reader.read(document->value);
  if (!plan) {
    auto problems = std::move(reader.problems);
    std::stable_sort(problems.begin(), problems.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return std::pair(a.location.line, a.location.column) < std::pair(b.location.line, b.location.column);
    });
    return std::unexpected(ParseFailure{std::move(problems), document->lines});
  }
  plan->source_path = file;
  plan->text = raw_text;
  plan->text_hash = sha256_hex(raw_text);
  return std::move(*plan);
}

std::expected<Plan, ParseFailure> load_plan_file(const std::string& path, const Environment& env)
{
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(ParseFailure{{{path, {1, 1}, "cannot read the plan file"}}, {}});
  // Read no more than the limit allows (the file may be a device or a pipe).
  std::string text(k_max_plan_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) return std::unexpected(ParseFailure{{{path, {1, 1}, "cannot read the plan file"}}, {}});
  return parse_plan(text, path, env);
}

const std::string& plan_schema_text()
{
  static const std::string k_text = plan_schema().dump(2) + "\n";
  return k_text;
}

} // namespace fleetrun::plans
