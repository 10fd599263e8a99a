#include "api/secrets.hpp"

#include <cstdlib>
#include <fstream>

namespace fleetrun::api {

namespace {

std::string trim(std::string text)
{
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

} // namespace

std::expected<Secret, std::string> load_token(std::string_view env_name, std::string_view token_file)
{
  if (!token_file.empty()) {
    std::ifstream in{std::string(token_file)};
    if (!in) return std::unexpected("cannot read the token file " + std::string(token_file));
    std::string line;
    std::getline(in, line);
    line = trim(line);
    if (line.empty()) return std::unexpected("the token file " + std::string(token_file) + " is empty");
    return Secret(line);
  }
  const char* value = std::getenv(std::string(env_name).c_str());
  if (value == nullptr || trim(value).empty()) {
    return std::unexpected("no API token: set " + std::string(env_name) + " or pass --token-file FILE");
  }
  return Secret(trim(value));
}

std::string redact(std::string text, const Secret& secret)
{
  if (!secret.empty()) {
    for (auto pos = text.find(secret.reveal()); pos != std::string::npos; pos = text.find(secret.reveal(), pos)) {
      text.replace(pos, secret.reveal().size(), "[REDACTED]");
    }
  }
  static const std::string k_bearer = "Bearer ";
  for (auto pos = text.find(k_bearer); pos != std::string::npos; pos = text.find(k_bearer, pos + k_bearer.size())) {
    const auto start = pos + k_bearer.size();
    auto end = text.find_first_of(" \t\r\n\"'", start);
    if (end == std::string::npos) end = text.size();
    if (text.compare(start, end - start, "[REDACTED]") != 0) text.replace(start, end - start, "[REDACTED]");
  }
  return text;
}

} // namespace fleetrun::api
