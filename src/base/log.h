#pragma once

#include <string_view>
#include <utility>

#include <fmt/core.h>

// The logging facade (spdlog behind it). Log at the edges, never per span or per
// datagram: hot paths count in metrics instead. Thread-safe.
namespace waggle::log {

enum class Level { kDebug, kInfo, kWarn, kError };

// Sets the minimum level printed. Thread-safe.
void SetLevel(Level level);
bool ParseLevel(std::string_view text, Level* out);
void Write(Level level, std::string_view message);

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace waggle::log
