#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace waggle::test_util {

// A fresh directory under /tmp for one test, removed with everything in it on destruction.
// For tests only. Thread-compatible.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "waggle-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace waggle::test_util
