#include "api/request_encoding.hpp"

#include <nlohmann/json.hpp>

namespace fleetrun::api {

std::string url_encode(std::string_view text)
{
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' || byte == '_' || byte == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(k_hex[byte >> 4U]);
      out.push_back(k_hex[byte & 0xFU]);
    }
  }
  return out;
}

void flatten_param(const std::string& name, const nlohmann::json& value, QueryParams& out)
{
  if (value.is_null()) return;
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) flatten_param(name + "[" + key + "]", item, out);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) flatten_param(name + "[" + std::to_string(i) + "]", value[i], out);
  } else if (value.is_string()) {
    out.emplace_back(name, value.get<std::string>());
  } else {
    out.emplace_back(name, value.dump());
  }
}

std::string encode_query(const QueryParams& params)
{
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += url_encode(name);
    out.push_back('=');
    out += url_encode(value);
  }
  return out;
}

} // namespace fleetrun::api
