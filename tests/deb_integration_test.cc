// The Debian package (debian/, `./build.sh deb`): installed with dpkg on
// this machine, its binaries run from /usr/bin (csvtool reproduces the
// reference's CSV of a shared archive byte for byte), its unit passes
// `systemd-analyze verify`, its user and archive directory exist, and
// `dpkg -r` then `dpkg -P` leave none of its files behind. The package is
// purged however the test ends.
//
// The .deb is $TCPINFO_DEB, else build-deb/tcp-info_*.deb of the source
// tree (`./build.sh test` builds it before the tests), else built here by
// `./build.sh deb` (minutes).
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testutil/farm.h"
#include "tests/testutil/paths.h"
#include "tests/testutil/temp_dir.h"

namespace {

namespace fs = std::filesystem;

constexpr char kPackage[] = "tcp-info";
constexpr char kDpkg[] = "/usr/bin/dpkg";
constexpr char kDpkgQuery[] = "/usr/bin/dpkg-query";

// The package's .deb, building it if there is none; "" on failure.
std::string FindDeb(const std::string& log) {
  if (const char* env = std::getenv("TCPINFO_DEB"); env != nullptr && *env) {
    return env;
  }
  const fs::path dir = fs::path(testutil::SourceDir()) / "build-deb";
  auto find = [&]() -> std::string {
    if (!fs::is_directory(dir)) return "";
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (absl::StartsWith(name, "tcp-info_") && absl::EndsWith(name, ".deb")) {
        return entry.path().string();
      }
    }
    return "";
  };
  std::string deb = find();
  if (!deb.empty()) return deb;
  const pid_t pid = testutil::Spawn(
      {"/usr/bin/env", "-C", testutil::SourceDir(), "./build.sh", "deb"}, log);
  if (testutil::WaitFor(pid, absl::Minutes(20)) != 0) return "";
  return find();
}

// Runs argv with its output in *output; the exit code.
int RunCapture(const std::vector<std::string>& argv, const std::string& log,
               std::string* output) {
  fs::remove(log);
  const int rc = testutil::Run(argv, log);
  *output = testutil::ReadText(log);
  return rc;
}

// Whether dpkg knows the package at all (installed or config-files).
bool Known(const std::string& dir) {
  std::string out;
  RunCapture({kDpkgQuery, "-W", "-f=${db:Status-Abbrev}", kPackage},
             dir + "/q.log", &out);
  return absl::StartsWith(out, "i") || absl::StartsWith(out, "r") ||
         absl::StartsWith(out, "u") || absl::StartsWith(out, "h");
}

class DebPackage : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "dpkg -i needs root";
    ASSERT_FALSE(temp_.path().empty());
    dir_ = temp_.path();
    std::string out;
    RunCapture({kDpkgQuery, "-W", "-f=${db:Status-Abbrev}", kPackage},
               dir_ + "/q.log", &out);
    // Never purge an installation this test did not make.
    ASSERT_FALSE(absl::StartsWith(out, "ii"))
        << "tcp-info is installed on this machine; the test would remove it";
    deb_ = FindDeb(dir_ + "/build.log");
    ASSERT_FALSE(deb_.empty())
        << "no .deb: " << testutil::ReadText(dir_ + "/build.log");
  }
  void TearDown() override {
    // Purge whatever state the package was left in.
    std::string out;
    if (Known(dir_))
      RunCapture({kDpkg, "-P", kPackage}, dir_ + "/purge.log", &out);
    EXPECT_FALSE(Known(dir_)) << out;
  }

  // The files (not directories) the installed package owns.
  std::vector<std::string> OwnedFiles() {
    std::string out;
    EXPECT_EQ(RunCapture({kDpkgQuery, "-L", kPackage}, dir_ + "/l.log", &out),
              0)
        << out;
    std::vector<std::string> files;
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty() && line[0] == '/' &&
          !fs::is_directory(std::string(line))) {
        files.emplace_back(line);
      }
    }
    return files;
  }

  testutil::TempDir temp_;
  std::string dir_;
  std::string deb_;
};

TEST_F(DebPackage, InstallsRunsVerifiesRemovesAndPurgesCleanly) {
  std::string out;
  ASSERT_EQ(RunCapture({kDpkg, "-i", deb_}, dir_ + "/install.log", &out), 0)
      << out;
  const std::vector<std::string> files = OwnedFiles();
  for (const char* path :
       {"/usr/bin/tcp-info", "/usr/bin/csvtool", "/usr/bin/eventsocket-client",
        "/lib/systemd/system/tcp-info.service",
        "/usr/lib/sysusers.d/tcp-info.conf",
        "/usr/lib/tmpfiles.d/tcp-info.conf", "/etc/default/tcp-info",
        "/usr/share/man/man1/tcp-info.1.gz", "/usr/share/man/man1/csvtool.1.gz",
        "/usr/share/man/man1/eventsocket-client.1.gz"}) {
    EXPECT_NE(std::find(files.begin(), files.end(), path), files.end())
        << path << " not in the package";
    EXPECT_TRUE(fs::exists(path)) << path;
  }

  // The installed binaries run and describe themselves.
  EXPECT_EQ(RunCapture({"/usr/bin/tcp-info", "-help"}, dir_ + "/h.log", &out),
            0);
  EXPECT_TRUE(absl::StrContains(out, "Usage: tcp-info")) << out;
  EXPECT_TRUE(absl::StrContains(out, "-prometheusx.listen-address")) << out;
  EXPECT_EQ(RunCapture({"/usr/bin/csvtool", "-help"}, dir_ + "/h.log", &out),
            0);
  EXPECT_TRUE(absl::StartsWith(out, "usage: csvtool")) << out;
  EXPECT_EQ(RunCapture({"/usr/bin/eventsocket-client", "-help"},
                       dir_ + "/h.log", &out),
            0);
  EXPECT_TRUE(absl::StartsWith(out, "usage: eventsocket-client")) << out;

  // The installed csvtool writes the reference's CSV of an M-Lab archive.
  const std::string name = "ndt-jdczh_1553815964_00000000000003E8.00183";
  EXPECT_EQ(RunCapture({"/usr/bin/csvtool",
                        absl::StrCat(testutil::TestDataDir(), "/mlab/", name,
                                     ".jsonl.zst")},
                       dir_ + "/csv.log", &out),
            0);
  EXPECT_EQ(out, testutil::ReadFileOrDie(absl::StrCat(
                     testutil::TestDataDir(), "/golden/", name, ".csv")));

  // Each man page is the binary's -help (rendered without a warning).
  EXPECT_EQ(RunCapture({"/usr/bin/man", "--warnings", "-l",
                        "/usr/share/man/man1/tcp-info.1.gz"},
                       dir_ + "/man.log", &out),
            0);
  EXPECT_TRUE(absl::StrContains(out, "-anonymize.ip")) << out;
  EXPECT_FALSE(absl::StrContains(out, "warning")) << out;

  // The installed unit: systemd accepts it as it is, with the binary where
  // the package put it and the default file it reads.
  EXPECT_EQ(
      RunCapture({"/usr/bin/systemd-analyze", "verify", "--man=no",
                  "--generators=no", "/lib/systemd/system/tcp-info.service"},
                 dir_ + "/verify.log", &out),
      0)
      << out;
  EXPECT_EQ(out, "");
  const std::string unit =
      testutil::ReadFileOrDie("/lib/systemd/system/tcp-info.service");
  EXPECT_TRUE(absl::StrContains(unit, "\nExecStart=/usr/bin/tcp-info "))
      << unit;
  EXPECT_TRUE(
      absl::StrContains(unit, "\nEnvironmentFile=-/etc/default/tcp-info\n"));

  // postinst made the user (sysusers.d) and the archive directory
  // (tmpfiles.d) the unit needs.
  EXPECT_EQ(RunCapture({"/usr/bin/getent", "passwd", "tcp-info"},
                       dir_ + "/u.log", &out),
            0);
  struct stat st {};
  ASSERT_EQ(stat("/var/spool/tcp-info", &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0750u);

  // Remove: everything but the conffile goes.
  ASSERT_EQ(RunCapture({kDpkg, "-r", kPackage}, dir_ + "/remove.log", &out), 0)
      << out;
  for (const std::string& f : files) {
    EXPECT_EQ(fs::exists(f), f == "/etc/default/tcp-info") << f;
  }
  // Purge: nothing left, not even the empty archive directory.
  ASSERT_EQ(RunCapture({kDpkg, "-P", kPackage}, dir_ + "/purge.log", &out), 0)
      << out;
  for (const std::string& f : files) EXPECT_FALSE(fs::exists(f)) << f;
  EXPECT_FALSE(fs::exists("/var/spool/tcp-info"));
  EXPECT_FALSE(Known(dir_));
}

}  // namespace
