#include "sandbox/http_server.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace fleetrun::sandbox {

// Decoded like the query strings of the real API's web framework (Node's
// querystring): `+` is a space, `%XX` a byte, a malformed `%` stays as it is.
std::string decode_query_component(std::string_view text)
{
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query_string(const std::string& raw)
{
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start < raw.size()) {
    auto end = raw.find('&', start);
    if (end == std::string::npos) end = raw.size();
    const std::string pair = raw.substr(start, end - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      std::string key = decode_query_component(std::string_view(pair).substr(0, eq));
      std::string value =
          eq == std::string::npos ? std::string() : decode_query_component(std::string_view(pair).substr(eq + 1));
      out.emplace_back(std::move(key), std::move(value));
    }
    start = end + 1;
  }
  return out;
}

namespace {

// Resets the connection: no response at all, as when a server or proxy dies.
void drop_connection(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response)
{
  response.setKeepAlive(false);
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (impl == nullptr) return;
  Poco::Net::StreamSocket socket = impl->detachSocket();
  socket.setLinger(true, 0);
  socket.close();
}

class Handler final : public Poco::Net::HTTPRequestHandler {
public:
  explicit Handler(Sandbox& sandbox) : m_sandbox(sandbox) {}

  void handleRequest(Poco::Net::HTTPServerRequest& http_request, Poco::Net::HTTPServerResponse& http_response) override
  {
    Request request;
    request.method = http_request.getMethod();
    const Poco::URI uri(http_request.getURI());
    request.path = uri.getPath();
    request.query = parse_query_string(uri.getRawQuery());
    request.authorization = http_request.get("Authorization", "");
    request.user_agent = http_request.get("User-Agent", "");
    Poco::StreamCopier::copyToString(http_request.stream(), request.body);

    const Response response = m_sandbox.serve(request);
    if (response.latency_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(response.latency_ms));
    if (response.disposition == Response::Disposition::drop) {
      drop_connection(http_request, http_response);
      return;
    }
    http_response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status));
    http_response.setContentType(response.content_type);
    for (const auto& [name, value] : response.headers) http_response.set(name, value);
    http_response.setContentLength(static_cast<std::streamsize>(response.body.size()));
    http_response.send() << response.body;
  }

private:
  Sandbox& m_sandbox;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
public:
  explicit Factory(Sandbox& sandbox) : m_sandbox(sandbox) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override
  {
    return new Handler(m_sandbox);
  }

private:
  Sandbox& m_sandbox;
};

} // namespace

struct HttpServer::Impl {
  // Poco's default pool stops at 16 threads, and a kept-alive connection
  // holds a thread while it is open: a 17th connection would wait for an idle
  // one to time out. The server gets a pool of its own, as large as asked.
  std::unique_ptr<Poco::ThreadPool> pool; // outlives the server (declared first)
  std::unique_ptr<Poco::Net::HTTPServer> server;
  int port = 0;
  bool tls = false;
  std::string host;
};

HttpServer::HttpServer(Sandbox& sandbox, const ServerOptions& options) : m_impl(std::make_unique<Impl>())
{
  const Poco::Net::SocketAddress address(options.host, static_cast<Poco::UInt16>(options.port));
  std::unique_ptr<Poco::Net::ServerSocket> socket;
  if (!options.tls_certificate.empty() && !options.tls_private_key.empty()) {
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::SERVER_USE, options.tls_private_key, options.tls_certificate, "",
                               Poco::Net::Context::VERIFY_NONE);
    socket = std::make_unique<Poco::Net::SecureServerSocket>(address, 64, context);
    m_impl->tls = true;
  } else {
    socket = std::make_unique<Poco::Net::ServerSocket>(address, 64);
  }
  m_impl->port = socket->address().port();
  m_impl->host = options.host;
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(options.threads);
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  params->setKeepAliveTimeout(Poco::Timespan(15, 0));
  params->setMaxKeepAliveRequests(0);
  m_impl->pool = std::make_unique<Poco::ThreadPool>(2, std::max(2, options.threads + 1));
  m_impl->server = std::make_unique<Poco::Net::HTTPServer>(new Factory(sandbox), *m_impl->pool, *socket, params);
  m_impl->server->start();
  sandbox.set_base_url(base_url());
}

HttpServer::~HttpServer()
{
  stop();
}

int HttpServer::port() const
{
  return m_impl->port;
}

std::string HttpServer::base_url() const
{
  return std::string(m_impl->tls ? "https" : "http") + "://" + m_impl->host + ":" + std::to_string(m_impl->port);
}

void HttpServer::stop()
{
  if (m_impl->server) {
    m_impl->server->stopAll(true);
    m_impl->server.reset();
  }
}

} // namespace fleetrun::sandbox
