#pragma once
// The sandbox's in-memory device record. Compact on purpose: the sandbox
// holds a million of them. Conversion to and from the API's JSON form lives in
// device_json.cpp.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleetrun::sandbox {

struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};

struct Attribute {
  std::string name;
  std::string data_type;    // string, number, gps, boolean, blob
  std::string content_type; // empty when unset
  std::string description;  // empty when unset
  std::vector<Tag> attribute_tags;
  std::string system_json; // the `system` object as JSON text, empty when unset
  bool operator==(const Attribute&) const = default;
};

// One stored state report: when, and for which attribute (by name).
struct DataPoint {
  std::int64_t time_ms = 0;
  std::string attribute;
};

// One command the device received, as the command-history endpoint serves it.
struct Command {
  std::int64_t time_ms = 0;
  std::string name;
  std::string payload_json; // JSON text; empty when no payload was sent
};

enum class Connection : std::int8_t { never = -1, disconnected = 0, connected = 1 };

struct Device {
  std::string id; // 24 lowercase hex characters
  std::string name;
  std::string description;
  std::string device_class = "standalone";
  std::int64_t creation_ms = 0;
  std::int64_t last_updated_ms = 0;
  std::optional<std::int64_t> deleted_at_ms;
  std::vector<Tag> tags;
  std::vector<Attribute> attributes;
  std::optional<std::string> gateway_id;
  std::optional<std::string> parent_id;
  std::vector<std::string> ancestor_ids;
  int system_interval = 0; // 0: unset
  std::optional<bool> keep_duplicates;
  Connection connection = Connection::never;
  std::int64_t connection_time_ms = 0;
  std::vector<DataPoint> data;
  std::vector<Command> commands;

  const Tag* find_tag(const std::string& key) const;
  Attribute* find_attribute(const std::string& attribute_name);
};

// The `connectionStatus` the query language compares against.
const char* connection_status_name(Connection connection);

// The device as `GET /devices/{id}` returns it.
nlohmann::json to_api_json(const Device& device, const std::string& application_id,
                           bool include_connection_info = true);

// The same document appended to `out` as JSON text, written directly rather
// than through a JSON tree: list pages render a thousand of these per request.
// Parses to exactly what to_api_json gives (a unit test holds it to that).
void append_api_json(std::string& out, const Device& device, const std::string& application_id,
                     bool include_connection_info = true);

// The sandbox's admin dump: the API form plus data-point count and command history.
nlohmann::json to_admin_json(const Device& device, const std::string& application_id);

// Applies the fields of a devicePost / updateFields object (already schema-valid).
void apply_device_fields(Device& device, const nlohmann::json& fields);

// Reads a device from an export (the API form); throws std::runtime_error on bad input.
Device device_from_export(const nlohmann::json& document);

} // namespace fleetrun::sandbox
