#include "tests/support/change_list.hpp"

#include <string>

namespace fleetrun::testing {

using nlohmann::json;

namespace {

json* find_named(json& items, const char* key, const std::string& name)
{
  for (auto& item : items) {
    if (item.value(key, "") == name) return &item;
  }
  return nullptr;
}

json without(const json& items, const char* key, const std::string& name)
{
  json kept = json::array();
  for (const auto& item : items)
    if (item.value(key, "") != name) kept.push_back(item);
  return kept;
}

void apply_to_tags(json& device, const std::string& key, const std::string& op, const json& after)
{
  json& tags = device["tags"];
  if (!tags.is_array()) tags = json::array();
  if (op == "remove") {
    tags = without(tags, "key", key);
  } else if (json* tag = find_named(tags, "key", key)) {
    (*tag)["value"] = after;
  } else {
    tags.push_back({{"key", key}, {"value", after}});
  }
}

// attributes.<name>[.part[.key]]: attribute names here hold no dots.
void apply_to_attributes(json& device, const std::string& rest, const std::string& op, const json& before,
                         const json& after)
{
  json& attributes = device["attributes"];
  if (!attributes.is_array()) attributes = json::array();
  if (op == "rename") {
    (*find_named(attributes, "name", before.get<std::string>()))["name"] = after;
    return;
  }
  const auto dot = rest.find('.');
  const std::string name = rest.substr(0, dot);
  if (dot == std::string::npos) {
    if (op == "remove") {
      attributes = without(attributes, "name", name);
    } else if (json* attribute = find_named(attributes, "name", name)) {
      (*attribute)["dataType"] = after;
    } else {
      attributes.push_back({{"name", name}, {"dataType", after}});
    }
    return;
  }
  json& attribute = *find_named(attributes, "name", name);
  const std::string part = rest.substr(dot + 1);
  if (part.starts_with("tags.")) {
    if (after.is_null())
      attribute["attributeTags"].erase(part.substr(5));
    else
      attribute["attributeTags"][part.substr(5)] = after;
    if (attribute["attributeTags"].empty()) attribute.erase("attributeTags");
  } else if (part == "other") {
    if (before.is_object())
      for (const auto& [key, value] : before.items()) attribute.erase(key);
    if (after.is_object())
      for (const auto& [key, value] : after.items()) attribute[key] = value;
  } else if (after.is_null()) {
    attribute.erase(part);
  } else {
    attribute[part] = after;
  }
}

} // namespace

json apply_change_list(json device, const json& changes)
{
  for (const auto& change : changes) {
    const std::string field = change.at("field");
    const std::string op = change.at("op");
    const json& before = change.at("before");
    const json& after = change.at("after");
    if (op == "replace") {
      device[field] = after;
    } else if (field.starts_with("tags.")) {
      apply_to_tags(device, field.substr(5), op, after);
    } else if (field.starts_with("attributes.")) {
      apply_to_attributes(device, field.substr(11), op, before, after);
    } else if (after.is_null()) {
      device.erase(field);
    } else {
      device[field] = after;
    }
  }
  return device;
}

} // namespace fleetrun::testing
