#include "text/text_format.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <vector>

namespace fleetrun::text {

using nlohmann::json;

std::string with_commas(std::int64_t n)
{
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  if (n < 0) out.push_back('-');
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string camel_to_words(const std::string& name)
{
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool upper = std::isupper(c) != 0;
    const bool digit_after_letter =
        std::isdigit(c) != 0 && i > 0 && std::isalpha(static_cast<unsigned char>(name[i - 1]));
    if (i > 0 && (upper || digit_after_letter)) out.push_back(' ');
    out.push_back(upper ? static_cast<char>(std::tolower(c)) : name[i]);
  }
  return out;
}

namespace {

std::string join(const std::vector<std::string>& parts)
{
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ", ") + part;
  return out;
}

std::string count_of(std::int64_t n, const std::string& name)
{
  return with_commas(n) + " " + camel_to_words(name);
}

} // namespace

std::string counts_in_words(const json& counts)
{
  std::vector<std::string> parts;
  std::int64_t failed = 0;
  bool has_failed = false;
  for (const auto& [name, value] : counts.items()) {
    if (!value.is_number_integer()) continue;
    const auto n = value.get<std::int64_t>();
    if (name == "failed") {
      failed = n;
      has_failed = true;
    } else if (n != 0) {
      parts.push_back(count_of(n, name));
    }
  }
  if (failed != 0 || (has_failed && parts.empty())) parts.push_back(count_of(failed, "failed"));
  return parts.empty() ? "no devices" : join(parts);
}

std::string counter_words(const std::string& name)
{
  static const std::vector<std::pair<std::string, std::string>> k_words = {{"throttled429", "throttled (429)"},
                                                                           {"serverErrors5xx", "server errors (5xx)"},
                                                                           {"reconciledDevices", "devices reconciled"},
                                                                           {"jobsFollowed", "jobs followed"}};
  for (const auto& [key, words] : k_words) {
    if (key == name) return words;
  }
  return camel_to_words(name);
}

std::string counters_in_words(const json& counters)
{
  std::vector<std::string> parts;
  // Requests first, then the rest in the order JSON keeps them (by name).
  std::vector<std::string> names;
  if (counters.contains("requests")) names.emplace_back("requests");
  for (const auto& [name, value] : counters.items()) {
    if (name != "requests") names.push_back(name);
  }
  for (const auto& name : names) {
    const json& value = counters[name];
    if (!value.is_number_integer() || value.get<std::int64_t>() == 0) continue;
    std::string part = with_commas(value.get<std::int64_t>()) + " " + counter_words(name);
    if (name == "requests" && counters.contains("requestsBy") && counters["requestsBy"].is_object()) {
      std::vector<std::string> by;
      for (const auto& [purpose, n] : counters["requestsBy"].items()) {
        if (n.is_number_integer() && n.get<std::int64_t>() != 0)
          by.push_back(with_commas(n.get<std::int64_t>()) + " for " + camel_to_words(purpose));
      }
      if (!by.empty()) part += " (" + join(by) + ")";
    }
    parts.push_back(std::move(part));
  }
  return parts.empty() ? "no requests" : join(parts);
}

} // namespace fleetrun::text
