#pragma once
// A hostile or broken API server for tests: plain sockets on loopback, so a
// test can answer with anything at all: a body of gigabytes, an answer
// dripped a byte at a time, an endless chunked body, HTML, redirects, JSON
// nested a hundred thousand deep, absurd Retry-After values. Each request is
// read whole (head and Content-Length body); the handler decides what bytes
// go back, and whether the connection stays open.

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fleetrun::testing {

struct RawRequest {
  std::string method;
  std::string target;                         // path and query, as sent
  std::string path;                           // without the query
  std::map<std::string, std::string> headers; // names lower-cased
  std::string body;
};

// Writes an answer on `fd`; returns false to close the connection after it.
// A writer that loops must stop once a write fails (the client went away).
using Writer = std::function<bool(int fd)>;
using Handler = std::function<Writer(const RawRequest&)>;

class ScriptedServer {
public:
  explicit ScriptedServer(Handler handler);
  ~ScriptedServer();
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  int port() const { return m_port; }
  std::string url() const;
  int requests() const { return m_requests.load(); }
  // Requests received so far, in order.
  std::vector<RawRequest> received() const;

private:
  void accept_loop();
  void serve(int fd);

  Handler m_handler;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stopping{false};
  std::atomic<int> m_requests{0};
  mutable std::mutex m_mutex;
  std::set<int> m_open;
  std::vector<RawRequest> m_received;
  std::vector<std::thread> m_threads;
  std::thread m_acceptor;
};

// Writes all of `bytes`; false when the peer is gone.
bool write_all(int fd, const std::string& bytes);

// A complete HTTP/1.1 answer with a Content-Length, kept alive.
Writer answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {});

// `{"items":[{"id":..,"name":..},...],"count":n,"totalCount":total}` for ids first..first+count-1.
std::string device_page(long first, int count, long total);
std::string object_id(long n);

} // namespace fleetrun::testing
