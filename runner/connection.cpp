#include "runner/connection.hpp"

#include "losant/object_id.hpp"

#include <spdlog/spdlog.h>

namespace fleetrun::runner {

namespace {

api::TransportOptions transport_options(const ConnectionSettings& options)
{
  api::TransportOptions transport;
  transport.base_url = options.api_url;
  transport.ca_file = options.ca_file;
  transport.insecure = options.insecure;
  transport.connect_timeout = options.connect_timeout;
  transport.read_timeout = options.read_timeout;
  transport.request_timeout = options.request_timeout;
  transport.low_speed = {options.low_speed_limit, options.low_speed_time};
  return transport;
}

} // namespace

ApiConnection::ApiConnection(ConnectionSettings options, std::unique_ptr<api::HttpTransport> transport,
                             api::ClientOptions client_options)
    : m_options(std::move(options)), m_transport(std::move(transport)), m_client(*m_transport, client_options),
      m_client_options(std::move(client_options))
{
}

std::expected<std::unique_ptr<ApiConnection>, std::string> ApiConnection::open(const ConnectionSettings& options)
{
  if (options.application_id.empty()) {
    return std::unexpected("no application id: pass --application ID, set LOSANT_APPLICATION_ID or the plan's "
                           "target.application_id");
  }
  if (!losant::is_object_id(options.application_id)) {
    return std::unexpected("application id \"" + options.application_id + "\" is not a 24-character hexadecimal id");
  }
  auto token = api::load_token(options.token_env, options.token_file);
  if (!token) return std::unexpected(token.error());
  std::unique_ptr<api::HttpTransport> transport;
  try {
    transport = api::make_poco_transport(transport_options(options));
  } catch (const std::exception& error) {
    return std::unexpected(error.what());
  }
  if (options.insecure && options.api_url.starts_with("https")) {
    spdlog::warn("TLS certificate verification is OFF (--insecure): anyone on the network path can read the token");
  }
  api::ClientOptions client_options;
  client_options.base_url = options.api_url;
  while (!client_options.base_url.empty() && client_options.base_url.back() == '/') client_options.base_url.pop_back();
  client_options.application_id = losant::normalize_object_id(options.application_id);
  client_options.token = std::move(*token);
  return std::unique_ptr<ApiConnection>(new ApiConnection(options, std::move(transport), std::move(client_options)));
}

std::unique_ptr<ApiConnection> ApiConnection::clone() const
{
  return std::unique_ptr<ApiConnection>(
      new ApiConnection(m_options, api::make_poco_transport(transport_options(m_options)), m_client_options));
}

std::string ConnectionSettings::token_source() const
{
  return token_file.empty() ? "the token in $" + token_env : "the token in file " + token_file;
}

} // namespace fleetrun::runner
