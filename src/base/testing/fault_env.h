#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/env.h"

namespace waggle::test_util {

// An Env over the real file system that can fail the way disks and kernels do, for tests:
// appends and atomic writes fail with a chosen error (ENOSPC, EIO) or are torn part way, and
// a simulated power cut drops every byte that was appended but not synced. Thread-safe.
class FaultEnv : public Env {
 public:
  explicit FaultEnv(Env* base = Env::Default()) : base_(base) {}

  // From now on, appends and atomic writes fail with `error` (Ok() heals the disk).
  void FailWrites(Status error) {
    std::lock_guard<std::mutex> l(mu_);
    error_ = std::move(error);
  }
  // From now on, syncs fail with `error` (Ok() heals the disk). Nothing they would have made
  // durable is: a power cut still drops it.
  void FailSyncs(Status error) {
    std::lock_guard<std::mutex> l(mu_);
    sync_error_ = std::move(error);
  }
  // The next append writes only its first `bytes` bytes and then fails with `error` (EIO by
  // default; ENOSPC is a full disk).
  void TearNextAppend(size_t bytes,
                      Status error = Status::IOError("write: Input/output error (torn)")) {
    std::lock_guard<std::mutex> l(mu_);
    tear_at_ = bytes;
    tear_error_ = std::move(error);
  }
  // A power cut: every appendable file loses what was appended after its last Sync(), and
  // every overwritten one gets back its old bytes past that.
  Status DropUnsyncedData() {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [path, synced] : synced_) {
      auto size = base_->FileSize(path);
      if (size.ok() && *size > synced) {
        Status s = base_->Truncate(path, synced);
        if (!s.ok()) return s;
      }
      auto old = overwritten_.find(path);
      if (old != overwritten_.end() && old->second.size() > synced) {
        auto f = base_->NewAppendableFile(path);
        if (!f.ok()) return f.status();
        Status s = (*f)->Append(std::string_view(old->second).substr(synced));
        if (!s.ok()) return s;
      }
    }
    return Status::Ok();
  }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    auto f = base_->NewAppendableFile(path);
    if (!f.ok()) return f.status();
    std::lock_guard<std::mutex> l(mu_);
    synced_.try_emplace(path, (*f)->Size());
    return std::unique_ptr<WritableFile>(new File(this, path, std::move(*f)));
  }
  Result<std::unique_ptr<WritableFile>> NewOverwritingFile(const std::string& path) override {
    std::string old;
    Status read = base_->ReadFile(path, &old);
    if (!read.ok()) return read;
    auto f = base_->NewOverwritingFile(path);
    if (!f.ok()) return f.status();
    std::lock_guard<std::mutex> l(mu_);
    synced_[path] = 0;
    overwritten_[path] = std::move(old);
    return std::unique_ptr<WritableFile>(new File(this, path, std::move(*f)));
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& p) override {
    return base_->NewRandomAccessFile(p);
  }
  Status ReadFile(const std::string& p, std::string* out) override {
    return base_->ReadFile(p, out);
  }
  Status WriteFileAtomic(const std::string& p, std::string_view data) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!error_.ok()) return error_;
    }
    return base_->WriteFileAtomic(p, data);
  }
  Result<std::vector<std::string>> ListDir(const std::string& d) override {
    return base_->ListDir(d);
  }
  Status CreateDirs(const std::string& d) override { return base_->CreateDirs(d); }
  Status SyncDir(const std::string& d) override { return base_->SyncDir(d); }
  Status RemoveFile(const std::string& p) override {
    std::lock_guard<std::mutex> l(mu_);
    synced_.erase(p);
    overwritten_.erase(p);
    return base_->RemoveFile(p);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = synced_.find(from);
    if (it != synced_.end()) {
      synced_[to] = it->second;
      synced_.erase(from);
    }
    overwritten_.erase(to);
    if (auto o = overwritten_.find(from); o != overwritten_.end()) {
      overwritten_[to] = std::move(o->second);
      overwritten_.erase(o);
    }
    return base_->RenameFile(from, to);
  }
  Status Truncate(const std::string& p, uint64_t size) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = synced_.find(p);
    if (it != synced_.end()) it->second = std::min(it->second, size);
    if (auto o = overwritten_.find(p); o != overwritten_.end() && o->second.size() > size) {
      o->second.resize(size);
    }
    return base_->Truncate(p, size);
  }
  Result<uint64_t> FileSize(const std::string& p) override { return base_->FileSize(p); }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    return base_->LockFile(p);
  }

 private:
  class File : public WritableFile {
   public:
    File(FaultEnv* env, std::string path, std::unique_ptr<WritableFile> f)
        : env_(env), path_(std::move(path)), f_(std::move(f)) {}
    Status Append(std::string_view data) override {
      size_t tear;
      Status tear_error;
      {
        std::lock_guard<std::mutex> l(env_->mu_);
        if (!env_->error_.ok()) return env_->error_;
        tear = env_->tear_at_;
        tear_error = env_->tear_error_;
        env_->tear_at_ = SIZE_MAX;
      }
      if (tear < data.size()) {
        (void)f_->Append(data.substr(0, tear));
        return tear_error;
      }
      return f_->Append(data);
    }
    Status Sync() override {
      {
        std::lock_guard<std::mutex> l(env_->mu_);
        if (!env_->sync_error_.ok()) return env_->sync_error_;
      }
      Status s = f_->Sync();
      if (s.ok()) {
        std::lock_guard<std::mutex> l(env_->mu_);
        env_->synced_[path_] = f_->Size();
      }
      return s;
    }
    Status Close() override { return f_->Close(); }
    uint64_t Size() const override { return f_->Size(); }

   private:
    FaultEnv* env_;
    std::string path_;
    std::unique_ptr<WritableFile> f_;
  };

  Env* base_;
  std::mutex mu_;
  Status error_;
  Status sync_error_;
  size_t tear_at_ = SIZE_MAX;
  Status tear_error_;
  std::map<std::string, uint64_t> synced_;  // bytes known durable per appendable file
  // An overwritten file's bytes when it was opened: a power cut brings back those past the
  // bytes known durable.
  std::map<std::string, std::string> overwritten_;
};

}  // namespace waggle::test_util
