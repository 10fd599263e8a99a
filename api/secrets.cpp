#include "api/secrets.hpp"

#include <cstdlib>
#include <cstring>
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

namespace {

// A token goes into a header line: a control character (a line break above
// all) would end that line and start another of the server's choosing.
std::expected<Secret, std::string> checked(std::string token, const std::string& where)
{
  for (const char c : token) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) {
      return std::unexpected("the token in " + where +
                             " contains a control character (a line break?); it cannot be sent in a header");
    }
  }
  return Secret(std::move(token));
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
    return checked(std::move(line), "the file " + std::string(token_file));
  }
  const char* value = std::getenv(std::string(env_name).c_str());
  if (value == nullptr || trim(value).empty()) {
    return std::unexpected("no API token: set " + std::string(env_name) + " or pass --token-file FILE");
  }
  return checked(trim(value), "$" + std::string(env_name));
}

namespace {

// Where `needle` is in `text` from `from` on (npos: nowhere). glibc's memmem
// does not stop at every byte that begins the needle, as std::string::find
// does: answers of a megabyte are searched for the token on every request.
std::size_t find_in(const std::string& text, std::string_view needle, std::size_t from = 0)
{
  if (needle.empty() || from >= text.size()) return std::string::npos;
  const void* found = ::memmem(text.data() + from, text.size() - from, needle.data(), needle.size());
  return found == nullptr ? std::string::npos : static_cast<std::size_t>(static_cast<const char*>(found) - text.data());
}

} // namespace

std::string redact(std::string text, const Secret& secret)
{
  if (!secret.empty()) {
    for (auto pos = find_in(text, secret.reveal()); pos != std::string::npos;
         pos = find_in(text, secret.reveal(), pos)) {
      text.replace(pos, secret.reveal().size(), "[REDACTED]");
    }
  }
  static const std::string k_bearer = "Bearer ";
  for (auto pos = find_in(text, k_bearer); pos != std::string::npos;
       pos = find_in(text, k_bearer, pos + k_bearer.size())) {
    const auto start = pos + k_bearer.size();
    auto end = text.find_first_of(" \t\r\n\"'", start);
    if (end == std::string::npos) end = text.size();
    if (text.compare(start, end - start, "[REDACTED]") != 0) text.replace(start, end - start, "[REDACTED]");
  }
  return text;
}

} // namespace fleetrun::api
