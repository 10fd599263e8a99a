#pragma once
// The HTTP side effect behind a small interface: the Poco implementation
// speaks HTTP/1.1 with keep-alive and verified TLS; tests may substitute a
// recording fake. Poco headers stay in http_transport.cpp.

#include "api/answer_watchdog.hpp"
#include "api/api_error.hpp"

#include <chrono>
#include <cstddef>
#include <expected>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fleetrun::api {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;
  std::string target; // path and query string, already encoded
  Headers headers;
  std::optional<std::string> body;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  Headers headers;
  std::string header(std::string_view name) const; // case-insensitive; empty when absent
};

struct TransportFailure {
  ErrorKind kind = ErrorKind::transient;
  Delivery delivery = Delivery::not_sent;
  std::string message;
};

inline constexpr std::chrono::seconds k_default_connect_timeout{10};
inline constexpr std::chrono::seconds k_default_read_timeout{60};
// The whole exchange (writing the request, reading every byte of the answer)
// ends by this deadline, however slowly a server drips its answer.
inline constexpr std::chrono::seconds k_default_request_timeout{180};
// An answer that, once begun, comes slower than this is cut off (as curl's
// --speed-limit 1024 --speed-time 20): a server dripping bytes ends within
// about 20 s instead of at the deadline.
inline constexpr LowSpeedLimit k_default_low_speed{1024, std::chrono::seconds(20)};
// An answer larger than this is refused: a device page of 1,000 devices is
// about 1 MB.
inline constexpr std::size_t k_default_max_answer_bytes = 64 * 1024 * 1024;

struct TransportOptions {
  std::string base_url = "https://api.losant.com";
  std::string ca_file;   // extra trusted CA certificates (PEM); the system store is always used
  bool insecure = false; // skip certificate verification (warned about at start)
  std::chrono::milliseconds connect_timeout = k_default_connect_timeout;
  std::chrono::milliseconds read_timeout = k_default_read_timeout; // between two reads
  std::chrono::milliseconds request_timeout = k_default_request_timeout;
  LowSpeedLimit low_speed = k_default_low_speed;
  std::size_t max_answer_bytes = k_default_max_answer_bytes;
};

class HttpTransport {
public:
  virtual ~HttpTransport() = default;
  // Sends one request and reads the whole response. Not thread safe: one
  // transport per worker; it keeps its connection alive between calls.
  virtual std::expected<HttpResponse, TransportFailure> send(const HttpRequest& request) = 0;
};

// `url` with any user name and password replaced by "***" (for messages).
std::string without_credentials(std::string_view url);

// Throws std::invalid_argument for a malformed base URL (one with credentials
// among them; the message never repeats them) or an unreadable CA file.
std::unique_ptr<HttpTransport> make_poco_transport(const TransportOptions& options);

} // namespace fleetrun::api
