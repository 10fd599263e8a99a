#include "sandbox/device.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace fleetrun::sandbox {

using nlohmann::json;

const Tag* Device::find_tag(const std::string& key) const
{
  for (const auto& tag : tags) {
    if (tag.key == key) return &tag;
  }
  return nullptr;
}

Attribute* Device::find_attribute(const std::string& attribute_name)
{
  for (auto& attribute : attributes) {
    if (attribute.name == attribute_name) return &attribute;
  }
  return nullptr;
}

const char* connection_status_name(Connection connection)
{
  switch (connection) {
  case Connection::connected: return "connected";
  case Connection::disconnected: return "disconnected";
  case Connection::never: break;
  }
  return "neverConnected";
}

namespace {

json attribute_json(const Attribute& attribute)
{
  json out = {{"name", attribute.name}, {"dataType", attribute.data_type}};
  if (!attribute.content_type.empty()) out["contentType"] = attribute.content_type;
  if (!attribute.description.empty()) out["description"] = attribute.description;
  if (!attribute.attribute_tags.empty()) {
    json tags = json::object();
    for (const auto& tag : attribute.attribute_tags) tags[tag.key] = tag.value;
    out["attributeTags"] = std::move(tags);
  }
  if (!attribute.system_json.empty()) out["system"] = json::parse(attribute.system_json);
  return out;
}

Attribute attribute_from_json(const json& in)
{
  Attribute attribute;
  attribute.name = in.at("name").get<std::string>();
  attribute.data_type = in.at("dataType").get<std::string>();
  attribute.content_type = in.value("contentType", "");
  attribute.description = in.value("description", "");
  if (auto tags = in.find("attributeTags"); tags != in.end() && tags->is_object()) {
    for (const auto& [key, value] : tags->items()) attribute.attribute_tags.push_back({key, value.get<std::string>()});
  }
  if (auto system = in.find("system"); system != in.end() && system->is_object())
    attribute.system_json = system->dump();
  return attribute;
}

} // namespace

json to_api_json(const Device& device, const std::string& application_id, bool include_connection_info)
{
  json out = {
      {"id", device.id},
      {"deviceId", device.id},
      {"applicationId", application_id},
      {"creationDate", losant::format_iso8601_ms(device.creation_ms)},
      {"lastUpdated", losant::format_iso8601_ms(device.last_updated_ms)},
      {"name", device.name},
      {"description", device.description},
      {"deviceClass", device.device_class},
  };
  json tags = json::array();
  for (const auto& tag : device.tags) tags.push_back({{"key", tag.key}, {"value", tag.value}});
  out["tags"] = std::move(tags);
  json attributes = json::array();
  for (const auto& attribute : device.attributes) attributes.push_back(attribute_json(attribute));
  out["attributes"] = std::move(attributes);
  if (device.deleted_at_ms) out["deletedAt"] = losant::format_iso8601_ms(*device.deleted_at_ms);
  if (device.gateway_id) out["gatewayId"] = *device.gateway_id;
  out["parentId"] = device.parent_id ? json(*device.parent_id) : json(nullptr);
  out["ancestorIds"] = device.ancestor_ids;
  if (device.system_interval != 0) out["systemInterval"] = device.system_interval;
  if (device.keep_duplicates) out["keepDuplicates"] = *device.keep_duplicates;
  if (include_connection_info) {
    json info = json::object();
    if (device.connection == Connection::never) {
      info["connected"] = nullptr;
    } else {
      info["connected"] = device.connection == Connection::connected ? 1 : 0;
      info["time"] = losant::format_iso8601_ms(device.connection_time_ms);
    }
    out["connectionInfo"] = std::move(info);
  }
  return out;
}

json to_admin_json(const Device& device, const std::string& application_id)
{
  json out = to_api_json(device, application_id);
  out["dataPointCount"] = device.data.size();
  json points_by_attribute = json::object();
  for (const auto& point : device.data) {
    auto& count = points_by_attribute[point.attribute];
    count = count.is_null() ? 1 : count.get<int>() + 1;
  }
  out["dataPointsByAttribute"] = std::move(points_by_attribute);
  json commands = json::array();
  for (const auto& command : device.commands) {
    json entry = {{"name", command.name}, {"time", losant::format_iso8601_ms(command.time_ms)}};
    if (!command.payload_json.empty()) entry["payload"] = json::parse(command.payload_json);
    commands.push_back(std::move(entry));
  }
  out["commands"] = std::move(commands);
  return out;
}

void apply_device_fields(Device& device, const json& fields)
{
  for (const auto& [key, value] : fields.items()) {
    if (key == "name") {
      device.name = value.get<std::string>();
    } else if (key == "description") {
      device.description = value.get<std::string>();
    } else if (key == "deviceClass") {
      device.device_class = value.get<std::string>();
    } else if (key == "tags") {
      device.tags.clear();
      for (const auto& tag : value)
        device.tags.push_back({tag.at("key").get<std::string>(), tag.at("value").get<std::string>()});
    } else if (key == "attributes") {
      device.attributes.clear();
      for (const auto& attribute : value) device.attributes.push_back(attribute_from_json(attribute));
    } else if (key == "gatewayId") {
      device.gateway_id = losant::normalize_object_id(value.get<std::string>());
    } else if (key == "parentId") {
      device.parent_id =
          value.is_null() ? std::nullopt : std::optional(losant::normalize_object_id(value.get<std::string>()));
    } else if (key == "systemInterval") {
      device.system_interval = value.get<int>();
    } else if (key == "keepDuplicates") {
      device.keep_duplicates = value.get<bool>();
    }
  }
}

Device device_from_export(const json& document)
{
  if (!document.is_object()) throw std::runtime_error("a device must be a JSON object");
  Device device;
  const std::string id = document.value("id", document.value("deviceId", ""));
  if (!losant::is_object_id(id)) throw std::runtime_error("device has no valid 24-hex \"id\"");
  device.id = losant::normalize_object_id(id);
  json fields = json::object();
  for (const char* key : {"name", "description", "deviceClass", "tags", "attributes", "gatewayId", "parentId",
                          "systemInterval", "keepDuplicates"}) {
    if (document.contains(key)) fields[key] = document[key];
  }
  apply_device_fields(device, fields);
  if (device.name.empty()) throw std::runtime_error("device " + device.id + " has no name");
  const auto read_time = [&](const char* key) -> std::optional<std::int64_t> {
    const auto it = document.find(key);
    if (it == document.end() || it->is_null()) return std::nullopt;
    if (it->is_number()) return it->get<std::int64_t>();
    return losant::parse_iso8601_ms(it->get<std::string>());
  };
  device.creation_ms = read_time("creationDate").value_or(losant::now_epoch_ms());
  device.last_updated_ms = read_time("lastUpdated").value_or(device.creation_ms);
  device.deleted_at_ms = read_time("deletedAt");
  if (auto ancestors = document.find("ancestorIds"); ancestors != document.end() && ancestors->is_array()) {
    for (const auto& ancestor : *ancestors)
      device.ancestor_ids.push_back(losant::normalize_object_id(ancestor.get<std::string>()));
  }
  if (auto info = document.find("connectionInfo"); info != document.end() && info->is_object()) {
    const auto connected = info->find("connected");
    if (connected != info->end() && connected->is_number()) {
      device.connection = connected->get<int>() == 1 ? Connection::connected : Connection::disconnected;
      if (auto time = info->find("time"); time != info->end() && time->is_string()) {
        device.connection_time_ms = losant::parse_iso8601_ms(time->get<std::string>()).value_or(0);
      }
    }
  }
  return device;
}

} // namespace fleetrun::sandbox
