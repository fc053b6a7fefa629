#pragma once
// Result<T, E>: a value or an error, never both. Errors are values; a cache miss
// is Result<std::optional<T>, E>, not an error.

#include <utility>
#include <variant>

namespace credbroker {

template <typename E>
struct Err {
  // A constructor rather than an aggregate: `Err(x)` is parenthesized aggregate initialization
  // otherwise (P0960), which clang only has from 16 on, and the fuzz build uses Debian's clang 14.
  explicit Err(E e) : error(std::move(e)) {}
  E error;
};
template <typename E>
Err(E) -> Err<E>;

template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  template <typename F>
  Result(Err<F> e) : v_(std::in_place_index<1>, E(std::move(e.error))) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const E& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, E> v_;
};

// Result of an operation that yields nothing but may fail.
struct Unit {};

}  // namespace credbroker
