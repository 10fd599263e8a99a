#include "tests/support/scripted_server.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace fleetrun::testing {

namespace {

// Reads until `marker` is in `buffer`; false when the peer closed first.
bool read_until(int fd, std::string& buffer, const std::string& marker)
{
  char chunk[4096];
  while (buffer.find(marker) == std::string::npos) {
    const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(got));
  }
  return true;
}

std::string lower(std::string text)
{
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

} // namespace

bool write_all(int fd, const std::string& bytes)
{
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t wrote = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (wrote <= 0) return false;
    sent += static_cast<std::size_t>(wrote);
  }
  return true;
}

Writer answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers)
{
  return [status, body = std::move(body), headers = std::move(headers)](int fd) {
    std::string head = "HTTP/1.1 " + std::to_string(status) +
                       " Scripted\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\nContent-Type: application/json\r\n";
    for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
    return write_all(fd, head + "\r\n" + body);
  };
}

std::string object_id(long n)
{
  char id[25];
  std::snprintf(id, sizeof id, "5f%022lx", n);
  return id;
}

std::string device_page(long first, int count, long total)
{
  nlohmann::json items = nlohmann::json::array();
  for (int i = 0; i < count; ++i) {
    items.push_back({{"id", object_id(first + i)}, {"name", "device-" + std::to_string(first + i)}, {"tags", {}}});
  }
  return nlohmann::json{{"items", items}, {"count", count}, {"totalCount", total}}.dump();
}

ScriptedServer::ScriptedServer(Handler handler) : m_handler(std::move(handler))
{
  m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(m_listen, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(m_listen, 64) != 0) {
    throw std::runtime_error("scripted server: cannot listen on loopback");
  }
  socklen_t length = sizeof address;
  ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&address), &length);
  m_port = ntohs(address.sin_port);
  m_acceptor = std::thread([this] { accept_loop(); });
}

ScriptedServer::~ScriptedServer()
{
  m_stopping = true;
  ::shutdown(m_listen, SHUT_RDWR);
  ::close(m_listen);
  m_acceptor.join();
  {
    std::lock_guard lock(m_mutex);
    for (const int fd : m_open) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& thread : m_threads) thread.join();
}

std::string ScriptedServer::url() const
{
  return "http://127.0.0.1:" + std::to_string(m_port);
}

std::vector<RawRequest> ScriptedServer::received() const
{
  std::lock_guard lock(m_mutex);
  return m_received;
}

void ScriptedServer::accept_loop()
{
  while (!m_stopping) {
    const int fd = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (m_stopping) return;
      continue;
    }
    std::lock_guard lock(m_mutex);
    m_open.insert(fd);
    m_threads.emplace_back([this, fd] { serve(fd); });
  }
}

void ScriptedServer::serve(int fd)
{
  std::string buffer;
  while (!m_stopping) {
    if (!read_until(fd, buffer, "\r\n\r\n")) break;
    const auto head_end = buffer.find("\r\n\r\n");
    const std::string head = buffer.substr(0, head_end);
    buffer.erase(0, head_end + 4);
    RawRequest request;
    std::size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const auto first_space = request_line.find(' ');
    const auto second_space = request_line.find(' ', first_space + 1);
    request.method = request_line.substr(0, first_space);
    request.target = request_line.substr(first_space + 1, second_space - first_space - 1);
    request.path = request.target.substr(0, request.target.find('?'));
    while (line_end != std::string::npos && line_end < head.size()) {
      const auto next = head.find("\r\n", line_end + 2);
      const std::string line =
          head.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        request.headers[lower(line.substr(0, colon))] = value;
      }
      line_end = next;
    }
    const auto length =
        request.headers.contains("content-length") ? std::stoul(request.headers["content-length"]) : 0UL;
    while (buffer.size() < length) {
      char chunk[4096];
      const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(got));
    }
    request.body = buffer.substr(0, length);
    buffer.erase(0, std::min<std::size_t>(length, buffer.size()));
    ++m_requests;
    {
      std::lock_guard lock(m_mutex);
      m_received.push_back(request);
    }
    const Writer writer = m_handler(request);
    if (!writer || !writer(fd)) break;
  }
  std::lock_guard lock(m_mutex);
  m_open.erase(fd);
  ::close(fd);
}

} // namespace fleetrun::testing
