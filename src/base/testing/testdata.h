#pragma once

#include <gtest/gtest.h>

#include <string>

#include "base/env.h"

namespace waggle::test_util {

// The bytes of a capture in test/testdata (test/testdata/README.md); a test that names a file
// not there fails, rather than testing an empty input. For tests only.
inline std::string ReadTestdata(const std::string& name) {
  std::string data;
  const Status s = Env::Default()->ReadFile(std::string(WAGGLE_TESTDATA_DIR) + "/" + name, &data);
  if (!s.ok()) ADD_FAILURE() << "test/testdata/" << name << ": " << s.ToString();
  return data;
}

}  // namespace waggle::test_util
