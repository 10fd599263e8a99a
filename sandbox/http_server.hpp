#pragma once
// Serves a Sandbox over HTTP (or HTTPS) with Poco's HTTPServer, bound to
// loopback. It only moves bytes: parse the request, call Sandbox::serve,
// write the answer, or drop the connection when the sandbox says so.

#include "sandbox/sandbox.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetrun::sandbox {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0; // 0: the system picks a free port
  int threads = 64;
  std::string tls_certificate; // PEM files; both set: serve HTTPS
  std::string tls_private_key;
};

// A query string's parameters, decoded as the real API's web framework does
// (`+` is a space; exposed for tests).
std::string decode_query_component(std::string_view text);
std::vector<std::pair<std::string, std::string>> parse_query_string(const std::string& raw);

class HttpServer {
public:
  HttpServer(Sandbox& sandbox, const ServerOptions& options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  std::string base_url() const;
  void stop();

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

} // namespace fleetrun::sandbox
