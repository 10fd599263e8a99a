#pragma once
// The API token: read from the environment or a file, kept out of every log,
// report and state file. `Secret` has no stream operator on purpose.

#include <expected>
#include <string>
#include <string_view>

namespace fleetrun::api {

class Secret {
public:
  Secret() = default;
  explicit Secret(std::string value) : m_value(std::move(value)) {}
  const std::string& reveal() const { return m_value; }
  bool empty() const { return m_value.empty(); }

private:
  std::string m_value;
};

// Reads the token from `token_file` when given (first line, trimmed), else
// from the environment variable `env_name`. The error says where it looked.
std::expected<Secret, std::string> load_token(std::string_view env_name, std::string_view token_file);

// Replaces every occurrence of the secret (and of any `Bearer <x>`) in text.
std::string redact(std::string text, const Secret& secret);

} // namespace fleetrun::api
