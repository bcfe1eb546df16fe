#include "base/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <filesystem>

namespace waggle {
namespace {

class PosixWritableFile : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Status AppendV(std::span<const std::string_view> parts) override {
    // The WAL's group of records (a header, then a request as it came) goes out in one
    // writev, where copying each request into one buffer first cost a copy of every byte.
    thread_local std::vector<iovec> iov;
    iov.clear();
    for (std::string_view p : parts) {
      if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
    }
    for (size_t i = 0; i < iov.size();) {
      const int count = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
      const ssize_t n = ::writev(fd_, iov.data() + i, count);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("write " + path_, errno);
      }
      size_ += static_cast<uint64_t>(n);
      auto left = static_cast<size_t>(n);  // past the parts written whole, into the next one
      while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
      if (left > 0) {
        iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
      }
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::Ok();
  }

  Status Close() override {
    int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) return Status::FromErrno("close " + path_, errno);
    return Status::Ok();
  }

  uint64_t Size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixRandomAccessFile : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out->data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno("pread " + path_, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    out->resize(got);
    return Status::Ok();
  }

 private:
  std::string path_;
  int fd_;
};

// A whole file mapped read-only. Read() still reads with pread: only what View() hands out
// is touched through the mapping (and so counts in the process's resident set).
class PosixMappedFile : public PosixRandomAccessFile {
 public:
  PosixMappedFile(std::string path, int fd, const char* data, size_t size)
      : PosixRandomAccessFile(std::move(path), fd), data_(data), size_(size) {}
  ~PosixMappedFile() override {
    if (size_ > 0) ::munmap(const_cast<char*>(data_), size_);
  }

  bool mapped() const override { return true; }
  void DropResidentPages() const override {
    if (size_ > 0) ::madvise(const_cast<char*>(data_), size_, MADV_DONTNEED);
  }
  Status View(uint64_t offset, size_t n, std::string*, std::string_view* out) const override {
    // Past the end reads short, as pread does.
    *out = offset >= size_
               ? std::string_view()
               : std::string_view(data_ + offset, std::min<uint64_t>(n, size_ - offset));
    return Status::Ok();
  }

 private:
  const char* data_;
  size_t size_;
};

class PosixFileLock : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

// Opens `path` and reads its size; the descriptor is closed again when that fails.
Result<int> OpenWithSize(const std::string& path, int flags, uint64_t* size) {
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno("stat " + path, err);
  }
  *size = static_cast<uint64_t>(st.st_size);
  return fd;
}

class PosixEnv : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    uint64_t size = 0;
    WAGGLE_ASSIGN_OR_RETURN(int fd,
                            OpenWithSize(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, &size));
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, size));
  }

  Result<std::unique_ptr<WritableFile>> NewOverwritingFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, 0));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewMappedFile(const std::string& path) override {
    uint64_t size = 0;
    WAGGLE_ASSIGN_OR_RETURN(int fd, OpenWithSize(path, O_RDONLY | O_CLOEXEC, &size));
    void* data = nullptr;
    if (size > 0) {
      data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      if (data == MAP_FAILED) {
        // Out of address space or mappings (vm.max_map_count): the file is still readable,
        // with pread (mapped() says which).
        return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
      }
    }
    return std::unique_ptr<RandomAccessFile>(
        new PosixMappedFile(path, fd, static_cast<const char*>(data), size));
  }

  Status ReadFile(const std::string& path, std::string* out) override {
    WAGGLE_ASSIGN_OR_RETURN(auto file, NewRandomAccessFile(path));
    WAGGLE_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
    return file->Read(0, size, out);
  }

  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("open " + tmp, errno);
    PosixWritableFile file(tmp, fd, 0);
    WAGGLE_RETURN_IF_ERROR(file.Append(data));
    WAGGLE_RETURN_IF_ERROR(file.Sync());
    WAGGLE_RETURN_IF_ERROR(file.Close());
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("rename " + tmp, errno);
    std::string dir = std::filesystem::path(path).parent_path().string();
    return SyncDir(dir.empty() ? "." : dir);
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::FromErrno("opendir " + dir, errno);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(d);
    return names;
  }

  Status CreateDirs(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::IOError("create directory " + dir + ": " + ec.message());
    return Status::Ok();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return Status::FromErrno("fsync " + dir, err);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return Status::FromErrno("unlink " + path, errno);
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return Status::FromErrno("rename " + from + " to " + to, errno);
    }
    return Status::Ok();
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      return Status::FromErrno("truncate " + path, errno);
    }
    return Status::Ok();
  }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status::Unavailable(path + " is locked by another waggle process");
      }
      return Status::FromErrno("flock " + path, err);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }
};

}  // namespace

Status WritableFile::AppendV(std::span<const std::string_view> parts) {
  std::string joined;
  size_t size = 0;
  for (std::string_view p : parts) size += p.size();
  joined.reserve(size);
  for (std::string_view p : parts) joined.append(p);
  return Append(joined);
}

Status RandomAccessFile::View(uint64_t offset, size_t n, std::string* scratch,
                              std::string_view* out) const {
  WAGGLE_RETURN_IF_ERROR(Read(offset, n, scratch));
  *out = *scratch;
  return Status::Ok();
}

Result<std::unique_ptr<RandomAccessFile>> Env::NewMappedFile(const std::string& path) {
  return NewRandomAccessFile(path);
}

Env* Env::Default() {
  static PosixEnv env;
  return &env;
}

}  // namespace waggle
