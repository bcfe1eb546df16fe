#include "base/env.h"

#include <gtest/gtest.h>

#include <climits>
#include <string>
#include <vector>

#include "base/testing/temp_dir.h"

namespace waggle {
namespace {

// A file that joins what it is given, as the default AppendV hands it over.
class Joined : public WritableFile {
 public:
  Status Append(std::string_view data) override {
    writes.emplace_back(data);
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  uint64_t Size() const override { return 0; }
  std::vector<std::string> writes;
};

TEST(Env, TheDefaultAppendVIsOneAppendOfThePartsJoined) {
  Joined f;
  const std::vector<std::string_view> parts = {"ab", "", "cde"};
  ASSERT_TRUE(f.AppendV(parts).ok());
  EXPECT_EQ(f.writes, std::vector<std::string>{"abcde"});
}

// More parts than one writev takes (IOV_MAX), empty ones among them, and a part larger than a
// pipe or socket would take at once: the file holds them in order, and Size() counts them.
TEST(Env, AppendVWritesEveryPartInOrder) {
  test_util::TempDir dir;
  const std::string path = dir.path() + "/f";
  auto file = Env::Default()->NewAppendableFile(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE((*file)->Append("start:").ok());
  std::vector<std::string> owned;
  for (int i = 0; i < IOV_MAX + 300; ++i)
    owned.push_back(i % 7 == 0 ? "" : std::to_string(i) + ",");
  owned.push_back(std::string(3 << 20, 'x'));
  std::vector<std::string_view> parts(owned.begin(), owned.end());
  ASSERT_TRUE((*file)->AppendV(parts).ok());
  std::string want = "start:";
  for (const std::string& s : owned) want += s;
  EXPECT_EQ((*file)->Size(), want.size());
  ASSERT_TRUE((*file)->Close().ok());
  std::string got;
  ASSERT_TRUE(Env::Default()->ReadFile(path, &got).ok());
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace waggle
