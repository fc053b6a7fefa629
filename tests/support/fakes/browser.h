#pragma once
// A scripted user agent for the authorization-code flow: follows the authorization server's
// redirects itself, signs in and consents on its HTML forms, and stops at the redirect back to the
// client. Plain libcurl with its own cookie jar, so the server's session and interaction cookies
// work as in a browser; nothing is followed automatically, every loop is bounded and every request
// times out. Fits oidc-provider's development pages (tests/oidc/server.mjs); any server whose login
// page is one form with a text and a password field, and whose consent page is one form (with a
// "cancel"/"abort"/"deny" link to refuse), would do.

#include <curl/curl.h>

#include <memory>
#include <string>

namespace credbroker::testing {

struct BrowserOptions {
  /**
   * authorize() stops at the first redirect whose Location starts with this (the client's callback
   * URL) or that leaves the authorization server's origin (scheme, host, port), whichever first.
   */
  std::string callback_prefix;
  /** Typed into every password field; any value passes the development login. */
  std::string password = "any-password";
};

class Browser {
 public:
  explicit Browser(BrowserOptions options = {});
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  /**
   * GETs `authorize_url` and walks the flow as `login`: redirects, the login form, then the
   * consent form (or, with `consent` false, the page's cancel link, after which the server
   * redirects back with error=access_denied). Returns the callback URL, with code, state and iss
   * (or error), without requesting it. The cookie jar lives as long as this object: a second call
   * may skip login and consent (single sign-on), so refusing needs a fresh Browser.
   * Throws std::runtime_error on a transport failure, an unexpected status or page, or more than
   * 20 requests.
   */
  std::string authorize(const std::string& authorize_url, const std::string& login,
                        bool consent = true);

 private:
  struct CurlCleanup {
    void operator()(CURL* h) const { curl_easy_cleanup(h); }
  };

  BrowserOptions options_;
  std::unique_ptr<CURL, CurlCleanup> curl_;
};

}  // namespace credbroker::testing
