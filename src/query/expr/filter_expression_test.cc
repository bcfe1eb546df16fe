#include "query/expr/filter_expression.h"

#include <gtest/gtest.h>

#include <map>

namespace waggle::query::filter {
namespace {

// Every example of spec/xray.md §6.3.
constexpr std::string_view kDocExamples[] = {
    R"(responsetime > 5)",
    R"(duration >= 5 AND duration <= 8)",
    R"(ok !partial duration <3)",
    R"(http.status != 200)",
    R"(http.url CONTAINS "/api/game/")",
    R"(user CONTAINS "")",
    R"(service("api.example.com") { fault })",
    R"(service("api.example.com") { fault = true OR responsetime > 2.5 } AND annotation.account = "12345")",
    R"(service() { fault })",
    R"(edge("api.example.com", "backend.example.com") { error })",
    R"(http.url BEGINSWITH "http://api.example.com/" AND http.url CONTAINS "/v2/" AND !service("api.example.com"))",
    R"(http.url AND responseTime > 2)",
    R"(annotation.gameid = "817DL6VO")",
    R"(annotation.age)",
    R"(!annotation.age)",
    R"(annotation.age > 29)",
    R"(group.name = "high_response_time" AND user = "alice")",
    R"(service(id(name: "random-name", type: "AWS::Lambda::Function")) { error })",
    R"(service(id(type: "AWS::Lambda::Function")) { error })",
    R"(service(id(account.id: "account-id")))",
    R"(service("data-plane") {root = true and fault = true})",
    R"(fault = true AND http.url CONTAINS "example/game" AND responsetime >= 5)",
    R"(service("backend-flask"))",
    R"(rootcause.fault.service { name = "Auth" })",
    R"(rootcause.responsetime.service { last and type = "AWS::DynamoDB" })",
    R"(rootcause.json = #[{ "Services": [ { "Name": "GetWeatherData", "EntityPath": [{ "Name": "GetWeatherData" }] } ] }])",
};

TEST(FilterParse, EveryDocumentedExampleParses) {
  for (std::string_view text : kDocExamples) {
    auto e = Parse(text);
    EXPECT_TRUE(e.ok()) << text << ": " << e.status().message();
  }
}

TEST(FilterParse, JuxtapositionIsAndAndPrecedenceIsNotAndOr) {
  auto e = Parse("ok !partial duration <3");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->kind, Expr::Kind::kAnd);
  ASSERT_EQ(e->children.size(), 3u);
  EXPECT_EQ(e->children[0].keyword, Keyword::kOk);
  EXPECT_EQ(e->children[1].kind, Expr::Kind::kNot);
  EXPECT_EQ(e->children[1].children[0].keyword, Keyword::kPartial);
  EXPECT_EQ(e->children[2].keyword, Keyword::kDuration);
  EXPECT_EQ(e->children[2].op, Op::kLt);
  EXPECT_EQ(e->children[2].value.number, 3);

  auto o = Parse("fault OR error AND throttle");
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->kind, Expr::Kind::kOr);
  EXPECT_EQ(o->children[0].keyword, Keyword::kFault);
  EXPECT_EQ(o->children[1].kind, Expr::Kind::kAnd);

  auto p = Parse("(fault OR error) and NOT throttle");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->kind, Expr::Kind::kAnd);
  EXPECT_EQ(p->children[0].kind, Expr::Kind::kOr);
  EXPECT_EQ(p->children[1].kind, Expr::Kind::kNot);
}

TEST(FilterParse, KeywordsAndOperatorsIgnoreCaseButValuesAndKeysDoNot) {
  auto e =
      Parse(R"(HTTP.URL contains "/API" And ResponseTime >= 1e-1 AND annotation.Game_Id = "X")");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->children[0].keyword, Keyword::kHttpUrl);
  EXPECT_EQ(e->children[0].op, Op::kContains);
  EXPECT_EQ(e->children[0].value.text, "/API");
  EXPECT_DOUBLE_EQ(e->children[1].value.number, 0.1);
  EXPECT_EQ(e->children[2].annotation_key, "Game_Id");
}

TEST(FilterParse, ServiceReferencesAndBraces) {
  auto e = Parse(R"(service(id(name: "fn", type: "AWS::Lambda::Function")) { error })");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, Expr::Kind::kService);
  EXPECT_EQ(e->service.name, "fn");
  EXPECT_EQ(e->service.type, "AWS::Lambda::Function");
  EXPECT_FALSE(e->service.account_id.has_value());
  ASSERT_EQ(e->children.size(), 1u);

  auto any = Parse("service()");
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(any->service.name.has_value());
  EXPECT_TRUE(any->children.empty());

  auto edge = Parse(R"(edge("a", id(name: "b")) { responsetime > 1 })");
  ASSERT_TRUE(edge.ok());
  EXPECT_EQ(edge->service.name, "a");
  EXPECT_EQ(edge->to.name, "b");
}

TEST(FilterParse, StringsUnescapeAndBareWordsAreStrings) {
  auto e = Parse(R"(http.url = "a\"b\\c")");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->value.text, "a\"b\\c");
  auto bare = Parse("rootcause.fault.entity { name = traces }");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->children[0].value.text, "traces");
  EXPECT_EQ(bare->children[0].value.type, ValueType::kString);
}

TEST(FilterParse, RootCauseJsonIsRead) {
  auto e = Parse(kDocExamples[25]);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->json_causes.size(), 1u);
  ASSERT_EQ(e->json_causes[0].size(), 1u);
  EXPECT_EQ(e->json_causes[0][0].name, "GetWeatherData");
  EXPECT_EQ(e->json_causes[0][0].entity_path, std::vector<std::string>{"GetWeatherData"});
}

// Each bad expression, with the position its error must name.
TEST(FilterParse, ErrorsNameThePosition) {
  const std::map<std::string_view, size_t> cases = {
      {"", 1},
      {"responsetime >", 15},
      {"responsetime > \"slow\"", 16},
      {"http.url > 5", 10},
      {"fault = 3", 7},
      {"fault > true", 7},
      {"service(\"a\" { fault }", 13},
      {"service(\"a\") { fault", 21},
      {"frobnicate", 1},
      {"ok AND", 7},
      {"ok OR OR fault", 7},
      {"(ok", 4},
      {"ok)", 3},
      {"http.url = \"abc", 12},
      {"fault && error", 7},
      {"duration > 5 $", 14},
      {"first", 1},
      {"root", 1},
      {"service(\"a\") { annotation.x = 1 }", 16},
      {"service(\"a\") { service(\"b\") }", 16},
      {"rootcause.fault.service { fault }", 27},
      {"rootcause.fault.bogus { name = \"x\" }", 1},
      {"rootcause.json = #[{\"Services\": 5}]", 19},
      {"rootcause.json = #[{", 18},
      {"group.name", 11},
      {"group.name CONTAINS \"x\"", 12},
      {"annotation.a-b = 1", 1},
      {"annotation.n CONTAINS 5", 14},
      {"edge(\"a\")", 9},
      {"service(id(name: \"a\", name: \"b\"))", 23},
      {"service(id(colour: \"a\"))", 12},
      {"12abc", 1},
      {"duration > 1e999", 12},
      {"service\xdf\xa3", 8},
  };
  for (const auto& [text, position] : cases) {
    auto e = Parse(text);
    ASSERT_FALSE(e.ok()) << "parsed: " << text;
    EXPECT_EQ(e.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(e.status().message().find("at position " + std::to_string(position) + ":"),
              std::string::npos)
        << text << " -> " << e.status().message();
  }
  // A character of several bytes is named whole (a byte of it alone is not UTF-8).
  auto foreign = Parse("service\xdf\xa3");
  EXPECT_NE(foreign.status().message().find("unexpected character '\xdf\xa3'"), std::string::npos)
      << foreign.status().message();
}

TEST(FilterParse, DeepNestingIsRefusedNotCrashed) {
  std::string deep(100000, '(');
  EXPECT_FALSE(Parse(deep).ok());
  std::string nots(100000, '!');
  nots += "ok";
  EXPECT_FALSE(Parse(nots).ok());
}

TEST(FilterCompile, GroupsAreReplacedByTheirExpressions) {
  GroupLookup lookup = [](Keyword by, std::string_view group) -> Result<std::string> {
    if (by == Keyword::kGroupName && group == "slow") return std::string("responsetime > 5");
    if (by == Keyword::kGroupArn && group == "arn:aws:xray:us-east-1:0:group/Default") {
      return std::string();
    }
    if (group == "nested") return std::string("group.name = \"slow\" AND fault");
    if (group == "loop") return std::string("group.name = \"loop\"");
    return Status::NotFound("no group");
  };
  auto e = Compile(R"(group.name = "nested" AND user = "alice")", lookup);
  ASSERT_TRUE(e.ok()) << e.status().message();
  const Expr& nested = e->children[0];
  ASSERT_EQ(nested.kind, Expr::Kind::kGroup);
  ASSERT_EQ(nested.children.size(), 1u);
  const Expr& slow = nested.children[0].children[0];
  ASSERT_EQ(slow.kind, Expr::Kind::kGroup);
  EXPECT_EQ(slow.children[0].keyword, Keyword::kResponseTime);

  auto all = Compile(R"(group.arn = "arn:aws:xray:us-east-1:0:group/Default")", lookup);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->children[0].kind, Expr::Kind::kAnd);
  EXPECT_TRUE(all->children[0].children.empty());

  auto missing = Compile(R"(ok AND group.name = "nope")", lookup);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("position 8"), std::string::npos);
  EXPECT_NE(missing.status().message().find("no group 'nope'"), std::string::npos);
  EXPECT_FALSE(Compile(R"(group.name = "loop")", lookup).ok());
}

}  // namespace
}  // namespace waggle::query::filter
