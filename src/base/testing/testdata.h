#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace waggle::test_util {

// The bytes of a capture in test/testdata (test/testdata/README.md); a test that names a file
// not there fails, rather than testing an empty input. For tests only.
inline std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(WAGGLE_TESTDATA_DIR) + "/" + name, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read test/testdata/" << name;
    return {};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace waggle::test_util
