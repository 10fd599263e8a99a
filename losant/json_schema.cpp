#include "losant/json_schema.hpp"

#include "losant/object_id.hpp"
#include "losant/suggest.hpp"
#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <regex>

namespace fleetrun::losant {

using nlohmann::json;

namespace {

// A violation plus what the validator needs to merge alternatives of a oneOf.
struct Finding {
  std::string path;
  std::string message;
  std::vector<std::string> allowed; // for enum mismatches: the allowed values
};

std::string child_path(const std::string& base, const std::string& key)
{
  return base.empty() ? key : base + "." + key;
}

std::string index_path(const std::string& base, std::size_t index)
{
  return base + "[" + std::to_string(index) + "]";
}

std::size_t utf8_length(const std::string& text)
{
  return static_cast<std::size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

bool is_name_token(const std::string& text)
{
  if (text.empty() || text.size() > 255) {
    return false;
  }
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
  });
}

// std::regex is slow to build, so compiled patterns are cached; the two
// patterns on every id and key of the Losant schemas skip the regex engine.
bool pattern_matches(const std::string& pattern, const std::string& text)
{
  if (pattern == R"(^[A-Fa-f\d]{24}$)") {
    return is_object_id(text);
  }
  if (pattern == "^[0-9a-zA-Z_-]{1,255}$") {
    return is_name_token(text);
  }
  if (pattern == "^[0-9a-zA-Z_-]{1,255}") {
    return !text.empty() && is_name_token(text.substr(0, 1));
  }
  static std::mutex cache_mutex;
  static std::map<std::string, std::regex, std::less<>> cache;
  const std::regex* compiled = nullptr;
  {
    std::lock_guard lock(cache_mutex);
    auto it = cache.find(pattern);
    if (it == cache.end()) {
      it = cache.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first;
    }
    compiled = &it->second;
  }
  return std::regex_search(text, *compiled);
}

bool format_matches(const std::string& format, const std::string& text)
{
  if (format == "date-time") {
    return text.find('T') != std::string::npos && parse_iso8601_ms(text).has_value();
  }
  if (format == "email") {
    const auto at = text.find('@');
    return at != std::string::npos && at > 0 && at + 1 < text.size() && text.find(' ') == std::string::npos;
  }
  if (format == "uri") {
    static const std::regex k_uri(R"(^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$)");
    return std::regex_match(text, k_uri);
  }
  return true; // unknown formats are annotations only, as in draft-07
}

bool type_matches(const json& instance, const std::string& type)
{
  if (type == "object") return instance.is_object();
  if (type == "array") return instance.is_array();
  if (type == "string") return instance.is_string();
  if (type == "boolean") return instance.is_boolean();
  if (type == "null") return instance.is_null();
  if (type == "number") return instance.is_number();
  if (type == "integer") {
    if (instance.is_number_integer()) return true;
    if (instance.is_number_float()) {
      const double value = instance.get<double>();
      return std::isfinite(value) && std::floor(value) == value;
    }
    return false;
  }
  return false;
}

std::string json_type_name(const json& instance)
{
  if (instance.is_number_integer()) return "integer";
  if (instance.is_number()) return "number";
  return instance.type_name();
}

class Validator {
public:
  explicit Validator(const SchemaResolver& resolver) : m_resolver(resolver) {}

  void validate(const json& schema, const json& instance, const std::string& path, std::vector<Finding>& out) const
  {
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) out.push_back({path, "is not allowed", {}});
      return;
    }
    if (!schema.is_object()) return;

    if (auto ref = schema.find("$ref"); ref != schema.end() && ref->is_string()) {
      const json* target = m_resolver ? m_resolver(ref->get<std::string>()) : nullptr;
      if (target == nullptr) {
        out.push_back({path, "schema reference " + ref->get<std::string>() + " cannot be resolved", {}});
        return;
      }
      validate(*target, instance, path, out);
      return;
    }

    if (!check_type(schema, instance, path, out)) return;
    check_enum(schema, instance, path, out);
    if (instance.is_string()) check_string(schema, instance.get_ref<const std::string&>(), path, out);
    if (instance.is_number()) check_number(schema, instance.get<double>(), path, out);
    if (instance.is_array()) check_array(schema, instance, path, out);
    if (instance.is_object()) check_object(schema, instance, path, out);
    check_combinators(schema, instance, path, out);
  }

private:
  bool check_type(const json& schema, const json& instance, const std::string& path, std::vector<Finding>& out) const
  {
    const auto type = schema.find("type");
    if (type == schema.end()) return true;
    std::vector<std::string> types;
    if (type->is_string()) types.push_back(type->get<std::string>());
    if (type->is_array()) {
      for (const auto& t : *type) types.push_back(t.get<std::string>());
    }
    for (const auto& t : types) {
      if (type_matches(instance, t)) return true;
    }
    std::string expected;
    for (std::size_t i = 0; i < types.size(); ++i) {
      expected += (i == 0 ? "" : (i + 1 == types.size() ? " or " : ", ")) + types[i];
    }
    out.push_back(
        {path,
         "must be " +
             (types.size() == 1 && types[0] != "null"
                  ? "a" + std::string(types[0] == "object" || types[0] == "array" || types[0] == "integer" ? "n " : " ")
                  : std::string()) +
             expected + ", not " + json_type_name(instance),
         {}});
    return false;
  }

  static void check_enum(const json& schema, const json& instance, const std::string& path, std::vector<Finding>& out)
  {
    if (auto values = schema.find("enum"); values != schema.end() && values->is_array()) {
      if (std::find(values->begin(), values->end(), instance) == values->end()) {
        Finding finding{path, "", {}};
        for (const auto& v : *values) finding.allowed.push_back(v.dump());
        finding.message = "must be one of " + join_allowed(finding.allowed) + ", not " + instance.dump();
        out.push_back(std::move(finding));
      }
    }
    if (auto value = schema.find("const"); value != schema.end() && *value != instance) {
      out.push_back({path, "must be " + value->dump(), {}});
    }
  }

  void check_string(const json& schema, const std::string& text, const std::string& path,
                    std::vector<Finding>& out) const
  {
    const std::size_t length = utf8_length(text);
    if (auto min = schema.find("minLength"); min != schema.end() && length < min->get<std::size_t>()) {
      out.push_back(
          {path,
           min->get<std::size_t>() == 1 ? "must not be empty" : "must be at least " + min->dump() + " characters long",
           {}});
    }
    if (auto max = schema.find("maxLength"); max != schema.end() && length > max->get<std::size_t>()) {
      out.push_back({path, "must be at most " + max->dump() + " characters long", {}});
    }
    if (auto pattern = schema.find("pattern"); pattern != schema.end()) {
      if (!pattern_matches(pattern->get<std::string>(), text)) {
        const auto& p = pattern->get_ref<const std::string&>();
        out.push_back({path,
                       p == R"(^[A-Fa-f\d]{24}$)" ? "must be a 24-character hexadecimal id, not \"" + text + "\""
                                                  : "\"" + text + "\" does not match the pattern " + p,
                       {}});
      }
    }
    if (auto format = schema.find("format"); format != schema.end()) {
      if (!format_matches(format->get<std::string>(), text)) {
        out.push_back({path, "must be a valid " + format->get<std::string>(), {}});
      }
    }
  }

  static void check_number(const json& schema, double value, const std::string& path, std::vector<Finding>& out)
  {
    if (auto min = schema.find("minimum"); min != schema.end() && value < min->get<double>()) {
      out.push_back({path, "must be at least " + min->dump(), {}});
    }
    if (auto max = schema.find("maximum"); max != schema.end() && value > max->get<double>()) {
      out.push_back({path, "must be at most " + max->dump(), {}});
    }
    if (auto min = schema.find("exclusiveMinimum");
        min != schema.end() && min->is_number() && value <= min->get<double>()) {
      out.push_back({path, "must be greater than " + min->dump(), {}});
    }
    if (auto max = schema.find("exclusiveMaximum");
        max != schema.end() && max->is_number() && value >= max->get<double>()) {
      out.push_back({path, "must be less than " + max->dump(), {}});
    }
  }

  void check_array(const json& schema, const json& instance, const std::string& path, std::vector<Finding>& out) const
  {
    if (auto min = schema.find("minItems"); min != schema.end() && instance.size() < min->get<std::size_t>()) {
      out.push_back({path, "must have at least " + min->dump() + " items", {}});
    }
    if (auto max = schema.find("maxItems"); max != schema.end() && instance.size() > max->get<std::size_t>()) {
      out.push_back({path, "must have at most " + max->dump() + " items, not " + std::to_string(instance.size()), {}});
      return; // validating thousands of surplus items says nothing more
    }
    if (auto items = schema.find("items"); items != schema.end()) {
      if (items->is_array()) {
        for (std::size_t i = 0; i < instance.size() && i < items->size(); ++i) {
          validate((*items)[i], instance[i], index_path(path, i), out);
        }
      } else {
        for (std::size_t i = 0; i < instance.size(); ++i) {
          validate(*items, instance[i], index_path(path, i), out);
        }
      }
    }
    if (auto unique = schema.find("uniqueItems");
        unique != schema.end() && unique->is_boolean() && unique->get<bool>()) {
      for (std::size_t i = 0; i < instance.size(); ++i) {
        for (std::size_t j = i + 1; j < instance.size(); ++j) {
          if (instance[i] == instance[j]) {
            out.push_back({index_path(path, j), "repeats an earlier item", {}});
            return;
          }
        }
      }
    }
  }

  void check_object(const json& schema, const json& instance, const std::string& path, std::vector<Finding>& out) const
  {
    const auto properties = schema.find("properties");
    const auto pattern_properties = schema.find("patternProperties");
    const auto additional = schema.find("additionalProperties");
    if (auto required = schema.find("required"); required != schema.end()) {
      for (const auto& name : *required) {
        if (!instance.contains(name.get<std::string>())) {
          out.push_back({child_path(path, name.get<std::string>()), "is required", {}});
        }
      }
    }
    if (auto min = schema.find("minProperties"); min != schema.end() && instance.size() < min->get<std::size_t>()) {
      out.push_back(
          {path,
           min->get<std::size_t>() == 1 ? "must not be empty" : "must have at least " + min->dump() + " fields",
           {}});
    }
    if (auto max = schema.find("maxProperties"); max != schema.end() && instance.size() > max->get<std::size_t>()) {
      out.push_back({path, "must have at most " + max->dump() + (max->get<int>() == 1 ? " field" : " fields"), {}});
    }
    if (auto names = schema.find("propertyNames"); names != schema.end()) {
      for (const auto& [key, unused] : instance.items()) {
        std::vector<Finding> found;
        validate(*names, json(key), child_path(path, key), found);
        for (auto& f : found) {
          f.message = "the name \"" + key + "\" " + f.message;
          out.push_back(std::move(f));
        }
      }
    }
    for (const auto& [key, value] : instance.items()) {
      bool matched = false;
      const std::string field_path = child_path(path, key);
      if (properties != schema.end() && properties->is_object()) {
        if (auto property = properties->find(key); property != properties->end()) {
          matched = true;
          validate(*property, value, field_path, out);
        }
      }
      if (pattern_properties != schema.end() && pattern_properties->is_object()) {
        for (const auto& [pattern, sub_schema] : pattern_properties->items()) {
          if (pattern_matches(pattern, key)) {
            matched = true;
            validate(sub_schema, value, field_path, out);
          }
        }
      }
      if (!matched && additional != schema.end()) {
        if (additional->is_boolean() && !additional->get<bool>()) {
          out.push_back({field_path, unknown_field_message(key, properties, schema.end()), {}});
        } else if (additional->is_object()) {
          validate(*additional, value, field_path, out);
        }
      }
    }
  }

  static std::string unknown_field_message(const std::string& key, json::const_iterator properties,
                                           json::const_iterator none)
  {
    std::string message = "unknown field \"" + key + "\"";
    if (properties == none || !properties->is_object()) return message;
    std::vector<std::string> names;
    for (const auto& [name, unused] : properties->items()) names.push_back(name);
    if (const auto suggestion = closest_match(key, names)) message += " (did you mean \"" + *suggestion + "\"?)";
    return message;
  }

  void check_combinators(const json& schema, const json& instance, const std::string& path,
                         std::vector<Finding>& out) const
  {
    if (auto all = schema.find("allOf"); all != schema.end()) {
      for (const auto& branch : *all) validate(branch, instance, path, out);
    }
    if (auto any = schema.find("anyOf"); any != schema.end()) {
      std::vector<std::vector<Finding>> failures;
      for (const auto& branch : *any) {
        std::vector<Finding> found;
        validate(branch, instance, path, found);
        if (found.empty()) return;
        failures.push_back(std::move(found));
      }
      report_best(failures, path, out);
    }
    if (auto one = schema.find("oneOf"); one != schema.end()) {
      std::vector<std::vector<Finding>> failures;
      std::size_t valid = 0;
      for (const auto& branch : *one) {
        std::vector<Finding> found;
        validate(branch, instance, path, found);
        if (found.empty()) {
          ++valid;
        } else {
          failures.push_back(std::move(found));
        }
      }
      if (valid == 1) return;
      if (valid > 1) {
        out.push_back({path, "is ambiguous: it matches more than one allowed form", {}});
        return;
      }
      report_best(failures, path, out);
    }
    if (auto negated = schema.find("not"); negated != schema.end()) {
      std::vector<Finding> found;
      validate(*negated, instance, path, found);
      if (found.empty()) out.push_back({path, "matches a form that is not allowed", {}});
    }
  }

  // Picks the failing branch that came closest: the fewest violations, then
  // the deepest. When branches fail on the same value with an enum mismatch
  // (e.g. the 18 forms of an update operation, one per target), their allowed
  // values are merged so the message lists every valid choice.
  static void report_best(const std::vector<std::vector<Finding>>& failures, const std::string& path,
                          std::vector<Finding>& out)
  {
    auto depth = [](const std::vector<Finding>& found) {
      std::size_t deepest = 0;
      for (const auto& f : found) deepest = std::max(deepest, f.path.size());
      return deepest;
    };
    std::size_t best_index = 0;
    for (std::size_t i = 1; i < failures.size(); ++i) {
      const auto& candidate = failures[i];
      const auto& best = failures[best_index];
      if (candidate.size() < best.size() || (candidate.size() == best.size() && depth(candidate) > depth(best))) {
        best_index = i;
      }
    }
    const auto& best = failures[best_index];
    if (depth(best) <= path.size()) {
      // Every branch failed on this very value: say which shapes were allowed.
      std::vector<std::string> messages;
      for (const auto& failure : failures) {
        for (const auto& f : failure) {
          if (f.path == path && std::find(messages.begin(), messages.end(), f.message) == messages.end()) {
            messages.push_back(f.message);
          }
        }
      }
      std::string text = "does not match any allowed form";
      if (!messages.empty() && messages.size() <= 3) {
        text += " (" + messages.front();
        for (std::size_t i = 1; i < messages.size(); ++i) text += "; " + messages[i];
        text += ")";
      }
      out.push_back({path, text, {}});
      return;
    }
    if (best.size() == 1 && !best.front().allowed.empty()) {
      Finding merged = best.front();
      for (const auto& failure : failures) {
        for (const auto& f : failure) {
          if (f.path != merged.path || f.allowed.empty()) continue;
          for (const auto& value : f.allowed) {
            if (std::find(merged.allowed.begin(), merged.allowed.end(), value) == merged.allowed.end()) {
              merged.allowed.push_back(value);
            }
          }
        }
      }
      const auto comma = merged.message.rfind(", not ");
      merged.message = "must be one of " + join_allowed(merged.allowed) +
                       (comma == std::string::npos ? std::string() : merged.message.substr(comma));
      out.push_back(std::move(merged));
      return;
    }
    out.insert(out.end(), best.begin(), best.end());
  }

  static std::string join_allowed(const std::vector<std::string>& values)
  {
    std::string text;
    for (std::size_t i = 0; i < values.size(); ++i) text += (i == 0 ? "" : ", ") + values[i];
    return text;
  }

  const SchemaResolver& m_resolver;
};

} // namespace

std::vector<SchemaViolation> validate_json(const json& schema, const json& instance, const SchemaResolver& resolver)
{
  std::vector<Finding> findings;
  Validator(resolver).validate(schema, instance, "", findings);
  std::vector<SchemaViolation> violations;
  violations.reserve(findings.size());
  for (auto& f : findings) violations.push_back({std::move(f.path), std::move(f.message)});
  return violations;
}

std::string describe(const SchemaViolation& violation)
{
  return violation.path.empty() ? violation.message : violation.path + ": " + violation.message;
}

} // namespace fleetrun::losant
