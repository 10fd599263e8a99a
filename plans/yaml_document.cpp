#include "plans/yaml_document.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <regex>
#include <set>
#include <sstream>

namespace fleetrun::plans {

using nlohmann::json;

namespace {

Location location_of(const YAML::Mark& mark)
{
  if (mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string child_path(const std::string& base, const std::string& key)
{
  return base.empty() ? key : base + "." + key;
}

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
json resolve_plain(const std::string& text)
{
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return nullptr;
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  static const std::regex k_int(R"([-+]?[0-9]+)");
  static const std::regex k_float(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(text, k_int)) {
    std::int64_t value = 0;
    const char* begin = text.data() + (text[0] == '+' ? 1 : 0);
    const auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), value);
    if (ec == std::errc() && ptr == text.data() + text.size()) return value;
  }
  if (std::regex_match(text, k_float)) {
    try {
      return std::stod(text);
    } catch (const std::exception&) {
    }
  }
  return text;
}

class Converter {
public:
  Converter(YamlDocument& document, std::vector<Diagnostic>& problems, const std::string& file)
      : m_document(document), m_problems(problems), m_file(file)
  {
  }

  json convert(const YAML::Node& node, const std::string& path, int depth = 0)
  {
    if (m_stopped) return nullptr;
    if (++m_nodes > k_max_yaml_nodes) {
      stop(node, "the plan has more than " + std::to_string(k_max_yaml_nodes) +
                     " YAML nodes (aliases counted as expanded); is an alias repeated inside itself?");
      return nullptr;
    }
    if (depth > k_max_yaml_depth) {
      stop(node, "the plan nests more than " + std::to_string(k_max_yaml_depth) +
                     " levels deep here; does an alias refer to itself?");
      return nullptr;
    }
    m_document.value_locations[path] = location_of(node.Mark());
    switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return nullptr;
    case YAML::NodeType::Scalar: return node.Tag() == "!" ? json(node.Scalar()) : resolve_plain(node.Scalar());
    case YAML::NodeType::Sequence: {
      json out = json::array();
      std::size_t index = 0;
      for (const auto& item : node) {
        out.push_back(convert(item, path + "[" + std::to_string(index++) + "]", depth + 1));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar()) {
          m_problems.push_back({m_file, location_of(entry.first.Mark()), "mapping keys must be plain text"});
          continue;
        }
        const std::string key = entry.first.Scalar();
        const std::string key_path = child_path(path, key);
        if (out.contains(key)) {
          m_problems.push_back({m_file, location_of(entry.first.Mark()),
                                (key_path.empty() ? key : key_path) + ": duplicate key \"" + key + "\""});
          continue;
        }
        m_document.key_locations[key_path] = location_of(entry.first.Mark());
        out[key] = convert(entry.second, key_path, depth + 1);
      }
      return out;
    }
    }
    return nullptr;
  }

private:
  void stop(const YAML::Node& node, std::string message)
  {
    m_stopped = true;
    Location where = location_of(node.Mark());
    if (where.line == 0) where = {1, 1};
    m_problems.push_back({m_file, where, std::move(message)});
  }

  YamlDocument& m_document;
  std::vector<Diagnostic>& m_problems;
  const std::string& m_file;
  std::size_t m_nodes = 0;
  bool m_stopped = false;
};

} // namespace

Location YamlDocument::locate(const std::string& path, bool prefer_key) const
{
  std::string current = path;
  bool exact = true;
  while (true) {
    if (exact && prefer_key) {
      if (auto it = key_locations.find(current); it != key_locations.end() && it->second.line > 0) return it->second;
    }
    if (auto it = value_locations.find(current); it != value_locations.end() && it->second.line > 0) return it->second;
    if (current.empty()) return {1, 1}; // a problem of the whole file
    // Drop the last component: `a.b[2]` -> `a.b`, `a.b` -> `a`.
    const auto dot = current.find_last_of('.');
    const auto bracket = current.find_last_of('[');
    const auto cut =
        (dot == std::string::npos) ? bracket : (bracket == std::string::npos ? dot : std::max(dot, bracket));
    current = cut == std::string::npos ? std::string() : current.substr(0, cut);
    exact = false;
  }
}

std::expected<YamlDocument, std::vector<Diagnostic>> load_yaml(const std::string& text, const std::string& file)
{
  YamlDocument document;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    document.lines.push_back(line);
  }
  std::vector<Diagnostic> problems;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    Location where = location_of(error.mark);
    if (where.line == 0) where = {1, 1};
    problems.push_back({file, where, "invalid YAML: " + error.msg});
    return std::unexpected(problems);
  }
  Converter converter(document, problems, file);
  document.value = converter.convert(root, "");
  if (!problems.empty()) return std::unexpected(problems);
  return document;
}

} // namespace fleetrun::plans
