#pragma once
// Builds an API client from the connection options: checks the application
// id, loads the token, sets up TLS (warning loudly when verification is off).

#include "api/losant_client.hpp"
#include "runner/settings.hpp"

#include <expected>
#include <memory>
#include <string>

namespace fleetrun::runner {

class ApiConnection {
public:
  // The error names what is wrong and how to fix it.
  static std::expected<std::unique_ptr<ApiConnection>, std::string> open(const ConnectionSettings& options);

  api::LosantClient& client() { return m_client; }
  const api::LosantClient& client() const { return m_client; }
  // A new transport and client for another worker thread, same settings.
  std::unique_ptr<ApiConnection> clone() const;
  const ConnectionSettings& options() const { return m_options; }

private:
  ApiConnection(ConnectionSettings options, std::unique_ptr<api::HttpTransport> transport,
                api::ClientOptions client_options);
  ConnectionSettings m_options;
  std::unique_ptr<api::HttpTransport> m_transport;
  api::LosantClient m_client;
  api::ClientOptions m_client_options;
};

} // namespace fleetrun::runner
