#include "server/xray_groups.h"

#include <simdjson.h>

#include <random>

#include "base/mix.h"
#include "codec/json_writer.h"

namespace waggle::server {
namespace {

constexpr int kGroupsFormat = 1;

// AWS's group ARNs end in 52 characters of uppercase base32.
std::string RandomGroupId() {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::mt19937_64 rng(RandomSeed());
  std::string id(52, 'A');
  for (char& c : id) c = kAlphabet[rng() % kAlphabet.size()];
  return id;
}

// group.name = "G" names G by name, group.arn = "..." by ARN: the (name, arn) pair Get takes.
std::pair<std::string_view, std::string_view> KeyOf(query::filter::Keyword by,
                                                    std::string_view group) {
  if (by == query::filter::Keyword::kGroupName) return {group, {}};
  return {{}, group};
}

Status ValidateName(std::string_view name) {
  if (name.empty() || name.size() > XRayGroups::kMaxNameLength) {
    return Status::InvalidArgument("GroupName must be 1 to 32 characters long");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) {
      return Status::InvalidArgument(
          "GroupName may hold only letters, digits, dashes and underscores");
    }
  }
  return Status::Ok();
}

}  // namespace

XRayGroups::XRayGroups(Env* env, std::string dir, std::string region, std::string account_id)
    : env_(env),
      path_(std::move(dir) + "/xray-groups.json"),
      region_(std::move(region)),
      account_id_(std::move(account_id)) {}

Result<std::unique_ptr<XRayGroups>> XRayGroups::Open(Env* env, std::string dir, std::string region,
                                                     std::string account_id) {
  std::unique_ptr<XRayGroups> g(
      new XRayGroups(env, std::move(dir), std::move(region), std::move(account_id)));
  if (!env->FileExists(g->path_)) return g;
  std::string text;
  WAGGLE_RETURN_IF_ERROR(env->ReadFile(g->path_, &text));
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  int64_t format = 0;
  simdjson::dom::array groups;
  if (parser.parse(text).get(root) != simdjson::SUCCESS ||
      root["format"].get(format) != simdjson::SUCCESS ||
      root["groups"].get(groups) != simdjson::SUCCESS) {
    return Status::Corruption(g->path_ + " is damaged");
  }
  if (format > kGroupsFormat) {
    return Status::Unimplemented(g->path_ + " was written by a newer waggle (format " +
                                 std::to_string(format) + ")");
  }
  MutexLock lock(&g->mu_);
  for (simdjson::dom::element e : groups) {
    XRayGroup group;
    std::string_view name, arn, filter;
    if (e["name"].get(name) != simdjson::SUCCESS || e["arn"].get(arn) != simdjson::SUCCESS ||
        e["filter"].get(filter) != simdjson::SUCCESS ||
        e["insights"].get(group.insights_enabled) != simdjson::SUCCESS ||
        e["notifications"].get(group.notifications_enabled) != simdjson::SUCCESS) {
      return Status::Corruption(g->path_ + " is damaged: a group lacks a field");
    }
    group.name = std::string(name);
    group.arn = std::string(arn);
    group.filter_expression = std::string(filter);
    g->groups_[group.name] = std::move(group);
  }
  return g;
}

XRayGroup XRayGroups::DefaultGroup() const {
  XRayGroup d;
  d.name = "Default";
  d.arn = "arn:aws:xray:" + region_ + ":" + account_id_ + ":group/Default";
  return d;
}

const XRayGroup* XRayGroups::FindLocked(std::string_view name, std::string_view arn) const {
  if (!name.empty()) {
    auto it = groups_.find(name);
    return it == groups_.end() ? nullptr : &it->second;
  }
  for (const auto& [n, g] : groups_) {
    if (g.arn == arn) return &g;
  }
  return nullptr;
}

bool XRayGroups::IsDefault(std::string_view name, std::string_view arn) const {
  return name.empty() ? arn == DefaultGroup().arn : name == "Default";
}

Result<query::filter::Expr> XRayGroups::CompileLocked(std::string_view filter,
                                                      const XRayGroup* pending) const {
  if (filter.size() > kMaxFilterLength) {
    return Status::InvalidArgument("FilterExpression is longer than 2000 characters");
  }
  if (filter.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return query::filter::Expr{};  // an empty AND: every trace
  }
  // Called by Compile, with mu_ held.
  auto lookup = [this, pending](query::filter::Keyword by, std::string_view group)
                    NO_THREAD_SAFETY_ANALYSIS -> Result<std::string> {
    const auto [name, arn] = KeyOf(by, group);
    if (IsDefault(name, arn)) return std::string();
    // A group being changed is checked as it will be, so it cannot come to name itself.
    if (pending != nullptr && (name.empty() ? arn == pending->arn : name == pending->name)) {
      return pending->filter_expression;
    }
    const XRayGroup* g = FindLocked(name, arn);
    if (g == nullptr) return Status::NotFound("no such group");
    return g->filter_expression;
  };
  return query::filter::Compile(filter, lookup);
}

Status XRayGroups::CommitLocked(std::map<std::string, XRayGroup, std::less<>> before) {
  Status s = SaveLocked();
  if (!s.ok()) groups_ = std::move(before);
  return s;
}

Result<XRayGroup> XRayGroups::Create(XRayGroup group) {
  WAGGLE_RETURN_IF_ERROR(ValidateName(group.name));
  MutexLock lock(&mu_);
  if (IsDefault(group.name, "") || groups_.count(group.name)) {
    return Status::AlreadyExists("Group with name " + group.name + " already exists");
  }
  if (groups_.size() >= kMaxGroups) {
    return Status::ResourceExhausted("You have reached the maximum number of groups (" +
                                     std::to_string(kMaxGroups) + ")");
  }
  if (auto e = CompileLocked(group.filter_expression, nullptr); !e.ok()) return e.status();
  group.arn = "arn:aws:xray:" + region_ + ":" + account_id_ + ":group/" + group.name + "/" +
              RandomGroupId();
  auto before = groups_;
  groups_[group.name] = group;
  WAGGLE_RETURN_IF_ERROR(CommitLocked(std::move(before)));
  return group;
}

Result<XRayGroup> XRayGroups::Get(std::string_view name, std::string_view arn) const {
  if (IsDefault(name, arn)) return DefaultGroup();
  MutexLock lock(&mu_);
  const XRayGroup* g = FindLocked(name, arn);
  if (g == nullptr) return Status::NotFound("Group not found");
  return *g;
}

std::vector<XRayGroup> XRayGroups::List() const {
  std::vector<XRayGroup> out = {DefaultGroup()};
  MutexLock lock(&mu_);
  for (const auto& [name, g] : groups_) out.push_back(g);
  return out;
}

Result<XRayGroup> XRayGroups::Change(std::string_view name, std::string_view arn,
                                     const Update& update) {
  if (IsDefault(name, arn)) return Status::InvalidArgument("The Default group cannot be changed");
  MutexLock lock(&mu_);
  const XRayGroup* found = FindLocked(name, arn);
  if (found == nullptr) return Status::NotFound("Group not found");
  XRayGroup after = *found;
  if (update.filter_expression) after.filter_expression = *update.filter_expression;
  if (update.insights_enabled) after.insights_enabled = *update.insights_enabled;
  if (update.notifications_enabled) after.notifications_enabled = *update.notifications_enabled;
  if (auto e = CompileLocked(after.filter_expression, &after); !e.ok()) return e.status();
  auto before = groups_;
  groups_[after.name] = after;
  WAGGLE_RETURN_IF_ERROR(CommitLocked(std::move(before)));
  return after;
}

Status XRayGroups::Delete(std::string_view name, std::string_view arn) {
  if (IsDefault(name, arn)) return Status::InvalidArgument("The Default group cannot be deleted");
  MutexLock lock(&mu_);
  const XRayGroup* found = FindLocked(name, arn);
  if (found == nullptr) return Status::NotFound("Group not found");
  auto before = groups_;
  groups_.erase(std::string(found->name));  // a copy: found points into groups_
  return CommitLocked(std::move(before));
}

query::filter::GroupLookup XRayGroups::Lookup() const {
  return [this](query::filter::Keyword by, std::string_view group) -> Result<std::string> {
    const auto [name, arn] = KeyOf(by, group);
    WAGGLE_ASSIGN_OR_RETURN(XRayGroup g, Get(name, arn));
    return g.filter_expression;
  };
}

Result<query::filter::Expr> XRayGroups::CompiledFilter(std::string_view name,
                                                       std::string_view arn) const {
  WAGGLE_ASSIGN_OR_RETURN(XRayGroup g, Get(name, arn));
  MutexLock lock(&mu_);
  return CompileLocked(g.filter_expression, nullptr);
}

Status XRayGroups::SaveLocked() {
  rapidjson::StringBuffer buf;
  codec::JsonWriter w(buf);
  w.StartObject();
  codec::WriteKey(w, "format");
  w.Int(kGroupsFormat);
  codec::WriteKey(w, "groups");
  w.StartArray();
  for (const auto& [name, g] : groups_) {
    w.StartObject();
    codec::WriteKey(w, "name");
    codec::WriteString(w, g.name);
    codec::WriteKey(w, "arn");
    codec::WriteString(w, g.arn);
    codec::WriteKey(w, "filter");
    codec::WriteString(w, g.filter_expression);
    codec::WriteKey(w, "insights");
    w.Bool(g.insights_enabled);
    codec::WriteKey(w, "notifications");
    w.Bool(g.notifications_enabled);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return env_->WriteFileAtomic(path_, std::string_view(buf.GetString(), buf.GetSize()));
}

}  // namespace waggle::server
