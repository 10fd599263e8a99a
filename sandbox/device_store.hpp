#pragma once
// The sandbox's devices, ordered by id. Not thread safe by itself: the
// Sandbox service guards it with one reader/writer lock.

#include "sandbox/device.hpp"
#include "sandbox/query_matcher.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fleetrun::sandbox {

// Which devices a selection considers: soft-deleted ones are invisible to
// everything but `queryDeleted=true` (which lists only them) and restore.
enum class DeletedScope { live, deleted, all };

struct SeedOptions {
  std::size_t devices = 0;
  std::uint64_t seed = 1;
  std::int64_t reference_ms = 0; // "now" for the generated history; fixed for reproducibility
};

class DeviceStore {
public:
  std::size_t size() const { return m_devices.size(); }
  const std::vector<Device>& devices() const { return m_devices; }

  // Adds a device; assigns a fresh id when `device.id` is empty. Returns it.
  Device& add(Device device);
  Device* find(std::string_view id);
  const Device* find(std::string_view id) const;
  Device& at(std::uint32_t index) { return m_devices[index]; }

  // A fresh id, greater than every id in the store (ids sort by creation).
  std::string next_id();

  // Indices of the devices that match, in id order.
  std::vector<std::uint32_t> select(const DeviceQuery& query, DeletedScope scope) const;

  // Bumped by every change that can alter which devices a query matches or
  // how they sort; cached query results are keyed by it.
  std::uint64_t generation() const { return m_generation; }
  void touch() { ++m_generation; }

  // Generates realistic devices (classes, site/region/fw tags, attributes,
  // connection states, data points), reproducibly from the seed.
  void seed(const SeedOptions& options);
  // Loads a devices export: a JSON array of devices or a `GET /devices` page.
  // Throws std::runtime_error naming the bad entry.
  void load_export(const nlohmann::json& document);

private:
  void reindex();
  std::vector<Device> m_devices;
  std::unordered_map<std::string, std::uint32_t> m_index;
  std::array<std::uint8_t, 12> m_max_id{};
  std::uint64_t m_generation = 0;
};

} // namespace fleetrun::sandbox
