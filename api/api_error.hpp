#pragma once
// What can go wrong talking to the API, in the terms the scheduler decides on.

#include <optional>
#include <string>

namespace fleetrun::api {

// transient: worth retrying (429, 5xx, 408, dropped connections)
// timeout:   no answer in time; the request may or may not have been acted on
// auth:      the token is missing, wrong or lacks the scope (401, 403)
// permanent: the request itself is wrong (other 4xx), or the server cannot be
//            used as it is (TLS verification, redirects, answers that are not
//            the API's)
// cancelled: never sent: fleetrun is stopping (a signal)
enum class ErrorKind { transient, timeout, auth, permanent, cancelled };

// Whether the server can have acted on the request. A failure before the
// request was fully written is `not_sent` and safe to repeat; after that it
// is `maybe_sent`, and only an idempotent request may simply be repeated.
enum class Delivery { not_sent, maybe_sent, answered };

struct ApiError {
  ErrorKind kind = ErrorKind::permanent;
  Delivery delivery = Delivery::answered;
  int status = 0;                      // HTTP status; 0 when no response arrived
  std::string type;                    // the server's error type, e.g. "Validation"
  std::string message;                 // the server's message, or what failed locally
  std::optional<double> retry_after_s; // from Retry-After, when the server sent one
  std::string request;                 // "GET https://api.losant.com/applications/…/devices", no query

  // One line for people: "HTTP 400 Validation: deviceIds[3]: must be ..." or
  // "connection lost after the request was sent (it may have been applied)".
  std::string describe() const;
  // The same, followed by the request it answers: for errors that stop a command.
  std::string describe_with_request() const;
};

// An error for a request that was never made: fleetrun is stopping.
ApiError cancelled_error();

const char* to_string(ErrorKind kind);

} // namespace fleetrun::api
