#pragma once
// Pieces every transport adapter shares: body reading with a cap, and the adapters' entry points.

#include <chrono>
#include <cstddef>
#include <functional>

#include "shared/runtime/runtime.h"

namespace credbroker::runtime {

/** A BodyReader's answer when nothing arrived within the time it was given. */
inline constexpr long kReadTimedOut = -2;

/**
 * Reads up to n bytes into buf, waiting at most `remaining`; returns bytes read (0 at end),
 * kReadTimedOut, or another negative value on error.
 */
using BodyReader =
    std::function<long(char* buf, std::size_t n, std::chrono::milliseconds remaining)>;

/**
 * Checks the Content-Length (malformed → 400, over kMaxBodyBytes → 413, both without calling the
 * handler), then runs the handler with a body_source that reads the announced body from `read`
 * only when the route asks for it (http::Request::read_body). Any exception becomes a 500 JSON
 * error without details. `body_unread`, when given, is set when an announced body was not read
 * to its end (the transport must not reuse the connection).
 */
http::Response handle_with_body(http::Request& request, const BodyReader& read,
                                const Handler& handler, bool* body_unread = nullptr);

/** Runs the handler; any exception becomes a 500 JSON error without details. */
http::Response call_handler(const http::Request& request, const Handler& handler);

int serve_cgi(const Handler& handler);
/** How long a FastCGI peer has to deliver a whole request head (BEGIN_REQUEST and parameters). */
struct FastCgiLimits {
  std::chrono::milliseconds request_deadline{10000};
};
/** Serves FastCGI connections accepted from `listen_socket` until it fails. */
int serve_fastcgi(int listen_socket, const Handler& handler, const FastCgiLimits& limits);
int serve_lambda(const std::string& runtime_api, const Handler& handler);

}  // namespace credbroker::runtime
