#include "query/expr/filter_expression.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <set>

#include "base/ascii.h"
#include "base/utf8.h"
#include "query/trace_summary.h"

namespace waggle::query::filter {
namespace {

struct KeywordInfo {
  std::string_view name;
  Keyword keyword;
  ValueType type;
};

constexpr std::array<KeywordInfo, 29> kKeywords = {{
    {"ok", Keyword::kOk, ValueType::kBool},
    {"error", Keyword::kError, ValueType::kBool},
    {"throttle", Keyword::kThrottle, ValueType::kBool},
    {"fault", Keyword::kFault, ValueType::kBool},
    {"partial", Keyword::kPartial, ValueType::kBool},
    {"inferred", Keyword::kInferred, ValueType::kBool},
    {"first", Keyword::kFirst, ValueType::kBool},
    {"last", Keyword::kLast, ValueType::kBool},
    {"remote", Keyword::kRemote, ValueType::kBool},
    {"root", Keyword::kRoot, ValueType::kBool},
    {"responsetime", Keyword::kResponseTime, ValueType::kNumber},
    {"duration", Keyword::kDuration, ValueType::kNumber},
    {"http.status", Keyword::kHttpStatus, ValueType::kNumber},
    {"index", Keyword::kIndex, ValueType::kNumber},
    {"coverage", Keyword::kCoverage, ValueType::kNumber},
    {"http.url", Keyword::kHttpUrl, ValueType::kString},
    {"http.method", Keyword::kHttpMethod, ValueType::kString},
    {"http.useragent", Keyword::kHttpUserAgent, ValueType::kString},
    {"http.clientip", Keyword::kHttpClientIp, ValueType::kString},
    {"user", Keyword::kUser, ValueType::kString},
    {"name", Keyword::kName, ValueType::kString},
    {"type", Keyword::kType, ValueType::kString},
    {"message", Keyword::kMessage, ValueType::kString},
    {"availabilityzone", Keyword::kAvailabilityZone, ValueType::kString},
    {"instance.id", Keyword::kInstanceId, ValueType::kString},
    {"resource.arn", Keyword::kResourceArn, ValueType::kString},
    {"annotation", Keyword::kAnnotation, ValueType::kString},
    {"group.name", Keyword::kGroupName, ValueType::kString},
    {"group.arn", Keyword::kGroupArn, ValueType::kString},
}};

const KeywordInfo& Info(Keyword k) { return kKeywords[static_cast<size_t>(k)]; }

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// ---- Tokens ----

enum class Tok : uint8_t {
  kEnd,
  kWord,    // keywords, AND/OR/NOT, operator words, bare values: letters, digits, _ . -
  kString,  // "..." (text unescaped)
  kNumber,
  kJson,  // #[ ... ] (text is the JSON array, brackets included)
  kLParen,
  kRParen,
  kLBrace,
  kRBrace,
  kComma,
  kColon,
  kBang,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t position = 0;  // 1-based
  std::string text;     // kWord, kString, kNumber, kJson; the symbol otherwise
  double number = 0;
};

bool IsWordStart(char c) { return IsAsciiAlpha(c) || c == '_'; }
bool IsWordChar(char c) { return IsAsciiAlnum(c) || c == '_' || c == '.' || c == '-'; }

Status ErrorAt(size_t position, std::string_view what) {
  return Status::InvalidArgument("Invalid filter expression at position " +
                                 std::to_string(position) + ": " + std::string(what));
}

Result<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (true) {
    while (i < s.size() && IsAsciiSpace(s[i])) ++i;
    Token t;
    t.position = i + 1;
    if (i == s.size()) {
      out.push_back(std::move(t));
      return out;
    }
    const char c = s[i];
    auto symbol = [&](Tok kind, size_t len) {
      t.kind = kind;
      t.text = std::string(s.substr(i, len));
      i += len;
    };
    const char next = i + 1 < s.size() ? s[i + 1] : '\0';
    if (c == '"') {
      t.kind = Tok::kString;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          t.text.push_back(s[i + 1]);
          i += 2;
        } else if (s[i] == '"') {
          ++i;
          closed = true;
          break;
        } else {
          t.text.push_back(s[i++]);
        }
      }
      if (!closed) return ErrorAt(t.position, "the string that starts here has no closing quote");
    } else if (IsAsciiDigit(c) || (c == '-' && IsAsciiDigit(next))) {
      size_t j = i + 1;
      while (j < s.size() && IsAsciiDigit(s[j])) ++j;
      if (j + 1 < s.size() && s[j] == '.' && IsAsciiDigit(s[j + 1])) {
        j += 2;
        while (j < s.size() && IsAsciiDigit(s[j])) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && IsAsciiDigit(s[k])) {
          j = k;
          while (j < s.size() && IsAsciiDigit(s[j])) ++j;
        }
      }
      if (j < s.size() && IsWordStart(s[j])) {
        return ErrorAt(t.position, "a number runs into letters");
      }
      t.kind = Tok::kNumber;
      t.text = std::string(s.substr(i, j - i));
      auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), t.number);
      if (ec != std::errc() || !std::isfinite(t.number)) {
        return ErrorAt(t.position, "number " + t.text + " is out of range");
      }
      i = j;
    } else if (IsWordStart(c)) {
      size_t j = i;
      while (j < s.size() && IsWordChar(s[j])) ++j;
      t.kind = Tok::kWord;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (c == '#' && next == '[') {
      // JSON text up to the matching bracket, skipping over strings.
      size_t j = i + 1;
      int depth = 0;
      bool in_string = false;
      for (; j < s.size(); ++j) {
        const char d = s[j];
        if (in_string) {
          if (d == '\\') {
            ++j;
          } else if (d == '"') {
            in_string = false;
          }
        } else if (d == '"') {
          in_string = true;
        } else if (d == '[' || d == '{') {
          ++depth;
        } else if (d == ']' || d == '}') {
          if (--depth == 0) break;
        }
      }
      if (j >= s.size()) return ErrorAt(t.position, "the #[ that starts here is never closed");
      t.kind = Tok::kJson;
      t.text = std::string(s.substr(i + 1, j - i));
      i = j + 1;
    } else if (c == '!' && next == '=') {
      symbol(Tok::kNe, 2);
    } else if (c == '<' && next == '=') {
      symbol(Tok::kLe, 2);
    } else if (c == '>' && next == '=') {
      symbol(Tok::kGe, 2);
    } else if (c == '&' || c == '|') {
      return ErrorAt(t.position, "use AND and OR rather than " + Quote(s.substr(i, 1)));
    } else {
      static constexpr std::string_view kSymbols = "(){},:!=<>";
      static constexpr std::array<Tok, 10> kKinds = {
          Tok::kLParen, Tok::kRParen, Tok::kLBrace, Tok::kRBrace, Tok::kComma,
          Tok::kColon,  Tok::kBang,   Tok::kEq,     Tok::kLt,     Tok::kGt};
      size_t at = kSymbols.find(c);
      if (at == std::string_view::npos) {
        // The whole character, when it is one of several bytes (a byte alone when not UTF-8).
        const size_t n = std::max<size_t>(1, Utf8SequenceAt(s, i));
        return ErrorAt(t.position, "unexpected character " + Quote(s.substr(i, n)));
      }
      symbol(kKinds[at], 1);
    }
    out.push_back(std::move(t));
  }
}

// ---- Parser ----

// Where an expression sits: keywords mean different things (or nothing) in each.
enum class Scope : uint8_t { kTrace, kService, kEdge, kRootCause };

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<Expr> ParseAll() {
    if (Peek().kind == Tok::kEnd) return ErrorAt(1, "the expression is empty");
    WAGGLE_ASSIGN_OR_RETURN(Expr e, ParseOr(Scope::kTrace, RootCauseLevel::kService));
    if (Peek().kind != Tok::kEnd) return Unexpected("AND, OR or the end");
    return e;
  }

  // One service(...), edge(...) or id(...) (the service it names), without braces.
  Result<Expr> ParseSelectorAll() {
    const Token& t = Peek();
    Expr e;
    if (IsWord(t, "id")) {
      e.kind = Expr::Kind::kService;
      e.position = t.position;
      WAGGLE_ASSIGN_OR_RETURN(e.service, ParseServiceRef(true));
    } else if (IsWord(t, "service") || IsWord(t, "edge")) {
      WAGGLE_ASSIGN_OR_RETURN(e, ParseServiceOrEdge(Scope::kTrace, IsWord(t, "edge")));
      if (!e.children.empty()) {
        return ErrorAt(e.children[0].position, "an entity selector takes no braces");
      }
    } else {
      return Unexpected("service(...), edge(...) or id(...)");
    }
    if (Peek().kind != Tok::kEnd) return Unexpected("the end of the selector");
    return e;
  }

 private:
  // Nesting deeper than this is refused rather than risk the stack.
  static constexpr int kMaxDepth = 64;

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool IsWord(const Token& t, std::string_view lower) const {
    return t.kind == Tok::kWord && EqualsIgnoreCase(t.text, lower);
  }
  Status Unexpected(std::string_view expected) const {
    const Token& t = Peek();
    std::string found = t.kind == Tok::kEnd      ? "the end of the expression"
                        : t.kind == Tok::kString ? "\"" + t.text + "\""
                                                 : Quote(t.text);
    return ErrorAt(t.position, "expected " + std::string(expected) + ", found " + found);
  }
  Status Expect(Tok kind, std::string_view what) {
    if (Peek().kind != kind) return Unexpected(what);
    Next();
    return Status::Ok();
  }

  // Whether the next token can begin an operand (so juxtaposition means AND).
  bool StartsOperand() const {
    const Token& t = Peek();
    if (t.kind == Tok::kBang || t.kind == Tok::kLParen) return true;
    return t.kind == Tok::kWord && !IsWord(t, "and") && !IsWord(t, "or");
  }

  Result<Expr> ParseOr(Scope scope, RootCauseLevel level) {
    if (++depth_ > kMaxDepth) return ErrorAt(Peek().position, "the expression nests too deeply");
    WAGGLE_ASSIGN_OR_RETURN(Expr first, ParseAnd(scope, level));
    Expr out;
    out.kind = Expr::Kind::kOr;
    out.position = first.position;
    out.children.push_back(std::move(first));
    while (IsWord(Peek(), "or")) {
      Next();
      WAGGLE_ASSIGN_OR_RETURN(Expr e, ParseAnd(scope, level));
      out.children.push_back(std::move(e));
    }
    --depth_;
    if (out.children.size() == 1) return std::move(out.children[0]);
    return out;
  }

  Result<Expr> ParseAnd(Scope scope, RootCauseLevel level) {
    WAGGLE_ASSIGN_OR_RETURN(Expr first, ParseUnary(scope, level));
    Expr out;
    out.kind = Expr::Kind::kAnd;
    out.position = first.position;
    out.children.push_back(std::move(first));
    while (true) {
      if (IsWord(Peek(), "and")) {
        Next();
      } else if (!StartsOperand()) {
        break;
      }
      WAGGLE_ASSIGN_OR_RETURN(Expr e, ParseUnary(scope, level));
      out.children.push_back(std::move(e));
    }
    if (out.children.size() == 1) return std::move(out.children[0]);
    return out;
  }

  Result<Expr> ParseUnary(Scope scope, RootCauseLevel level) {
    const Token& t = Peek();
    if (t.kind == Tok::kBang || IsWord(t, "not")) {
      if (++depth_ > kMaxDepth) return ErrorAt(t.position, "the expression nests too deeply");
      Expr out;
      out.kind = Expr::Kind::kNot;
      out.position = t.position;
      Next();
      WAGGLE_ASSIGN_OR_RETURN(Expr e, ParseUnary(scope, level));
      out.children.push_back(std::move(e));
      --depth_;
      return out;
    }
    return ParsePrimary(scope, level);
  }

  Result<Expr> ParsePrimary(Scope scope, RootCauseLevel level) {
    const Token& t = Peek();
    if (t.kind == Tok::kLParen) {
      Next();
      WAGGLE_ASSIGN_OR_RETURN(Expr e, ParseOr(scope, level));
      WAGGLE_RETURN_IF_ERROR(Expect(Tok::kRParen, "')'"));
      return e;
    }
    if (t.kind != Tok::kWord) return Unexpected("a keyword, service(), edge(), '!' or '('");
    const std::string word = AsciiLower(t.text);
    if (word == "service" || word == "edge") return ParseServiceOrEdge(scope, word == "edge");
    if (word.starts_with("rootcause.")) return ParseRootCause(scope);
    return ParseComparison(scope, level);
  }

  Result<Expr> ParseServiceOrEdge(Scope scope, bool edge) {
    const Token& start = Next();
    Expr out;
    out.kind = edge ? Expr::Kind::kEdge : Expr::Kind::kService;
    out.position = start.position;
    const std::string fn = edge ? "edge()" : "service()";
    if (scope != Scope::kTrace) {
      return ErrorAt(start.position, fn + " cannot be used inside braces");
    }
    WAGGLE_RETURN_IF_ERROR(Expect(Tok::kLParen, "'(' after " + AsciiLower(start.text)));
    if (edge) {
      WAGGLE_ASSIGN_OR_RETURN(out.service, ParseServiceRef(true));
      WAGGLE_RETURN_IF_ERROR(Expect(Tok::kComma, "',' between the two services of edge()"));
      WAGGLE_ASSIGN_OR_RETURN(out.to, ParseServiceRef(true));
    } else if (Peek().kind != Tok::kRParen) {
      WAGGLE_ASSIGN_OR_RETURN(out.service, ParseServiceRef(false));
    }
    WAGGLE_RETURN_IF_ERROR(Expect(Tok::kRParen, "')'"));
    if (Peek().kind == Tok::kLBrace) {
      Next();
      if (Peek().kind == Tok::kRBrace) return Unexpected("a condition inside the braces");
      WAGGLE_ASSIGN_OR_RETURN(
          Expr inner, ParseOr(edge ? Scope::kEdge : Scope::kService, RootCauseLevel::kService));
      WAGGLE_RETURN_IF_ERROR(Expect(Tok::kRBrace, "'}'"));
      out.children.push_back(std::move(inner));
    }
    return out;
  }

  Result<ServiceRef> ParseServiceRef(bool required) {
    ServiceRef ref;
    const Token& t = Peek();
    if (t.kind == Tok::kString) {
      ref.name = Next().text;
      return ref;
    }
    if (!IsWord(t, "id")) {
      return Unexpected(required ? "a quoted service name or id(...)"
                                 : "a quoted service name, id(...) or ')'");
    }
    Next();
    WAGGLE_RETURN_IF_ERROR(Expect(Tok::kLParen, "'(' after id"));
    while (true) {
      const Token& key = Peek();
      std::optional<std::string>* slot = IsWord(key, "name")         ? &ref.name
                                         : IsWord(key, "type")       ? &ref.type
                                         : IsWord(key, "account.id") ? &ref.account_id
                                                                     : nullptr;
      if (slot == nullptr) return Unexpected("name, type or account.id");
      if (slot->has_value()) return ErrorAt(key.position, AsciiLower(key.text) + " is given twice");
      Next();
      WAGGLE_RETURN_IF_ERROR(Expect(Tok::kColon, "':'"));
      if (Peek().kind != Tok::kString) return Unexpected("a quoted string");
      *slot = Next().text;
      if (Peek().kind != Tok::kComma) break;
      Next();
    }
    WAGGLE_RETURN_IF_ERROR(Expect(Tok::kRParen, "')' closing id("));
    return ref;
  }

  Result<Expr> ParseRootCause(Scope scope) {
    const Token& start = Next();
    Expr out;
    out.position = start.position;
    if (scope != Scope::kTrace) {
      return ErrorAt(start.position, "rootcause cannot be used inside braces");
    }
    const std::string word = AsciiLower(start.text);
    if (word == "rootcause.json") {
      out.kind = Expr::Kind::kRootCauseJson;
      WAGGLE_RETURN_IF_ERROR(Expect(Tok::kEq, "'=' after rootcause.json"));
      if (Peek().kind != Tok::kJson) return Unexpected("#[ ... ] holding JSON");
      const Token& json = Next();
      WAGGLE_RETURN_IF_ERROR(ParseRootCauseJson(json, &out));
      return out;
    }
    // rootcause.<fault|error|responsetime>.<service|entity|exception>
    std::string_view rest = std::string_view(word).substr(10);
    const size_t dot = rest.find('.');
    std::string_view kind = rest.substr(0, dot);
    std::string_view level = dot == std::string_view::npos ? "" : rest.substr(dot + 1);
    if (kind == "fault") {
      out.cause_kind = RootCauseKind::kFault;
    } else if (kind == "error") {
      out.cause_kind = RootCauseKind::kError;
    } else if (kind == "responsetime") {
      out.cause_kind = RootCauseKind::kResponseTime;
    } else {
      return ErrorAt(start.position,
                     "expected rootcause.fault, rootcause.error, rootcause.responsetime or "
                     "rootcause.json, found " +
                         Quote(start.text));
    }
    if (level == "service") {
      out.cause_level = RootCauseLevel::kService;
    } else if (level == "entity") {
      out.cause_level = RootCauseLevel::kEntity;
    } else if (level == "exception") {
      out.cause_level = RootCauseLevel::kException;
    } else {
      return ErrorAt(start.position, "expected .service, .entity or .exception after rootcause." +
                                         std::string(kind) + ", found " + Quote(start.text));
    }
    out.kind = Expr::Kind::kRootCause;
    WAGGLE_RETURN_IF_ERROR(Expect(Tok::kLBrace, "'{' after " + word));
    if (Peek().kind == Tok::kRBrace) return Unexpected("a condition inside the braces");
    WAGGLE_ASSIGN_OR_RETURN(Expr inner, ParseOr(Scope::kRootCause, out.cause_level));
    WAGGLE_RETURN_IF_ERROR(Expect(Tok::kRBrace, "'}'"));
    out.children.push_back(std::move(inner));
    return out;
  }

  Status ParseRootCauseJson(const Token& json, Expr* out) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    auto bad = [&](std::string_view why) {
      return ErrorAt(json.position + 1, "the root cause JSON " + std::string(why));
    };
    if (parser.parse(json.text).get(root) != simdjson::SUCCESS) return bad("does not parse");
    simdjson::dom::array causes;
    if (root.get(causes) != simdjson::SUCCESS) return bad("must be a list");
    for (simdjson::dom::element cause : causes) {
      simdjson::dom::array services;
      if (cause["Services"].get(services) != simdjson::SUCCESS) {
        return bad("must hold objects with a Services list");
      }
      std::vector<Expr::JsonService> parsed;
      for (simdjson::dom::element s : services) {
        Expr::JsonService js;
        std::string_view name;
        if (s["Name"].get(name) != simdjson::SUCCESS) return bad("needs a Name for each service");
        js.name = std::string(name);
        simdjson::dom::array path;
        if (s["EntityPath"].get(path) == simdjson::SUCCESS) {
          for (simdjson::dom::element e : path) {
            std::string_view entity;
            if (e["Name"].get(entity) != simdjson::SUCCESS) {
              return bad("needs a Name for each entity of an EntityPath");
            }
            js.entity_path.emplace_back(entity);
          }
        }
        parsed.push_back(std::move(js));
      }
      out->json_causes.push_back(std::move(parsed));
    }
    return Status::Ok();
  }

  // Which scopes a keyword means something in; an error naming them otherwise.
  Status CheckScope(const Token& t, Keyword k, Scope scope, RootCauseLevel level) const {
    const std::string name(KeywordName(k));
    switch (k) {
      case Keyword::kRoot:
        if (scope != Scope::kService) {
          return ErrorAt(t.position, "root can only be used inside service() { }");
        }
        return Status::Ok();
      case Keyword::kFirst:
      case Keyword::kLast:
      case Keyword::kIndex:
        if (scope != Scope::kRootCause || level == RootCauseLevel::kException) {
          return ErrorAt(t.position, name +
                                         " can only be used inside rootcause.*.service { } or "
                                         "rootcause.*.entity { }");
        }
        return Status::Ok();
      case Keyword::kRemote:
      case Keyword::kCoverage:
        if (scope != Scope::kRootCause || level != RootCauseLevel::kEntity) {
          return ErrorAt(t.position, name + " can only be used inside rootcause.*.entity { }");
        }
        return Status::Ok();
      case Keyword::kMessage:
        if (scope != Scope::kRootCause || level != RootCauseLevel::kException) {
          return ErrorAt(t.position, "message can only be used inside rootcause.*.exception { }");
        }
        return Status::Ok();
      case Keyword::kName:
      case Keyword::kType:
        if (scope == Scope::kTrace) {
          return ErrorAt(t.position,
                         name + " can only be used inside service() { } or rootcause braces");
        }
        if (k == Keyword::kType && scope == Scope::kRootCause &&
            level != RootCauseLevel::kService) {
          return ErrorAt(t.position, "type can only be used inside rootcause.*.service { }");
        }
        return Status::Ok();
      case Keyword::kAnnotation:
      case Keyword::kGroupName:
      case Keyword::kGroupArn:
        if (scope != Scope::kTrace) {
          return ErrorAt(t.position, name + " cannot be used inside braces");
        }
        return Status::Ok();
      default:
        if (scope == Scope::kRootCause) {
          return ErrorAt(t.position, name + " cannot be used inside rootcause braces");
        }
        return Status::Ok();
    }
  }

  Result<Expr> ParseComparison(Scope scope, RootCauseLevel level) {
    const Token& t = Next();
    const std::string word = AsciiLower(t.text);
    Expr out;
    out.kind = Expr::Kind::kCompare;
    out.position = t.position;
    const KeywordInfo* info = nullptr;
    for (const KeywordInfo& k : kKeywords) {
      if (k.name == word) info = &k;
    }
    if (word.starts_with("annotation.") && word.size() > 11) {
      info = &Info(Keyword::kAnnotation);
      out.annotation_key = t.text.substr(11);
      for (char c : out.annotation_key) {
        if (!IsAsciiAlnum(c) && c != '_') {
          return ErrorAt(t.position, "annotation keys hold only letters, digits and '_'");
        }
      }
    } else if (word == "annotation") {
      info = nullptr;
    }
    if (info == nullptr) return ErrorAt(t.position, "unknown keyword " + Quote(t.text));
    out.keyword = info->keyword;
    WAGGLE_RETURN_IF_ERROR(CheckScope(t, out.keyword, scope, level));

    // The operator, if any.
    const Token& op_token = Peek();
    switch (op_token.kind) {
      case Tok::kEq:
        out.op = Op::kEq;
        break;
      case Tok::kNe:
        out.op = Op::kNe;
        break;
      case Tok::kLt:
        out.op = Op::kLt;
        break;
      case Tok::kLe:
        out.op = Op::kLe;
        break;
      case Tok::kGt:
        out.op = Op::kGt;
        break;
      case Tok::kGe:
        out.op = Op::kGe;
        break;
      default:
        out.op = IsWord(op_token, "contains")     ? Op::kContains
                 : IsWord(op_token, "beginswith") ? Op::kBeginsWith
                 : IsWord(op_token, "endswith")   ? Op::kEndsWith
                                                  : Op::kIsTrue;
    }
    const bool is_group = out.keyword == Keyword::kGroupName || out.keyword == Keyword::kGroupArn;
    if (out.op == Op::kIsTrue) {
      if (is_group) return Unexpected("'=' after " + word);
      return out;
    }
    Next();

    // The value.
    const Token& v = Peek();
    switch (v.kind) {
      case Tok::kString:
        out.value.type = ValueType::kString;
        out.value.text = v.text;
        break;
      case Tok::kNumber:
        out.value.type = ValueType::kNumber;
        out.value.number = v.number;
        out.value.text = v.text;
        break;
      case Tok::kWord:
        if (IsWord(v, "true") || IsWord(v, "false")) {
          out.value.type = ValueType::kBool;
          out.value.boolean = IsWord(v, "true");
        } else if (IsWord(v, "and") || IsWord(v, "or")) {
          return Unexpected("a value after " + Quote(op_token.text));
        } else {
          out.value.type = ValueType::kString;  // a bare word: `name = traces`
        }
        out.value.text = v.text;
        break;
      default:
        return Unexpected("a value after " + Quote(op_token.text));
    }
    Next();
    if (!CheckTypes(out, op_token, v)) return TypeError(out, op_token, v);
    return out;
  }

  // Whether the operator and the value suit the keyword.
  static bool CheckTypes(Expr& e, const Token& op, const Token& v) {
    const bool numeric_op =
        e.op == Op::kLt || e.op == Op::kLe || e.op == Op::kGt || e.op == Op::kGe;
    const bool string_op =
        e.op == Op::kContains || e.op == Op::kBeginsWith || e.op == Op::kEndsWith;
    const bool equality = e.op == Op::kEq || e.op == Op::kNe;
    ValueType type = Info(e.keyword).type;
    if (e.keyword == Keyword::kAnnotation) type = e.value.type;
    switch (type) {
      case ValueType::kBool:
        return equality && e.value.type == ValueType::kBool;
      case ValueType::kNumber:
        return (equality || numeric_op) && e.value.type == ValueType::kNumber;
      case ValueType::kString:
        if (e.keyword == Keyword::kGroupName || e.keyword == Keyword::kGroupArn) {
          e.group = e.value.text;
          e.kind = Expr::Kind::kGroup;
          return e.op == Op::kEq && e.value.type == ValueType::kString;
        }
        if (!equality && !string_op) return false;
        // A number or true/false compared with a string keyword is taken as its text.
        e.value.type = ValueType::kString;
        return true;
    }
    return false;
  }

  static Status TypeError(const Expr& e, const Token& op, const Token& v) {
    std::string what(e.keyword == Keyword::kAnnotation ? "annotation." + e.annotation_key
                                                       : std::string(KeywordName(e.keyword)));
    switch (Info(e.keyword).type) {
      case ValueType::kBool:
        return ErrorAt(op.position, what +
                                        " is true or false: use it alone, with '!', or with "
                                        "= or != and true or false");
      case ValueType::kNumber:
        return ErrorAt(v.position, what +
                                       " is a number: compare it with = != < <= > >= and a "
                                       "number");
      case ValueType::kString:
        if (e.keyword == Keyword::kGroupName || e.keyword == Keyword::kGroupArn) {
          return ErrorAt(op.position, what + " takes = and a quoted string");
        }
        if (e.keyword == Keyword::kAnnotation) {
          return ErrorAt(op.position, "annotation." + e.annotation_key + " " + op.text +
                                          " needs a " +
                                          (op.kind == Tok::kWord ? "string" : "number"));
        }
        return ErrorAt(op.position, what +
                                        " is a string: compare it with = != CONTAINS "
                                        "BEGINSWITH ENDSWITH and a quoted string");
    }
    return ErrorAt(op.position, "bad comparison");
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

constexpr int kMaxGroupNesting = 8;

Status Resolve(Expr* e, const GroupLookup& lookup, std::set<std::string>* open, int depth) {
  if (e->kind == Expr::Kind::kGroup) {
    if (!lookup) return ErrorAt(e->position, "groups cannot be named here");
    if (depth >= kMaxGroupNesting || open->count(e->group)) {
      return ErrorAt(e->position, "group " + Quote(e->group) +
                                      " names itself, or groups nest "
                                      "too deeply");
    }
    auto text = lookup(e->keyword, e->group);
    if (!text.ok()) {
      return ErrorAt(e->position, "there is no group " + Quote(e->group));
    }
    Expr inner;
    inner.kind = Expr::Kind::kAnd;  // no children: true
    inner.position = e->position;
    if (text->find_first_not_of(" \t\r\n") != std::string::npos) {
      auto parsed = Parse(*text);
      if (!parsed.ok()) {
        return ErrorAt(e->position, "the filter of group " + Quote(e->group) +
                                        " does not parse: " + parsed.status().message());
      }
      inner = std::move(*parsed);
    }
    open->insert(e->group);
    Status s = Resolve(&inner, lookup, open, depth + 1);
    open->erase(e->group);
    if (!s.ok()) return s;
    e->children.clear();
    e->children.push_back(std::move(inner));
    return Status::Ok();
  }
  for (Expr& c : e->children) WAGGLE_RETURN_IF_ERROR(Resolve(&c, lookup, open, depth));
  return Status::Ok();
}

}  // namespace

ValueType TypeOf(Keyword k) { return Info(k).type; }
std::string_view KeywordName(Keyword k) { return Info(k).name; }

std::string_view AttributeKeyOf(Keyword k) {
  switch (k) {
    case Keyword::kUser:
      return kUserKey;
    case Keyword::kAvailabilityZone:
      return kAvailabilityZoneKey;
    case Keyword::kInstanceId:
      return kInstanceIdKey;
    case Keyword::kResourceArn:
      return kResourceArnKey;
    default:
      return {};
  }
}

Result<Expr> Parse(std::string_view text) {
  WAGGLE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  return Parser(std::move(tokens)).ParseAll();
}

Result<Expr> ParseSelector(std::string_view text) {
  WAGGLE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  return Parser(std::move(tokens)).ParseSelectorAll();
}

Status ResolveGroups(Expr* expr, const GroupLookup& lookup) {
  std::set<std::string> open;
  return Resolve(expr, lookup, &open, 0);
}

Result<Expr> Compile(std::string_view text, const GroupLookup& lookup) {
  WAGGLE_ASSIGN_OR_RETURN(Expr e, Parse(text));
  WAGGLE_RETURN_IF_ERROR(ResolveGroups(&e, lookup));
  return e;
}

}  // namespace waggle::query::filter
