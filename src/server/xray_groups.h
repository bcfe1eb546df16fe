#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/mutex.h"
#include "base/result.h"
#include "query/expr/filter_expression.h"

namespace waggle::server {

// An X-Ray group: a named filter expression (spec/xray.md §5.5).
struct XRayGroup {
  std::string name;
  std::string arn;
  std::string filter_expression;  // empty: every trace
  bool insights_enabled = false;
  bool notifications_enabled = false;
};

// The groups of one data dir, kept in `xray-groups.json` there (written atomically on every
// change), plus the built-in group `Default`, which selects every trace and cannot be changed
// or deleted. Thread-safe.
class XRayGroups {
 public:
  // Reads the groups kept in `dir` (none when the file does not exist yet). Corruption for a
  // file that does not parse; Unimplemented for one of a newer format.
  static Result<std::unique_ptr<XRayGroups>> Open(Env* env, std::string dir, std::string region,
                                                  std::string account_id);

  // InvalidArgument for a bad name or filter; AlreadyExists for a name in use;
  // ResourceExhausted past kMaxGroups.
  Result<XRayGroup> Create(XRayGroup group);
  // By name or ARN (whichever is not empty). NotFound when there is no such group.
  Result<XRayGroup> Get(std::string_view name, std::string_view arn) const;
  // Every group, Default first, then by name.
  std::vector<XRayGroup> List() const;
  // Changes the filter and/or the insights settings (members left unset are kept).
  struct Update {
    std::optional<std::string> filter_expression;
    std::optional<bool> insights_enabled;
    std::optional<bool> notifications_enabled;
  };
  Result<XRayGroup> Change(std::string_view name, std::string_view arn, const Update& update);
  Status Delete(std::string_view name, std::string_view arn);

  // For filter expressions that name groups (query::filter::GroupLookup).
  query::filter::GroupLookup Lookup() const;
  // Whether the name (or, when it is empty, the ARN) is the built-in Default group's.
  bool IsDefault(std::string_view name, std::string_view arn) const;
  // A group's filter, compiled (every trace for Default or an empty filter).
  Result<query::filter::Expr> CompiledFilter(std::string_view name, std::string_view arn) const;

  static constexpr size_t kMaxGroups = 25;
  static constexpr size_t kMaxNameLength = 32;
  static constexpr size_t kMaxFilterLength = 2000;

 private:
  XRayGroups(Env* env, std::string dir, std::string region, std::string account_id);
  const XRayGroup* FindLocked(std::string_view name, std::string_view arn) const REQUIRES(mu_);
  // `pending`: a group about to change, looked up as it will be.
  Result<query::filter::Expr> CompileLocked(std::string_view filter, const XRayGroup* pending) const
      REQUIRES(mu_);
  Status SaveLocked() REQUIRES(mu_);
  // Saves; when that fails, puts `before` back.
  Status CommitLocked(std::map<std::string, XRayGroup, std::less<>> before) REQUIRES(mu_);
  XRayGroup DefaultGroup() const;

  Env* const env_;
  const std::string path_;
  const std::string region_;
  const std::string account_id_;
  mutable Mutex mu_;
  std::map<std::string, XRayGroup, std::less<>> groups_ GUARDED_BY(mu_);  // by name
};

}  // namespace waggle::server
