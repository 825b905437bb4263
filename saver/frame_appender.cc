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

// Opens for appending; also for reading if the file is to be checked.
int OpenForAppend(const std::string& root, const std::string& path,
                  bool readable) {
  const int flags =
      (readable ? O_RDWR : O_WRONLY) | O_APPEND | O_CREAT | O_CLOEXEC;
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0 && errno == ENOENT) {
    MakeParentDirs(root, path);
    fd = open(path.c_str(), flags, 0644);
  }
  return fd;
}

// Reads the first `size` bytes of the file into `out`. Returns 0 or the
// errno of the failure (EIO if the file is shorter).
int ReadAll(int fd, char* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n =
        pread(fd, out + done, size - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

// Where the complete frames of `bytes` end; the start of each of them is
// appended to `starts`.
size_t WalkFrames(absl::string_view bytes, std::vector<size_t>* starts) {
  size_t end = 0;
  while (end < bytes.size()) {
    const size_t n =
        ZSTD_findFrameCompressedSize(bytes.data() + end, bytes.size() - end);
    if (ZSTD_isError(n)) break;
    starts->push_back(end);
    end += n;
  }
  return end;
}

// Whether `frame`, one whole frame, decodes with a matching checksum. The
// output goes to `scratch` and is discarded.
bool FrameDecodes(ZSTD_DCtx* dctx, absl::string_view frame,
                  std::string* scratch) {
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  scratch->resize(ZSTD_DStreamOutSize());
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  for (;;) {
    ZSTD_outBuffer out{scratch->data(), scratch->size(), 0};
    const size_t left = ZSTD_decompressStream(dctx, &out, &in);
    if (ZSTD_isError(left)) return false;
    if (left == 0) return in.pos == in.size;
    // Wants more input than the frame has.
    if (in.pos == in.size && out.pos < out.size) return false;
  }
}

// Paths remembered for a check; beyond this, every file is checked.
constexpr size_t kMaxUnsurePaths = size_t{64} << 10;

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

size_t CompleteFramesLength(absl::string_view bytes) {
  std::vector<size_t> starts;
  return WalkFrames(bytes, &starts);
}

FrameAppender::FrameAppender(int compression_level,
                             std::chrono::steady_clock::duration file_lifetime)
    : cctx_(ZSTD_createCCtx()),
      dctx_(ZSTD_createDCtx()),
      file_lifetime_(file_lifetime) {
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, compression_level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
}

FrameAppender::~FrameAppender() {
  ZSTD_freeCCtx(cctx_);
  ZSTD_freeDCtx(dctx_);
}

absl::StatusOr<size_t> FrameAppender::Append(
    const std::string& root, const std::string& path, bool first_in_process,
    absl::FunctionRef<void(bool file_is_empty, std::string* text)> fill) {
  const bool check = NeedsCheck(path, first_in_process);
  const int fd = OpenForAppend(root, path, check);
  if (fd < 0) {
    const int err = errno;
    if (check) MarkUnsure(path);
    return ErrnoError("open", path, err);
  }
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
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    if (check) MarkUnsure(path);
    return ErrnoError("stat", path, err);
  }
  size_t file_size = static_cast<size_t>(st.st_size);
  if (check) {
    if (file_size > 0) {
      absl::StatusOr<size_t> repaired = Repair(fd, path, file_size);
      if (!repaired.ok()) {
        MarkUnsure(path);
        return repaired.status();
      }
      file_size = *repaired;
      ReleaseLargeBuffers();  // the file was read into them
    }
    if (!unsure_.empty()) unsure_.erase(path);
  }
  text_.clear();
  fill(file_size == 0, &text_);
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
    if (ftruncate(fd, static_cast<off_t>(file_size)) != 0) {
      const int truncate_err = errno;
      MarkUnsure(path);
      return ErrnoError(
          absl::StrCat("write (", std::strerror(err), "), then truncate"), path,
          truncate_err);
    }
    return ErrnoError("write", path, err);
  }
  ReleaseLargeBuffers();
  return size;
}

absl::StatusOr<size_t> FrameAppender::Repair(int fd, const std::string& path,
                                             size_t size) {
  frame_.resize(size);
  if (const int err = ReadAll(fd, frame_.data(), size)) {
    return ErrnoError("read", path, err);
  }
  const absl::string_view bytes(frame_.data(), size);
  frame_starts_.clear();
  size_t end = WalkFrames(bytes, &frame_starts_);
  // A frame whose every block is in place may still hold bytes that were
  // never written (zeros after a power loss): its checksum tells. Only the
  // tail can be damaged so: the last frame that decodes ends the check.
  while (!frame_starts_.empty() &&
         !FrameDecodes(
             dctx_,
             bytes.substr(frame_starts_.back(), end - frame_starts_.back()),
             &text_)) {
    end = frame_starts_.back();
    frame_starts_.pop_back();
  }
  if (end == size) return size;
  if (ftruncate(fd, static_cast<off_t>(end)) != 0) {
    return ErrnoError("truncate an incomplete frame off", path, errno);
  }
  repaired_files_.fetch_add(1, std::memory_order_relaxed);
  repair_log_.Report(absl::StrCat(
      path, ": cut ", size - end, " of ", size,
      " bytes after its last complete zstd frame (a write was interrupted) "
      "before appending"));
  return end;
}

bool FrameAppender::NeedsCheck(const std::string& path, bool first_in_process) {
  if (first_in_process) return true;
  if (!unsure_.empty() && unsure_.contains(path)) return true;
  return check_all_until_ != std::chrono::steady_clock::time_point{} &&
         std::chrono::steady_clock::now() < check_all_until_;
}

void FrameAppender::MarkUnsure(const std::string& path) {
  if (unsure_.size() >= kMaxUnsurePaths) {
    // Too many to remember: check every file until all of them are done
    // receiving frames.
    unsure_.clear();
    check_all_until_ = std::chrono::steady_clock::now() + file_lifetime_;
  }
  unsure_.insert(path);
}

void FrameAppender::ReleaseLargeBuffers() {
  // One unusually busy connection should not pin its buffers forever.
  constexpr size_t kKeep = size_t{1} << 20;
  if (text_.capacity() > kKeep) std::string().swap(text_);
  if (frame_.capacity() > kKeep) std::string().swap(frame_);
}

}  // namespace saver
