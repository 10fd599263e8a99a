#pragma once
// Builds an API client from the connection options: checks the application
// id, loads the token, sets up TLS (warning loudly when verification is off).

#include "api/losant_client.hpp"
#include "runner/commands.hpp"

#include <expected>
#include <memory>
#include <string>

namespace fleetrun::runner {

class ApiConnection {
public:
  // The error names what is wrong and how to fix it.
  static std::expected<std::unique_ptr<ApiConnection>, std::string> open(const ConnectionOptions& options);

  api::LosantClient& client() { return m_client; }
  const api::LosantClient& client() const { return m_client; }
  // A new transport and client for another worker thread, same settings.
  std::unique_ptr<ApiConnection> clone() const;
  const ConnectionOptions& options() const { return m_options; }

private:
  ApiConnection(ConnectionOptions options, std::unique_ptr<api::HttpTransport> transport,
                api::ClientOptions client_options);
  ConnectionOptions m_options;
  std::unique_ptr<api::HttpTransport> m_transport;
  api::LosantClient m_client;
  api::ClientOptions m_client_options;
};

} // namespace fleetrun::runner
