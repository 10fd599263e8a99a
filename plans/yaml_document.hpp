#pragma once
// Reads YAML into JSON (nlohmann) and remembers where each value and key
// stood in the file, by the path the schema validator reports
// (`steps[1].updateOperations[0].target`). yaml-cpp stays in the .cpp.

#include "plans/diagnostic.hpp"

#include <nlohmann/json.hpp>

#include <expected>
#include <map>
#include <string>
#include <vector>

namespace fleetrun::plans {

struct YamlDocument {
  nlohmann::json value;
  std::map<std::string, Location> value_locations;
  std::map<std::string, Location> key_locations; // for mapping entries: where the key is
  std::vector<std::string> lines;

  // The best position for a path: the key for "unknown field" style messages
  // (prefer_key), else the value; for paths not in the file (missing fields),
  // the nearest enclosing value.
  Location locate(const std::string& path, bool prefer_key = false) const;
};

// What a plan's YAML may hold at most: nodes counted with every alias
// expanded (a kilobyte of nested aliases can stand for billions of nodes),
// and how deeply they nest (an alias that refers to itself nests for ever).
inline constexpr std::size_t k_max_yaml_nodes = 200'000;
inline constexpr int k_max_yaml_depth = 64;

// Plain scalars resolve as YAML 1.2's core schema (null, booleans, integers,
// floats, else strings); quoted scalars are always strings. Duplicate keys
// are errors. Over a limit above, conversion stops with a problem at the
// node where it was hit. Returns every problem found.
std::expected<YamlDocument, std::vector<Diagnostic>> load_yaml(const std::string& text, const std::string& file);

} // namespace fleetrun::plans
