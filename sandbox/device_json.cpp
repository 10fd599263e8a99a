#include "sandbox/device.hpp"

#include "losant/object_id.hpp"
#include "losant/string_scan.hpp"
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

namespace {

void append_string(std::string& out, std::string_view text)
{
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0; // start of the run of characters that need no escape
  for (std::size_t i = 0; i < text.size(); ++i) {
    i += losant::plain_string_run(text.data() + i, text.size() - i);
    if (i >= text.size()) break;
    const char c = text[i];
    out.append(text.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      out += "\\u00";
      out += k_hex[(c >> 4) & 0xF];
      out += k_hex[c & 0xF];
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out += '"';
}

// `"key":` with a comma before it unless it is the object's first member.
void append_key(std::string& out, std::string_view key, bool& first)
{
  if (!first) out += ',';
  first = false;
  append_string(out, key);
  out += ':';
}

} // namespace

void append_api_json(std::string& out, const Device& device, const std::string& application_id,
                     bool include_connection_info)
{
  bool first = true;
  out += '{';
  append_key(out, "id", first);
  append_string(out, device.id);
  append_key(out, "deviceId", first);
  append_string(out, device.id);
  append_key(out, "applicationId", first);
  append_string(out, application_id);
  append_key(out, "creationDate", first);
  append_string(out, losant::format_iso8601_ms(device.creation_ms));
  append_key(out, "lastUpdated", first);
  append_string(out, losant::format_iso8601_ms(device.last_updated_ms));
  append_key(out, "name", first);
  append_string(out, device.name);
  append_key(out, "description", first);
  append_string(out, device.description);
  append_key(out, "deviceClass", first);
  append_string(out, device.device_class);
  append_key(out, "tags", first);
  out += '[';
  for (std::size_t i = 0; i < device.tags.size(); ++i) {
    bool tag_first = true;
    out += i > 0 ? ",{" : "{";
    append_key(out, "key", tag_first);
    append_string(out, device.tags[i].key);
    append_key(out, "value", tag_first);
    append_string(out, device.tags[i].value);
    out += '}';
  }
  out += ']';
  append_key(out, "attributes", first);
  out += '[';
  for (std::size_t i = 0; i < device.attributes.size(); ++i) {
    const Attribute& attribute = device.attributes[i];
    bool attribute_first = true;
    out += i > 0 ? ",{" : "{";
    append_key(out, "name", attribute_first);
    append_string(out, attribute.name);
    append_key(out, "dataType", attribute_first);
    append_string(out, attribute.data_type);
    if (!attribute.content_type.empty()) {
      append_key(out, "contentType", attribute_first);
      append_string(out, attribute.content_type);
    }
    if (!attribute.description.empty()) {
      append_key(out, "description", attribute_first);
      append_string(out, attribute.description);
    }
    if (!attribute.attribute_tags.empty()) {
      append_key(out, "attributeTags", attribute_first);
      bool tags_first = true;
      out += '{';
      for (const auto& tag : attribute.attribute_tags) {
        append_key(out, tag.key, tags_first);
        append_string(out, tag.value);
      }
      out += '}';
    }
    if (!attribute.system_json.empty()) {
      append_key(out, "system", attribute_first);
      out += attribute.system_json; // JSON text already (written by json::dump)
    }
    out += '}';
  }
  out += ']';
  if (device.deleted_at_ms) {
    append_key(out, "deletedAt", first);
    append_string(out, losant::format_iso8601_ms(*device.deleted_at_ms));
  }
  if (device.gateway_id) {
    append_key(out, "gatewayId", first);
    append_string(out, *device.gateway_id);
  }
  append_key(out, "parentId", first);
  if (device.parent_id) {
    append_string(out, *device.parent_id);
  } else {
    out += "null";
  }
  append_key(out, "ancestorIds", first);
  out += '[';
  for (std::size_t i = 0; i < device.ancestor_ids.size(); ++i) {
    if (i > 0) out += ',';
    append_string(out, device.ancestor_ids[i]);
  }
  out += ']';
  if (device.system_interval != 0) {
    append_key(out, "systemInterval", first);
    out += std::to_string(device.system_interval);
  }
  if (device.keep_duplicates) {
    append_key(out, "keepDuplicates", first);
    out += *device.keep_duplicates ? "true" : "false";
  }
  if (include_connection_info) {
    append_key(out, "connectionInfo", first);
    if (device.connection == Connection::never) {
      out += R"({"connected":null})";
    } else {
      out += device.connection == Connection::connected ? R"({"connected":1,"time":)" : R"({"connected":0,"time":)";
      append_string(out, losant::format_iso8601_ms(device.connection_time_ms));
      out += '}';
    }
  }
  out += '}';
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
