// The jsonl sink: one JSON object per line (flows::AppendRecordJson), each
// batch handed to the kernel in write()s of its own (no fsync), appended to
// a file created if absent, or to standard output for "-".
//
// A write that fails part-way (a full disk) leaves the file cut back to its
// last whole line, so that the records the runner retries are not joined
// to a broken one; the file is reopened by the next Connect().
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "flows/record_json.h"
#include "sinks/writers.h"

namespace sinks {

namespace {

class JsonlWriter : public SinkWriter {
 public:
  explicit JsonlWriter(const SinkUrl& url) : path_(url.path) {}
  ~JsonlWriter() override { CloseFile(); }

  absl::Status Connect() override {
    CloseFile();
    if (path_ == "-") {
      fd_ = STDOUT_FILENO;
      return absl::OkStatus();
    }
    fd_ = open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Errno("open");
    struct stat st;
    if (fstat(fd_, &st) != 0) return Errno("stat");
    size_ = st.st_size;
    return CutToLastLine();
  }

  WriteResult Write(absl::Span<const flows::FlowRecord> records) override {
    WriteResult result;
    buf_.clear();
    ends_.clear();
    for (const flows::FlowRecord& r : records) {
      flows::AppendRecordJson(r, &buf_);
      buf_.push_back('\n');
      ends_.push_back(buf_.size());
    }
    size_t done = 0;
    while (done < buf_.size()) {
      const ssize_t n = write(fd_, buf_.data() + done, buf_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        result.status = Errno("write");
        break;
      }
      done += static_cast<size_t>(n);
    }
    while (result.written < ends_.size() && ends_[result.written] <= done) {
      ++result.written;
    }
    // After a failure the next Connect() cuts off a broken last line.
    if (!result.status.ok()) CloseFile();
    return result;
  }

  void Close(absl::Time deadline) override { CloseFile(); }

 private:
  absl::Status Errno(const char* what) const {
    return absl::UnavailableError(
        absl::StrCat(what, " ", path_, ": ", std::strerror(errno)));
  }

  void CloseFile() {
    if (fd_ > STDOUT_FILENO) close(fd_);
    fd_ = -1;
  }

  // Truncates the file after its last '\n' when it ends in a broken line
  // (an earlier write cut short, by this process or one before it).
  absl::Status CutToLastLine() {
    off_t end = size_;
    char chunk[4096];
    while (end > 0) {
      const off_t start = end > static_cast<off_t>(sizeof(chunk))
                              ? end - static_cast<off_t>(sizeof(chunk))
                              : 0;
      const ssize_t n = pread(fd_, chunk, end - start, start);
      if (n != end - start) return Errno("read");
      const void* nl = memrchr(chunk, '\n', n);
      if (nl != nullptr) {
        end = start + (static_cast<const char*>(nl) - chunk) + 1;
        break;
      }
      end = start;
    }
    if (end == size_) return absl::OkStatus();
    if (ftruncate(fd_, end) != 0) return Errno("truncate");
    size_ = end;
    return absl::OkStatus();
  }

  const std::string path_;
  int fd_ = -1;
  off_t size_ = 0;  // the file's length when opened
  std::string buf_;
  std::vector<size_t> ends_;  // where each record's line ends in buf_
};

}  // namespace

std::unique_ptr<SinkWriter> NewJsonlWriter(const SinkUrl& url) {
  return std::make_unique<JsonlWriter>(url);
}

}  // namespace sinks
