#include "saver/frame_appender.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace saver {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path,
                        int err) {
  const std::string message =
      absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

// Creates each missing directory of `path`'s parent below `root`.
void MakeParentDirs(const std::string& root, const std::string& path) {
  const size_t end = path.rfind('/');
  if (end == std::string::npos || end <= root.size()) return;
  for (size_t slash = path.find('/', root.size() + 1);
       slash != std::string::npos && slash <= end;
       slash = path.find('/', slash + 1)) {
    mkdir(path.substr(0, slash).c_str(), 0755);  // EEXIST is fine
  }
}

int OpenForAppend(const std::string& root, const std::string& path) {
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
  int fd = open(path.c_str(), kFlags, 0644);
  if (fd < 0 && errno == ENOENT) {
    MakeParentDirs(root, path);
    fd = open(path.c_str(), kFlags, 0644);
  }
  return fd;
}

// Writes all of `bytes`, retrying on EINTR and partial writes. Returns 0 or
// the errno of the failure.
int WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

}  // namespace

FrameAppender::FrameAppender(int compression_level) : cctx_(ZSTD_createCCtx()) {
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, compression_level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
}

FrameAppender::~FrameAppender() { ZSTD_freeCCtx(cctx_); }

absl::StatusOr<size_t> FrameAppender::Append(
    const std::string& root, const std::string& path,
    absl::FunctionRef<void(bool file_is_empty, std::string* text)> fill) {
  const int fd = OpenForAppend(root, path);
  if (fd < 0) return ErrnoError("open", path, errno);
  open_files_.fetch_add(1, std::memory_order_relaxed);
  struct Closer {
    int fd;
    std::atomic<int>* open_files;
    ~Closer() {
      close(fd);
      open_files->fetch_sub(1, std::memory_order_relaxed);
    }
  } closer{fd, &open_files_};

  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError("stat", path, errno);
  text_.clear();
  fill(st.st_size == 0, &text_);
  if (text_.empty()) return 0;

  frame_.resize(ZSTD_compressBound(text_.size()));
  const size_t size = ZSTD_compress2(cctx_, frame_.data(), frame_.size(),
                                     text_.data(), text_.size());
  if (ZSTD_isError(size)) {
    return absl::InternalError(
        absl::StrCat("compress ", path, ": ", ZSTD_getErrorName(size)));
  }
  if (const int err = WriteAll(fd, absl::string_view(frame_.data(), size))) {
    // Drop whatever part of the frame reached the file.
    if (ftruncate(fd, st.st_size) != 0) {
      return ErrnoError(
          absl::StrCat("write (", std::strerror(err), "), then truncate"), path,
          errno);
    }
    return ErrnoError("write", path, err);
  }
  ReleaseLargeBuffers();
  return size;
}

void FrameAppender::ReleaseLargeBuffers() {
  // One unusually busy connection should not pin its buffers forever.
  constexpr size_t kKeep = size_t{1} << 20;
  if (text_.capacity() > kKeep) std::string().swap(text_);
  if (frame_.capacity() > kKeep) std::string().swap(frame_);
}

}  // namespace saver
