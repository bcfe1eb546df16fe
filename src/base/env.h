#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"

// The file-system seam (in the style of leveldb's Env): storage code reaches files only
// through it, so tests can inject faults (dropped unsynced data, torn writes, ENOSPC, EIO).
namespace waggle {

// An append-only file. Thread-compatible: one writer at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Appends `parts` one after another, as Append of their concatenation does, without
  // concatenating them first where the file can (writev). The default joins them and calls
  // Append once, so that a file that fails or tears writes sees one write, as it would then.
  virtual Status AppendV(std::span<const std::string_view> parts);
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file, including what this handle appended.
  virtual uint64_t Size() const = 0;
};

// Positional reads. Thread-safe.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset` into `out` (resized to what was read).
  virtual Status Read(uint64_t offset, size_t n, std::string* out) const = 0;
  // The same bytes as a view: into the file's memory mapping when it has one (nothing copied;
  // valid while the file is open), else into `scratch` as Read() reads them.
  virtual Status View(uint64_t offset, size_t n, std::string* scratch, std::string_view* out) const;
  // Whether View() points into a mapping of the file.
  virtual bool mapped() const { return false; }
  // Takes the mapping's pages out of the process's resident set (they stay in the page cache
  // and map in again on the next touch; views stay valid). Nothing for a file not mapped.
  virtual void DropResidentPages() const {}
};

// An exclusive lock on a data directory, released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// Implementations are thread-safe.
class Env {
 public:
  virtual ~Env() = default;
  // Opens `path` for appending, creating it if missing.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  // Opens the existing file `path` for writing from its start, keeping its blocks: appends
  // overwrite its old bytes in order, and the old bytes past them stay. Size() counts the
  // bytes appended through this handle. Overwriting allocated blocks costs the file system
  // less than allocating new ones (the WAL reuses segment files this way).
  virtual Result<std::unique_ptr<WritableFile>> NewOverwritingFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  // Opens a file that is never written again for reading through a read-only memory mapping
  // as well: View() then copies nothing, and Read() still reads with pread. The file must not
  // shrink while it is open, and its pages must stay readable: touching a page past a new end, or
  // one the disk fails to read, raises SIGBUS. Envs without mappings (the default) open it as
  // NewRandomAccessFile does.
  virtual Result<std::unique_ptr<RandomAccessFile>> NewMappedFile(const std::string& path);
  virtual Status ReadFile(const std::string& path, std::string* out) = 0;
  // Writes `data` to `path` atomically (temp file, fsync, rename, fsync of the directory).
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual Status CreateDirs(const std::string& dir) = 0;
  // Makes the directory's entries (files created or renamed in it) durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Renames `from` to `to` in the same directory, replacing `to` (not made durable: SyncDir).
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  // Fails with Unavailable when another process holds the lock.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // The real file system.
  static Env* Default();
};

}  // namespace waggle
