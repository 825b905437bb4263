#include "parse/input_stream.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace parse {
namespace {

constexpr size_t kChunkBytes = 256 << 10;
// Input to offer zstd at the start of a frame.
constexpr size_t kFrameStart = 5;  // ZSTD_FRAMEHEADERSIZE_PREFIX

// A zstd frame, or a skippable frame (which zstd also decodes past).
bool IsZstdMagic(const unsigned char* b) {
  uint32_t magic;
  std::memcpy(&magic, b, sizeof(magic));
  return magic == ZSTD_MAGICNUMBER ||
         (magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
}

}  // namespace

struct InputStream::Rep {
  int fd = -1;
  std::string in = std::string(kChunkBytes, '\0');
  size_t in_pos = 0, in_end = 0;
  bool eof = false;
  bool detected = false;
  bool compressed = false;
  ZSTD_DStream* zstd = nullptr;
  // The last ZSTD_decompressStream result: the input it wants next; 0 when
  // a frame is done.
  size_t zstd_hint = kFrameStart;
  uint64_t raw_bytes = 0;
  absl::Status error;

  ~Rep() {
    if (zstd != nullptr) ZSTD_freeDStream(zstd);
    if (fd > 0) close(fd);
  }

  // Appends to `in` after in_end (compacting first); sets eof at the end.
  absl::Status Refill() {
    if (in_pos > 0) {
      std::memmove(in.data(), in.data() + in_pos, in_end - in_pos);
      in_end -= in_pos;
      in_pos = 0;
    }
    while (true) {
      const ssize_t got = read(fd, in.data() + in_end, in.size() - in_end);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        return absl::InternalError(absl::StrCat("read: ", strerror(errno)));
      }
      if (got == 0) eof = true;
      in_end += static_cast<size_t>(got);
      raw_bytes += static_cast<uint64_t>(got);
      return absl::OkStatus();
    }
  }

  absl::Status Detect() {
    while (in_end - in_pos < 4 && !eof) {
      absl::Status s = Refill();
      if (!s.ok()) return s;
    }
    detected = true;
    compressed = in_end - in_pos >= 4 &&
                 IsZstdMagic(reinterpret_cast<unsigned char*>(in.data()));
    if (compressed) {
      zstd = ZSTD_createDStream();
      if (zstd == nullptr) return absl::ResourceExhaustedError("zstd init");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadPlain(char* buf, size_t n) {
    if (in_pos < in_end) {
      const size_t k = std::min(n, in_end - in_pos);
      std::memcpy(buf, in.data() + in_pos, k);
      in_pos += k;
      return k;
    }
    while (!eof) {
      const ssize_t got = read(fd, buf, n);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        return absl::InternalError(absl::StrCat("read: ", strerror(errno)));
      }
      if (got == 0) eof = true;
      raw_bytes += static_cast<uint64_t>(got);
      return static_cast<size_t>(got);
    }
    return 0;
  }

  absl::StatusOr<size_t> ReadZstd(char* buf, size_t n) {
    while (true) {
      if (in_pos == in_end && !eof) {
        absl::Status s = Refill();
        if (!s.ok()) return s;
      }
      // A finished frame has nothing left to flush.
      if (in_pos == in_end && eof && zstd_hint == 0) return 0;
      // Offer zstd one byte less than it asks for. Its hint is the rest of
      // the current block plus the next block's 3-byte header, so a call
      // decodes at most one block and stops before parsing the next header:
      // a corrupt block (or header) then fails on its own call, and cannot
      // take the output of the good blocks before it down with it (on
      // error zstd does not report what it already wrote).
      const size_t want = zstd_hint == 0 ? kFrameStart : zstd_hint;
      const size_t feed =
          std::min(in_end - in_pos, std::max<size_t>(want - 1, 1));
      ZSTD_inBuffer input{in.data() + in_pos, feed, 0};
      ZSTD_outBuffer output{buf, n, 0};
      const size_t ret = ZSTD_decompressStream(zstd, &output, &input);
      if (ZSTD_isError(ret)) {
        return absl::DataLossError(
            absl::StrCat("corrupt zstd data: ", ZSTD_getErrorName(ret)));
      }
      in_pos += input.pos;
      zstd_hint = ret;
      if (output.pos > 0) return output.pos;
      if (in_pos == in_end && eof) {
        if (zstd_hint != 0) {
          return absl::DataLossError("truncated zstd data (frame incomplete)");
        }
        return 0;
      }
    }
  }
};

InputStream::InputStream(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
InputStream::~InputStream() = default;

absl::StatusOr<std::unique_ptr<InputStream>> InputStream::Open(
    const std::string& path) {
  if (path == "-") return FromFd(0);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat(path, ": ", strerror(err)));
  }
  return FromFd(fd);
}

std::unique_ptr<InputStream> InputStream::FromFd(int fd) {
  auto rep = std::make_unique<Rep>();
  rep->fd = fd;
  return std::unique_ptr<InputStream>(new InputStream(std::move(rep)));
}

absl::StatusOr<size_t> InputStream::Read(char* buf, size_t n) {
  Rep& r = *rep_;
  if (!r.error.ok()) return r.error;
  if (!r.detected) {
    r.error = r.Detect();
    if (!r.error.ok()) return r.error;
  }
  absl::StatusOr<size_t> got =
      r.compressed ? r.ReadZstd(buf, n) : r.ReadPlain(buf, n);
  if (!got.ok()) r.error = got.status();
  return got;
}

bool InputStream::compressed() const { return rep_->compressed; }
uint64_t InputStream::raw_bytes_read() const { return rep_->raw_bytes; }

}  // namespace parse
