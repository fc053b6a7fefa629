// libcurl loaded on the first HTTP request, for the handlers whose route never makes one
// (list, connect, health; CMakeLists.txt). They still may need HTTP: identity keys from a
// jwks_url, or the Lambda Runtime API. This file is the only libcurl those handlers link: it
// defines the libcurl functions shared/http/client.cc calls, and each loads libcurl.so.4 (dlopen)
// and forwards to the real one. A handler that never sends a request never maps libcurl nor runs
// curl_global_init. Not part of the credbroker library (which calls libcurl but does not link it);
// the other handlers and the tests link libcurl itself.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace {

[[noreturn]] void cannot_load(const char* what) {
  const char* why = dlerror();
  std::fprintf(stderr, "credbroker: cannot load %s from libcurl.so.4: %s\n", what,
               why != nullptr ? why : "unknown");
  std::abort();
}

void* library() {
  static void* const handle = [] {
    void* h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) cannot_load("the library");
    return h;
  }();
  return handle;
}

template <typename Fn>
Fn real(const char* name) {
  void* p = dlsym(library(), name);
  if (p == nullptr) cannot_load(name);
  return reinterpret_cast<Fn>(p);
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
  static const auto fn = real<CURLcode (*)(long)>("curl_global_init");
  return fn(flags);
}

CURL* curl_easy_init(void) {
  static const auto fn = real<CURL* (*)(void)>("curl_easy_init");
  return fn();
}

void curl_easy_cleanup(CURL* handle) {
  static const auto fn = real<void (*)(CURL*)>("curl_easy_cleanup");
  fn(handle);
}

void curl_easy_reset(CURL* handle) {
  static const auto fn = real<void (*)(CURL*)>("curl_easy_reset");
  fn(handle);
}

CURLcode curl_easy_perform(CURL* handle) {
  static const auto fn = real<CURLcode (*)(CURL*)>("curl_easy_perform");
  return fn(handle);
}

curl_slist* curl_slist_append(curl_slist* list, const char* text) {
  static const auto fn = real<curl_slist* (*)(curl_slist*, const char*)>("curl_slist_append");
  return fn(list, text);
}

void curl_slist_free_all(curl_slist* list) {
  static const auto fn = real<void (*)(curl_slist*)>("curl_slist_free_all");
  fn(list);
}

// The signatures below are libcurl's own (curl/curl.h), an enum before the "...". Its underlying
// type is int-sized, so va_start is well defined; clang warns about any enum there.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wvarargs"
#endif

// The variadic argument's type follows from the option's number, as in libcurl itself.
CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
  static const auto fn = real<CURLcode (*)(CURL*, CURLoption, ...)>("curl_easy_setopt");
  va_list ap;
  va_start(ap, option);
  CURLcode result;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    result = fn(handle, option, va_arg(ap, long));
  } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
    result = fn(handle, option, va_arg(ap, void*));
  } else if (option < CURLOPTTYPE_OFF_T) {
    result = fn(handle, option, va_arg(ap, void (*)(void)));
  } else if (option < CURLOPTTYPE_BLOB) {
    result = fn(handle, option, va_arg(ap, curl_off_t));
  } else {
    result = fn(handle, option, va_arg(ap, void*));
  }
  va_end(ap);
  return result;
}

// Every CURLINFO takes a pointer.
CURLcode curl_easy_getinfo(CURL* handle, CURLINFO info, ...) {
  static const auto fn = real<CURLcode (*)(CURL*, CURLINFO, ...)>("curl_easy_getinfo");
  va_list ap;
  va_start(ap, info);
  const CURLcode result = fn(handle, info, va_arg(ap, void*));
  va_end(ap);
  return result;
}

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

}  // extern "C"
