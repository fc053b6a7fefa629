#pragma once
// Pieces every transport adapter shares: body reading with a cap, and the adapters' entry points.

#include <cstddef>
#include <functional>

#include "shared/runtime/runtime.h"

namespace credbroker::runtime {

/** Reads up to n bytes into buf; returns bytes read (0 at end), negative on error. */
using BodyReader = std::function<long(char* buf, std::size_t n)>;

/**
 * Reads the body the Content-Length announces (at most kMaxBodyBytes; larger → 413 without calling
 * the handler) and runs the handler; any exception becomes a 500 JSON error without details.
 */
http::Response handle_with_body(http::Request& request, const BodyReader& read,
                                const Handler& handler);

/** Runs the handler; any exception becomes a 500 JSON error without details. */
http::Response call_handler(const http::Request& request, const Handler& handler);

int serve_cgi(const Handler& handler);
int serve_fastcgi(int socket, const Handler& handler);
int serve_lambda(const std::string& runtime_api, const Handler& handler);

}  // namespace credbroker::runtime
