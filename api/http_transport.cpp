#include "api/http_transport.hpp"

#include "api/answer_watchdog.hpp"

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
#include <Poco/URI.h>

#include <algorithm>
#include <array>
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

} // namespace

std::string without_credentials(std::string_view url)
{
  const auto scheme = url.find("://");
  const auto start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const auto end = url.find_first_of("/?#", start);
  const auto at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  return std::string(url.substr(0, start)) + "***@" + std::string(url.substr(at + 1));
}

namespace {

class PocoTransport final : public HttpTransport {
public:
  explicit PocoTransport(const TransportOptions& options) : m_options(options)
  {
    Poco::URI uri;
    try {
      uri = Poco::URI(options.base_url);
    } catch (const Poco::Exception&) {
      throw std::invalid_argument("the API URL \"" + without_credentials(options.base_url) + "\" is not a URL");
    }
    if (uri.getScheme() != "http" && uri.getScheme() != "https") {
      throw std::invalid_argument("API URL must start with http:// or https://, not \"" +
                                  without_credentials(options.base_url) + "\"");
    }
    if (uri.getHost().empty()) {
      throw std::invalid_argument("API URL has no host: \"" + without_credentials(options.base_url) + "\"");
    }
    if (!uri.getUserInfo().empty()) {
      throw std::invalid_argument("the API URL \"" + without_credentials(options.base_url) +
                                  "\" holds a user name or password; remove them: the API token is sent as a "
                                  "header, read from the environment or --token-file");
    }
    if (!uri.getQuery().empty() || !uri.getFragment().empty()) {
      throw std::invalid_argument("the API URL \"" + without_credentials(options.base_url) +
                                  "\" has a query or fragment; give the base URL only, like https://api.losant.com");
    }
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
      // VERIFY_STRICT: Poco checks the host name against the certificate
      // only in strict mode when the host is a loopback address.
      m_context =
          new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", options.ca_file,
                                 options.insecure ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_STRICT,
                                 9, true, "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH");
    }
  }

  std::expected<HttpResponse, TransportFailure> send(const HttpRequest& request) override
  {
    const auto started = std::chrono::steady_clock::now();
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

    // Phase two: the request left; losing the answer leaves its effect
    // unknown. The whole answer must arrive by the request's deadline.
    AnswerWatchdog watchdog(session.socket().impl()->sockfd(), started + m_options.request_timeout,
                            m_options.low_speed);
    try {
      Poco::Net::HTTPResponse http_response;
      std::istream& in = session.receiveResponse(http_response);
      in.exceptions(std::ios::badbit); // a failed read throws instead of looking like the end
      HttpResponse response;
      response.status = static_cast<int>(http_response.getStatus());
      std::array<char, 64 * 1024> buffer{};
      // Room for the whole answer at once when its length is known (and
      // believable): a page of a megabyte is not grown and copied by doubling.
      if (http_response.hasContentLength() && http_response.getContentLength64() > 0 &&
          static_cast<std::uint64_t>(http_response.getContentLength64()) <= m_options.max_answer_bytes) {
        response.body.reserve(static_cast<std::size_t>(http_response.getContentLength64()));
      }
      while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        response.body.append(buffer.data(), static_cast<std::size_t>(in.gcount()));
        if (response.body.size() > m_options.max_answer_bytes) {
          // Not worth another try: no answer of the API is anywhere near this.
          return fail(ErrorKind::permanent, Delivery::maybe_sent,
                      "the answer is larger than " + std::to_string(m_options.max_answer_bytes / (1024 * 1024)) +
                          " MiB; stopped reading it");
        }
      }
      if (const auto verdict = watchdog.disarm(); verdict != WatchdogVerdict::in_time) return cut_off(verdict);
      for (const auto& [name, value] : http_response) response.headers.emplace_back(name, value);
      if (!http_response.getKeepAlive()) session.reset();
      return response;
    } catch (const Poco::TimeoutException&) {
      if (const auto verdict = watchdog.disarm(); verdict != WatchdogVerdict::in_time) return cut_off(verdict);
      return fail(ErrorKind::timeout, Delivery::maybe_sent,
                  "no data for " + std::to_string(m_options.read_timeout.count()) + " ms while waiting for the answer");
    } catch (const Poco::Exception& error) {
      if (const auto verdict = watchdog.disarm(); verdict != WatchdogVerdict::in_time) return cut_off(verdict);
      return fail(ErrorKind::transient, Delivery::maybe_sent,
                  "connection lost after the request was sent: " + error.displayText());
    } catch (const std::ios_base::failure& error) {
      if (const auto verdict = watchdog.disarm(); verdict != WatchdogVerdict::in_time) return cut_off(verdict);
      return fail(ErrorKind::transient, Delivery::maybe_sent,
                  std::string("connection lost while reading the answer: ") + error.what());
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

  // The watchdog shut the socket down: the deadline passed (a timeout), or
  // the answer came too slowly (transient: another try may be faster).
  std::unexpected<TransportFailure> cut_off(WatchdogVerdict verdict)
  {
    if (verdict == WatchdogVerdict::too_slow) {
      return fail(ErrorKind::transient, Delivery::maybe_sent,
                  "the answer came at fewer than " + std::to_string(m_options.low_speed.bytes_per_second) +
                      " bytes/s for " + std::to_string(m_options.low_speed.window.count()) +
                      " s (--low-speed-limit, --low-speed-time); stopped reading it");
    }
    return fail(ErrorKind::timeout, Delivery::maybe_sent,
                "no complete answer within " + std::to_string(m_options.request_timeout.count()) +
                    " ms (the request's deadline)");
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
