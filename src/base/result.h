#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "base/status.h"

namespace waggle {

// A value of type T or a non-OK Status (a small StatusOr).
// Thread-compatible: a Result is a value.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "Result needs a value or an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace waggle

#define WAGGLE_CONCAT_INNER_(a, b) a##b
#define WAGGLE_CONCAT_(a, b) WAGGLE_CONCAT_INNER_(a, b)
// `WAGGLE_ASSIGN_OR_RETURN(auto x, Fn())`: assigns the value or returns the error.
#define WAGGLE_ASSIGN_OR_RETURN(lhs, expr) \
  WAGGLE_ASSIGN_OR_RETURN_IMPL_(WAGGLE_CONCAT_(waggle_result_, __LINE__), lhs, expr)
#define WAGGLE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()
