// TempDir: a fresh directory under ::testing::TempDir() for one test,
// removed with everything in it when the object goes, however the test
// ends.
//
// Threading: belongs to the test's thread.
#ifndef TCPINFO_TESTS_TESTUTIL_TEMP_DIR_H_
#define TCPINFO_TESTS_TESTUTIL_TEMP_DIR_H_

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "gtest/gtest.h"

namespace testutil {

class TempDir {
 public:
  // Fails the current test (path() is then "") if it cannot be made.
  TempDir() {
    std::string pattern = ::testing::TempDir() + "/tcpinfo_test_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp " << pattern;
      return;
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace testutil

#endif  // TCPINFO_TESTS_TESTUTIL_TEMP_DIR_H_
