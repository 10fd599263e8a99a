#include "sandbox/actions.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace fleetrun::sandbox {

using nlohmann::json;

namespace {

void set_tag(std::vector<Tag>& tags, const std::string& key, const std::string& value)
{
  for (auto& tag : tags) {
    if (tag.key == key) {
      tag.value = value;
      return;
    }
  }
  tags.push_back({key, value});
}

void remove_tag(std::vector<Tag>& tags, const std::string& key)
{
  std::erase_if(tags, [&](const Tag& tag) { return tag.key == key; });
}

Attribute attribute_from(const json& value)
{
  Device scratch;
  apply_device_fields(scratch, json{{"attributes", json::array({value})}});
  return scratch.attributes.front();
}

// Applies one update operation; false when it cannot apply to this device.
bool apply_operation(Device& device, const json& op)
{
  const std::string operation = op.at("operation").get<std::string>();
  const std::string target = op.at("target").get<std::string>();
  const std::string attribute_name = op.value("attributeName", "");
  Attribute* attribute = attribute_name.empty() ? nullptr : device.find_attribute(attribute_name);

  if (operation == "set") {
    const json& value = op.at("value");
    if (target == "name")
      device.name = value.get<std::string>();
    else if (target == "deviceClass")
      device.device_class = value.get<std::string>();
    else if (target == "description")
      device.description = value.get<std::string>();
    else if (target == "gatewayId")
      device.gateway_id = losant::normalize_object_id(value.get<std::string>());
    else if (target == "parentId")
      device.parent_id = losant::normalize_object_id(value.get<std::string>());
    else if (target == "systemInterval")
      device.system_interval = value.get<int>();
    else if (target == "keepDuplicates")
      device.keep_duplicates = value.get<bool>();
    else if (target == "tag")
      set_tag(device.tags, value.at("key").get<std::string>(), value.at("value").get<std::string>());
    else if (attribute == nullptr)
      return false; // every other target names an attribute
    else if (target == "attributeTag")
      set_tag(attribute->attribute_tags, value.at("key").get<std::string>(), value.at("value").get<std::string>());
    else if (target == "attributeDescription")
      attribute->description = value.get<std::string>();
    else if (target == "attributeContentType")
      attribute->content_type = value.get<std::string>();
    else if (target == "attributeName") {
      const std::string new_name = value.get<std::string>();
      if (new_name != attribute_name && device.find_attribute(new_name) != nullptr) return false;
      device.find_attribute(attribute_name)->name = new_name;
    } else
      return false;
    return true;
  }
  if (operation == "remove") {
    if (target == "description")
      device.description.clear();
    else if (target == "parentId")
      device.parent_id.reset();
    else if (target == "tag")
      remove_tag(device.tags, op.at("tagKey").get<std::string>());
    else if (target == "attribute")
      std::erase_if(device.attributes, [&](const Attribute& a) { return a.name == attribute_name; });
    else if (attribute == nullptr)
      return true; // removing from a missing attribute leaves nothing to do
    else if (target == "attributeTag")
      remove_tag(attribute->attribute_tags, op.at("tagKey").get<std::string>());
    else if (target == "attributeDescription")
      attribute->description.clear();
    else
      return false;
    return true;
  }
  if (operation == "add") {
    Attribute added = attribute_from(op.at("value"));
    if (device.find_attribute(added.name) != nullptr) return false;
    device.attributes.push_back(std::move(added));
    return true;
  }
  return false;
}

bool same_content(const Device& a, const Device& b)
{
  return a.name == b.name && a.description == b.description && a.device_class == b.device_class && a.tags == b.tags &&
         a.attributes == b.attributes && a.gateway_id == b.gateway_id && a.parent_id == b.parent_id &&
         a.system_interval == b.system_interval && a.keep_duplicates == b.keep_duplicates;
}

std::int64_t relative_time(const json& body, const char* key, std::int64_t fallback, std::int64_t now_ms)
{
  const auto it = body.find(key);
  if (it == body.end() || !it->is_number()) return fallback;
  const auto value = it->get<std::int64_t>();
  if (value == 0) return now_ms;
  if (value < 0) return now_ms + value;
  return value;
}

} // namespace

PatchOutcome apply_patch(Device& device, const json& patch, std::int64_t now_ms)
{
  Device updated = device;
  updated.data.clear(); // not compared, and a million copies of history are not free
  updated.commands.clear();
  if (auto fields = patch.find("updateFields"); fields != patch.end() && fields->is_object()) {
    apply_device_fields(updated, *fields);
  }
  if (auto operations = patch.find("updateOperations"); operations != patch.end() && operations->is_array()) {
    for (const auto& op : *operations) {
      if (!apply_operation(updated, op)) return PatchOutcome::failed;
    }
  }
  if (same_content(updated, device)) return PatchOutcome::skipped;
  updated.data = std::move(device.data);
  updated.commands = std::move(device.commands);
  updated.last_updated_ms = now_ms;
  device = std::move(updated);
  return PatchOutcome::updated;
}

bool apply_delete(Device& device, std::int64_t now_ms)
{
  if (device.deleted_at_ms) return false;
  device.deleted_at_ms = now_ms;
  return true;
}

bool apply_restore(Device& device)
{
  if (!device.deleted_at_ms) return false;
  device.deleted_at_ms.reset();
  return true;
}

RemoveDataSpec remove_data_spec(const json& body, std::int64_t now_ms)
{
  RemoveDataSpec spec;
  spec.start_ms = relative_time(body, "start", 1, now_ms);
  spec.end_ms = relative_time(body, "end", now_ms, now_ms);
  if (auto attributes = body.find("attributes"); attributes != body.end() && attributes->is_array()) {
    spec.attributes = std::set<std::string>();
    for (const auto& name : *attributes) spec.attributes->insert(name.get<std::string>());
  }
  spec.keep_command_history = body.value("keepCommandHistory", true);
  return spec;
}

bool apply_remove_data(Device& device, const RemoveDataSpec& spec)
{
  const auto before = device.data.size() + device.commands.size();
  std::erase_if(device.data, [&](const DataPoint& point) {
    return point.time_ms >= spec.start_ms && point.time_ms <= spec.end_ms &&
           (!spec.attributes || spec.attributes->contains(point.attribute));
  });
  if (!spec.keep_command_history) {
    std::erase_if(device.commands,
                  [&](const Command& c) { return c.time_ms >= spec.start_ms && c.time_ms <= spec.end_ms; });
  }
  return device.data.size() + device.commands.size() != before;
}

std::optional<std::int64_t> command_time_ms(const json& time)
{
  if (time.is_number()) return time.get<std::int64_t>();
  if (time.is_string()) return losant::parse_iso8601_ms(time.get<std::string>());
  if (time.is_object() && time.contains("$date") && time["$date"].is_string()) {
    return losant::parse_iso8601_ms(time["$date"].get<std::string>());
  }
  return std::nullopt;
}

} // namespace fleetrun::sandbox
