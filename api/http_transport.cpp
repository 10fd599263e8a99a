#include "api/http_transport.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <stdexcept>

namespace fleetrun::api {

std::string HttpResponse::header(std::string_view name) const
{
  const auto same = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
  };
  for (const auto& [key, value] : headers) {
    if (same(key, name)) return value;
  }
  return {};
}

namespace {

void initialize_tls_once()
{
  static std::once_flag once;
  std::call_once(once, [] {
    Poco::Net::initializeSSL();
    // A certificate that fails verification is rejected outright; Poco's
    // default would ask on the console.
    Poco::SharedPtr<Poco::Net::InvalidCertificateHandler> reject = new Poco::Net::RejectCertificateHandler(false);
    Poco::Net::SSLManager::instance().initializeClient(nullptr, reject, nullptr);
  });
}

Poco::Timespan to_timespan(std::chrono::milliseconds ms)
{
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

class PocoTransport final : public HttpTransport {
public:
  explicit PocoTransport(const TransportOptions& options) : m_options(options)
  {
    const Poco::URI uri(options.base_url);
    if (uri.getScheme() != "http" && uri.getScheme() != "https") {
      throw std::invalid_argument("API URL must start with http:// or https://, not \"" + options.base_url + "\"");
    }
    if (uri.getHost().empty()) throw std::invalid_argument("API URL has no host: \"" + options.base_url + "\"");
    m_tls = uri.getScheme() == "https";
    m_host = uri.getHost();
    m_port = uri.getPort();
    m_base_path = uri.getPath();
    while (!m_base_path.empty() && m_base_path.back() == '/') m_base_path.pop_back();
    if (m_tls) {
      if (!options.ca_file.empty() && !std::ifstream(options.ca_file).good()) {
        throw std::invalid_argument("cannot read CA file " + options.ca_file);
      }
      initialize_tls_once();
      m_context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", options.ca_file,
                                         options.insecure ? Poco::Net::Context::VERIFY_NONE
                                                          : Poco::Net::Context::VERIFY_RELAXED,
                                         9, true, "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH");
    }
  }

  std::expected<HttpResponse, TransportFailure> send(const HttpRequest& request) override
  {
    Poco::Net::HTTPClientSession& session = this->session();
    Poco::Net::HTTPRequest http_request(request.method, m_base_path + request.target, Poco::Net::HTTPMessage::HTTP_1_1);
    http_request.setKeepAlive(true);
    for (const auto& [name, value] : request.headers) http_request.set(name, value);
    if (request.body) http_request.setContentLength(static_cast<std::streamsize>(request.body->size()));

    // Phase one: until the request is fully written, a failure means the
    // server cannot have acted on it.
    try {
      std::ostream& out = session.sendRequest(http_request);
      if (request.body) out << *request.body;
      out.flush();
      if (!out.good() || session.networkException() != nullptr) {
        const std::string what =
            session.networkException() ? session.networkException()->displayText() : "write failed";
        return fail(ErrorKind::transient, Delivery::not_sent, "sending the request failed: " + what);
      }
    } catch (const Poco::TimeoutException& error) {
      return fail(ErrorKind::timeout, Delivery::not_sent, "timed out connecting or sending: " + error.displayText());
    } catch (const Poco::Net::SSLException& error) {
      return fail(ErrorKind::permanent, Delivery::not_sent, tls_message(error));
    } catch (const Poco::Exception& error) {
      return fail(ErrorKind::transient, Delivery::not_sent, "could not send the request: " + error.displayText());
    }

    // Phase two: the request left; losing the answer leaves its effect unknown.
    try {
      Poco::Net::HTTPResponse http_response;
      std::istream& in = session.receiveResponse(http_response);
      HttpResponse response;
      response.status = static_cast<int>(http_response.getStatus());
      Poco::StreamCopier::copyToString(in, response.body);
      for (const auto& [name, value] : http_response) response.headers.emplace_back(name, value);
      if (!http_response.getKeepAlive()) session.reset();
      return response;
    } catch (const Poco::TimeoutException& error) {
      return fail(ErrorKind::timeout, Delivery::maybe_sent,
                  "no response within " + std::to_string(m_options.read_timeout.count()) + " ms");
    } catch (const Poco::Exception& error) {
      return fail(ErrorKind::transient, Delivery::maybe_sent,
                  "connection lost after the request was sent: " + error.displayText());
    }
  }

private:
  Poco::Net::HTTPClientSession& session()
  {
    if (!m_session) {
      if (m_tls) {
        m_session = std::make_unique<Poco::Net::HTTPSClientSession>(m_host, m_port, m_context);
      } else {
        m_session = std::make_unique<Poco::Net::HTTPClientSession>(m_host, m_port);
      }
      m_session->setKeepAlive(true);
      m_session->setTimeout(to_timespan(m_options.connect_timeout), to_timespan(m_options.read_timeout),
                            to_timespan(m_options.read_timeout));
    }
    return *m_session;
  }

  std::unexpected<TransportFailure> fail(ErrorKind kind, Delivery delivery, std::string message)
  {
    m_session.reset(); // never reuse a connection in an unknown state
    return std::unexpected(TransportFailure{kind, delivery, std::move(message)});
  }

  static std::string tls_message(const Poco::Exception& error)
  {
    return "TLS failed: " + error.displayText() +
           " (check the server's certificate; pass --ca-file for a private CA, or --insecure to skip verification)";
  }

  TransportOptions m_options;
  bool m_tls = false;
  std::string m_host;
  Poco::UInt16 m_port = 0;
  std::string m_base_path;
  Poco::Net::Context::Ptr m_context;
  std::unique_ptr<Poco::Net::HTTPClientSession> m_session;
};

} // namespace

std::unique_ptr<HttpTransport> make_poco_transport(const TransportOptions& options)
{
  return std::make_unique<PocoTransport>(options);
}

} // namespace fleetrun::api
