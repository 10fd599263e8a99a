#include "sandbox/device_store.hpp"

#include "losant/object_id.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <stdexcept>

namespace fleetrun::sandbox {

namespace {

std::string to_hex(const std::array<std::uint8_t, 12>& bytes)
{
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(24, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = k_digits[bytes[i] >> 4U];
    out[2 * i + 1] = k_digits[bytes[i] & 0xFU];
  }
  return out;
}

std::array<std::uint8_t, 12> from_hex(std::string_view hex)
{
  std::array<std::uint8_t, 12> bytes{};
  const auto nibble = [](char c) -> std::uint8_t {
    if (c >= '0' && c <= '9') return static_cast<std::uint8_t>(c - '0');
    return static_cast<std::uint8_t>(std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
  };
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<std::uint8_t>((nibble(hex[2 * i]) << 4U) | nibble(hex[2 * i + 1]));
  }
  return bytes;
}

} // namespace

Device& DeviceStore::add(Device device)
{
  if (device.id.empty()) device.id = next_id();
  device.id = losant::normalize_object_id(device.id);
  if (m_index.contains(device.id)) throw std::runtime_error("duplicate device id " + device.id);
  const auto bytes = from_hex(device.id);
  touch();
  if (m_devices.empty() || device.id > m_devices.back().id) {
    m_max_id = std::max(m_max_id, bytes);
    m_index.emplace(device.id, static_cast<std::uint32_t>(m_devices.size()));
    m_devices.push_back(std::move(device));
    return m_devices.back();
  }
  // Out-of-order ids only arrive from loaded exports; keep the vector sorted.
  const std::string id = device.id;
  const auto position = std::lower_bound(m_devices.begin(), m_devices.end(), id,
                                         [](const Device& d, const std::string& v) { return d.id < v; });
  m_devices.insert(position, std::move(device));
  reindex();
  return *find(id);
}

Device* DeviceStore::find(std::string_view id)
{
  const auto it = m_index.find(losant::normalize_object_id(id));
  return it == m_index.end() ? nullptr : &m_devices[it->second];
}

const Device* DeviceStore::find(std::string_view id) const
{
  const auto it = m_index.find(losant::normalize_object_id(id));
  return it == m_index.end() ? nullptr : &m_devices[it->second];
}

std::string DeviceStore::next_id()
{
  for (std::size_t i = m_max_id.size(); i-- > 0;) {
    if (++m_max_id[i] != 0) break;
  }
  return to_hex(m_max_id);
}

std::vector<std::uint32_t> DeviceStore::select(const DeviceQuery& query, DeletedScope scope) const
{
  std::vector<std::uint32_t> matched;
  for (std::uint32_t i = 0; i < m_devices.size(); ++i) {
    const Device& device = m_devices[i];
    const bool deleted = device.deleted_at_ms.has_value();
    if ((scope == DeletedScope::live && deleted) || (scope == DeletedScope::deleted && !deleted)) continue;
    if (query.matches(device)) matched.push_back(i);
  }
  return matched;
}

void DeviceStore::reindex()
{
  m_index.clear();
  m_index.reserve(m_devices.size());
  for (std::uint32_t i = 0; i < m_devices.size(); ++i) {
    m_index.emplace(m_devices[i].id, i);
    m_max_id = std::max(m_max_id, from_hex(m_devices[i].id));
  }
}

void DeviceStore::load_export(const nlohmann::json& document)
{
  const nlohmann::json* items = &document;
  if (document.is_object() && document.contains("items")) items = &document["items"];
  if (!items->is_array())
    throw std::runtime_error("a devices export is a JSON array of devices (or an object with \"items\")");
  std::vector<Device> loaded;
  loaded.reserve(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    try {
      loaded.push_back(device_from_export((*items)[i]));
    } catch (const std::exception& error) {
      throw std::runtime_error("device #" + std::to_string(i) + ": " + error.what());
    }
  }
  for (auto& device : loaded) m_devices.push_back(std::move(device));
  std::sort(m_devices.begin(), m_devices.end(), [](const Device& a, const Device& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < m_devices.size(); ++i) {
    if (m_devices[i].id == m_devices[i - 1].id) throw std::runtime_error("duplicate device id " + m_devices[i].id);
  }
  reindex();
  touch();
}

void DeviceStore::seed(const SeedOptions& options)
{
  // Everything below is drawn from one generator seeded by options.seed, so a
  // given (devices, seed, reference) always produces the same fleet.
  std::mt19937_64 rng(options.seed);
  const auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  static const std::array<const char*, 5> k_sites = {"north", "south", "east", "west", "central"};
  static const std::array<const char*, 3> k_regions = {"eu-west", "us-east", "ap-south"};
  static const std::array<const char*, 5> k_firmware = {"1.2.0", "1.3.1", "2.0.0", "2.1.0", "2.2.0-beta"};
  static const std::array<const char*, 4> k_owners = {"ops", "facilities", "research", "field-team"};
  constexpr std::int64_t k_day_ms = 86'400'000;
  constexpr std::int64_t k_span_ms = 2 * 365 * k_day_ms; // devices were created over two years

  const std::int64_t reference = options.reference_ms;
  const std::int64_t first_created = reference - k_span_ms;
  const std::uint64_t machine = rng();
  std::vector<std::string> gateways;
  m_devices.reserve(m_devices.size() + options.devices);
  m_index.reserve(m_devices.size() + options.devices);

  for (std::size_t i = 0; i < options.devices; ++i) {
    Device device;
    device.creation_ms =
        first_created + static_cast<std::int64_t>(static_cast<double>(k_span_ms) * static_cast<double>(i) /
                                                  static_cast<double>(std::max<std::size_t>(options.devices, 1)));
    // ObjectId layout: 4 bytes of creation seconds, 5 of "machine", 3 of counter.
    std::array<std::uint8_t, 12> bytes{};
    const auto seconds = static_cast<std::uint32_t>(device.creation_ms / 1000);
    for (int b = 0; b < 4; ++b)
      bytes[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(seconds >> (8 * (3 - b)));
    for (int b = 0; b < 5; ++b) bytes[static_cast<std::size_t>(4 + b)] = static_cast<std::uint8_t>(machine >> (8 * b));
    for (int b = 0; b < 3; ++b) bytes[static_cast<std::size_t>(9 + b)] = static_cast<std::uint8_t>(i >> (8 * (2 - b)));
    device.id = to_hex(bytes);

    const char* site = k_sites[pick(k_sites.size())];
    const double kind = std::uniform_real_distribution<double>(0, 1)(rng);
    const char* noun = "sensor";
    if (kind < 0.08) {
      device.device_class = "gateway";
      noun = "gw";
    } else if (kind < 0.35 && !gateways.empty()) {
      device.device_class = "peripheral";
      noun = "node";
      device.gateway_id = gateways[pick(gateways.size())];
    } else if (kind < 0.40) {
      device.device_class = "embedded";
      noun = "meter";
    } else if (kind < 0.42) {
      device.device_class = "floating";
      noun = "virtual";
    }
    char name[64];
    std::snprintf(name, sizeof name, "%s-%s-%06zu", site, noun, i);
    device.name = name;
    device.description = chance(0.3) ? std::string("Installed at site ") + site : std::string();
    device.tags = {
        {"site", site}, {"region", k_regions[pick(k_regions.size())]}, {"fw", k_firmware[pick(k_firmware.size())]}};
    if (chance(0.5)) device.tags.push_back({"owner", k_owners[pick(k_owners.size())]});
    if (chance(0.05)) device.tags.push_back({"decommissioned", "true"});
    if (device.device_class == "gateway") {
      device.attributes = {{"uptime", "number", "", "", {}, ""}, {"clients", "number", "", "", {}, ""}};
    } else {
      device.attributes = {{"temperature", "number", "", "", {}, ""},
                           {"humidity", "number", "", "", {}, ""},
                           {"battery", "number", "", "", {}, ""},
                           {"status", "string", "", "", {}, ""}};
      if (chance(0.2)) device.attributes.push_back({"location", "gps", "", "", {}, ""});
    }
    const double connection = std::uniform_real_distribution<double>(0, 1)(rng);
    if (connection < 0.70) {
      device.connection = Connection::connected;
      device.connection_time_ms = reference - static_cast<std::int64_t>(pick(7 * 86'400)) * 1000;
    } else if (connection < 0.95) {
      device.connection = Connection::disconnected;
      device.connection_time_ms = reference - static_cast<std::int64_t>(pick(365 * 86'400)) * 1000;
    }
    device.connection_time_ms = std::max(device.connection_time_ms, device.creation_ms);
    device.last_updated_ms =
        std::max(device.creation_ms, reference - static_cast<std::int64_t>(pick(180 * 86'400)) * 1000);
    const std::size_t points = pick(9);
    for (std::size_t p = 0; p < points; ++p) {
      device.data.push_back({reference - static_cast<std::int64_t>(pick(7 * 86'400)) * 1000,
                             device.attributes[pick(device.attributes.size())].name});
    }
    if (device.device_class == "gateway") gateways.push_back(device.id);
    m_max_id = std::max(m_max_id, bytes);
    m_index.emplace(device.id, static_cast<std::uint32_t>(m_devices.size()));
    m_devices.push_back(std::move(device));
  }
  if (!std::is_sorted(m_devices.begin(), m_devices.end(),
                      [](const Device& a, const Device& b) { return a.id < b.id; })) {
    std::sort(m_devices.begin(), m_devices.end(), [](const Device& a, const Device& b) { return a.id < b.id; });
    reindex();
  }
  touch();
}

} // namespace fleetrun::sandbox
