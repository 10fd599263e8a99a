#include "jobs/patch_simulator.hpp"

#include <algorithm>
#include <map>

namespace fleetrun::jobs {

using nlohmann::json;

namespace {

// Fields a bookkeeping clock changes: never part of a prediction.
bool bookkeeping(const std::string& field)
{
  return field == "lastUpdated" || field == "updatedAt" || field == "_links" || field == "_embedded";
}

std::string text(const json& object, const char* key)
{
  if (!object.is_object()) return {};
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json member(const json& object, const std::string& key)
{
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? json(nullptr) : *it;
}

json& list(json& device, const char* key)
{
  json& value = device[key];
  if (!value.is_array()) value = json::array();
  return value;
}

json* find_attribute(json& device, const std::string& name)
{
  json& attributes = list(device, "attributes");
  for (auto& attribute : attributes) {
    if (text(attribute, "name") == name) return &attribute;
  }
  return nullptr;
}

// A failure of one operation: the whole device is left as it was.
struct Failure {
  std::string why;
};

void set_tag(json& device, const std::string& key, const json& value)
{
  json& tags = list(device, "tags");
  for (auto& tag : tags) {
    if (text(tag, "key") == key) {
      tag = {{"key", key}, {"value", value}};
      return; // the first tag of that key only, as a positional update does
    }
  }
  tags.push_back({{"key", key}, {"value", value}});
}

void remove_tag(json& device, const std::string& key)
{
  json& tags = list(device, "tags");
  json kept = json::array();
  for (auto& tag : tags) {
    if (text(tag, "key") != key) kept.push_back(std::move(tag));
  }
  tags = std::move(kept);
}

void apply_operation(json& device, const json& op)
{
  const std::string operation = text(op, "operation");
  const std::string target = text(op, "target");
  const std::string attribute_name = text(op, "attributeName");
  const json value = op.is_object() && op.contains("value") ? op["value"] : json();
  if (operation == "set") {
    if (target == "tag") {
      set_tag(device, text(value, "key"), member(value, "value"));
    } else if (target.starts_with("attribute")) {
      json* attribute = find_attribute(device, attribute_name);
      if (attribute == nullptr) return; // nothing to change on a device without it
      if (target == "attributeTag") {
        json& tags = (*attribute)["attributeTags"];
        if (!tags.is_object()) tags = json::object();
        tags[text(value, "key")] = member(value, "value");
      } else if (target == "attributeDescription") {
        (*attribute)["description"] = value;
      } else if (target == "attributeContentType") {
        (*attribute)["contentType"] = value;
      } else if (target == "attributeName") {
        const std::string new_name = value.is_string() ? value.get<std::string>() : std::string();
        if (new_name != attribute_name && find_attribute(device, new_name) != nullptr) {
          throw Failure{"attribute " + new_name + " exists already"};
        }
        (*find_attribute(device, attribute_name))["name"] = new_name;
      }
    } else {
      device[target] = value; // name, description, deviceClass, gatewayId, parentId, systemInterval, keepDuplicates
    }
    return;
  }
  if (operation == "remove") {
    if (target == "tag") {
      remove_tag(device, text(op, "tagKey"));
    } else if (target == "attribute") {
      json& attributes = list(device, "attributes");
      json kept = json::array();
      for (auto& attribute : attributes) {
        if (text(attribute, "name") != attribute_name) kept.push_back(std::move(attribute));
      }
      attributes = std::move(kept);
    } else if (target == "attributeTag") {
      if (json* attribute = find_attribute(device, attribute_name)) {
        if (attribute->contains("attributeTags") && (*attribute)["attributeTags"].is_object()) {
          (*attribute)["attributeTags"].erase(text(op, "tagKey"));
        }
      }
    } else if (target == "attributeDescription") {
      if (json* attribute = find_attribute(device, attribute_name)) attribute->erase("description");
    } else {
      // description, parentId: the API shows a removed description as "" and a removed parent as null.
      if (device.contains(target)) device[target] = target == "description" ? json("") : json(nullptr);
    }
    return;
  }
  if (operation == "add") {
    const std::string name = text(value, "name");
    if (find_attribute(device, name) != nullptr) throw Failure{"attribute " + name + " exists already"};
    list(device, "attributes").push_back(value);
  }
}

// A tag key's value as people read it: the value, the values when the key
// is there more than once (sorted: order is not predicted), null when absent.
json tag_view(const json& device, const std::string& key)
{
  std::vector<std::string> values;
  if (device.is_object() && device.contains("tags") && device["tags"].is_array()) {
    for (const auto& tag : device["tags"]) {
      if (text(tag, "key") == key && tag.contains("value")) values.push_back(tag["value"].dump());
    }
  }
  if (values.empty()) return nullptr;
  std::sort(values.begin(), values.end());
  if (values.size() == 1) return json::parse(values[0]);
  json out = json::array();
  for (const auto& v : values) out.push_back(json::parse(v));
  return out;
}

std::map<std::string, json> attributes_by_name(const json& device)
{
  std::map<std::string, json> out;
  if (device.is_object() && device.contains("attributes") && device["attributes"].is_array()) {
    for (const auto& attribute : device["attributes"]) out[text(attribute, "name")] = attribute;
  }
  return out;
}

std::vector<std::string> tag_keys(const json& device)
{
  std::vector<std::string> keys;
  if (device.is_object() && device.contains("tags") && device["tags"].is_array()) {
    for (const auto& tag : device["tags"]) keys.push_back(text(tag, "key"));
  }
  return keys;
}

} // namespace

const char* to_string(PatchResult result)
{
  switch (result) {
  case PatchResult::updated: return "updated";
  case PatchResult::skipped: return "skipped";
  case PatchResult::failed: return "failed";
  }
  return "?";
}

SimulatedPatch simulate_patch(const json& device, const json& patch)
{
  SimulatedPatch out;
  json after = device;
  try {
    if (patch.contains("updateFields") && patch["updateFields"].is_object()) {
      for (const auto& [field, value] : patch["updateFields"].items()) after[field] = value;
    }
    if (patch.contains("updateOperations") && patch["updateOperations"].is_array()) {
      for (const auto& op : patch["updateOperations"]) apply_operation(after, op);
    }
  } catch (const Failure& failure) {
    out.after = device;
    out.result = PatchResult::failed;
    out.failure = failure.why;
    return out;
  }
  out.result = same_state(device, after) ? PatchResult::skipped : PatchResult::updated;
  out.after = std::move(after);
  return out;
}

bool same_state(const json& a, const json& b)
{
  return document_changes(a, b).empty();
}

std::vector<FieldChange> document_changes(const json& before, const json& after)
{
  std::vector<FieldChange> changes;
  const auto compare = [&](const std::string& field, const json& old_value, const json& new_value) {
    if (old_value != new_value) changes.push_back({field, old_value, new_value});
  };
  // Top-level fields, tags and attributes aside.
  std::vector<std::string> fields;
  for (const json* document : {&before, &after}) {
    if (!document->is_object()) continue;
    for (const auto& [key, value] : document->items()) {
      if (key != "tags" && key != "attributes" && !bookkeeping(key) &&
          std::find(fields.begin(), fields.end(), key) == fields.end())
        fields.push_back(key);
    }
  }
  std::sort(fields.begin(), fields.end());
  for (const auto& field : fields) compare(field, member(before, field), member(after, field));
  // Tags, by key.
  std::vector<std::string> keys = tag_keys(before);
  for (const auto& key : tag_keys(after)) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const auto& key : keys) compare("tags." + key, tag_view(before, key), tag_view(after, key));
  // Attributes, by name, and their parts.
  const auto old_attributes = attributes_by_name(before);
  const auto new_attributes = attributes_by_name(after);
  std::vector<std::string> names;
  for (const auto& [name, attribute] : old_attributes) names.push_back(name);
  for (const auto& [name, attribute] : new_attributes) {
    if (!old_attributes.contains(name)) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const json old_attribute = old_attributes.contains(name) ? old_attributes.at(name) : json(nullptr);
    const json new_attribute = new_attributes.contains(name) ? new_attributes.at(name) : json(nullptr);
    compare("attributes." + name, member(old_attribute, "dataType"), member(new_attribute, "dataType"));
    for (const char* part : {"description", "contentType"}) {
      compare("attributes." + name + "." + part, member(old_attribute, part), member(new_attribute, part));
    }
    std::vector<std::string> attribute_tag_keys;
    for (const json* attribute : {&old_attribute, &new_attribute}) {
      const json tags = member(*attribute, "attributeTags");
      if (tags.is_object()) {
        for (const auto& [key, value] : tags.items()) attribute_tag_keys.push_back(key);
      }
    }
    std::sort(attribute_tag_keys.begin(), attribute_tag_keys.end());
    attribute_tag_keys.erase(std::unique(attribute_tag_keys.begin(), attribute_tag_keys.end()),
                             attribute_tag_keys.end());
    for (const auto& key : attribute_tag_keys) {
      compare("attributes." + name + ".tags." + key, member(member(old_attribute, "attributeTags"), key),
              member(member(new_attribute, "attributeTags"), key));
    }
    // Anything else an attribute holds (system settings, ...), as a whole.
    json old_rest = old_attribute.is_object() ? old_attribute : json::object();
    json new_rest = new_attribute.is_object() ? new_attribute : json::object();
    for (const char* known : {"name", "dataType", "description", "contentType", "attributeTags"}) {
      old_rest.erase(known);
      new_rest.erase(known);
    }
    if (old_rest != new_rest && !(old_rest.empty() && new_rest.empty())) {
      compare("attributes." + name + ".other", old_rest.empty() ? json(nullptr) : old_rest,
              new_rest.empty() ? json(nullptr) : new_rest);
    }
  }
  return changes;
}

} // namespace fleetrun::jobs
