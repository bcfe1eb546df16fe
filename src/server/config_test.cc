#include "server/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace waggle::server {
namespace {

TEST(ServerConfig, DefaultsAreValidAndLoopback) {
  ServerConfig c;
  EXPECT_TRUE(c.Validate().ok());
  EXPECT_EQ(c.xray_udp, "127.0.0.1:2000");
  EXPECT_EQ(c.xray_tcp, "127.0.0.1:2000");
  EXPECT_EQ(c.http, "127.0.0.1:8080");
  EXPECT_EQ(c.data_dir, "./waggle-data");
}

TEST(ServerConfig, RefusesNonLoopbackWithoutCredentials) {
  ServerConfig c;
  c.xray_udp = "0.0.0.0:2000";
  Status s = c.Validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("--xray-udp"), std::string::npos);
  c.aws_credentials.push_back({"AKID", "secret", "prod"});
  EXPECT_TRUE(c.Validate().ok());
}

TEST(ServerConfig, NamesTheBadSetting) {
  ServerConfig c;
  c.http = "nonsense";
  EXPECT_NE(c.Validate().message().find("http"), std::string::npos);
  c = ServerConfig{};
  c.log_level = "loud";
  EXPECT_NE(c.Validate().message().find("--log-level"), std::string::npos);
  c = ServerConfig{};
  c.account_id = "12";
  EXPECT_NE(c.Validate().message().find("--account-id"), std::string::npos);
  c = ServerConfig{};
  c.head_max_rows = 10;
  EXPECT_NE(c.Validate().message().find("--head-max-rows"), std::string::npos);
  c = ServerConfig{};
  c.block_reads = "direct";
  EXPECT_NE(c.Validate().message().find("--block-reads"), std::string::npos);
  c.block_reads = "pread";
  EXPECT_TRUE(c.Validate().ok());
}

TEST(ServerConfig, YamlThenEnvironmentOverride) {
  std::string path = std::filesystem::temp_directory_path() / "waggle-config-test.yaml";
  std::ofstream(path)
      << "data_dir: /tmp/w\nhead_max_rows: 5000\nblock_reads: pread\nxray:\n  udp: "
         "127.0.0.1:3000\n  tcp: "
         "127.0.0.1:3001\n"
         "aws_credentials:\n  - {access_key_id: AK, secret_access_key: SK, environment: prod}\n";
  ServerConfig c;
  ASSERT_TRUE(ApplyYamlFile(path, &c).ok());
  EXPECT_EQ(c.data_dir, "/tmp/w");
  EXPECT_EQ(c.head_max_rows, 5000u);
  EXPECT_EQ(c.block_reads, "pread");
  EXPECT_EQ(c.xray_udp, "127.0.0.1:3000");
  ASSERT_EQ(c.aws_credentials.size(), 1u);
  EXPECT_EQ(c.aws_credentials[0].environment, "prod");
  ::setenv("WAGGLE_XRAY_UDP", "127.0.0.1:4000", 1);
  ASSERT_TRUE(ApplyEnvironment(&c).ok());
  ::unsetenv("WAGGLE_XRAY_UDP");
  EXPECT_EQ(c.xray_udp, "127.0.0.1:4000");
  EXPECT_EQ(c.xray_tcp, "127.0.0.1:3001");

  std::ofstream(path) << "dat_dir: typo\n";
  Status s = ApplyYamlFile(path, &c);
  EXPECT_NE(s.message().find("dat_dir"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(ParseCredentialList, ReadsKeysAndEnvironments) {
  auto c = ParseCredentialList("A:S,B:T:prod");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].environment, "default");
  EXPECT_EQ((*c)[1].secret_access_key, "T");
  EXPECT_EQ((*c)[1].environment, "prod");
  EXPECT_FALSE(ParseCredentialList("nocolon").ok());
}

}  // namespace
}  // namespace waggle::server

namespace waggle::server {
namespace {

TEST(ServerConfig, AMissingConfigFileIsNamed) {
  ServerConfig c;
  Status s = ApplyYamlFile("/nonexistent/waggle.yaml", &c);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "--config /nonexistent/waggle.yaml: no such file");
}

}  // namespace
}  // namespace waggle::server
