// netns/netns_spec.h and netns/discovery.h: the -netns value, and finding
// namespaces by inode in a proc tree and named directories of the test's
// own (links to this process's namespace file, a plain file that is not a
// namespace).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "netns/discovery.h"
#include "netns/netns_spec.h"

namespace netns {
namespace {

namespace fs = std::filesystem;

TEST(NetnsSpec, ParsesAllNamesPathsAndPids) {
  EXPECT_FALSE(ParseNetnsSpec("")->enabled());
  EXPECT_TRUE(ParseNetnsSpec("all")->all);
  const absl::StatusOr<NetnsSpec> s =
      ParseNetnsSpec("blue, /var/run/docker/netns/1a2b,pid:42");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->targets.size(), 3u);
  EXPECT_EQ(s->targets[0].Path(), "/run/netns/blue");
  EXPECT_EQ(s->targets[0].Name(), "blue");
  EXPECT_EQ(s->targets[1].Path(), "/var/run/docker/netns/1a2b");
  EXPECT_EQ(s->targets[1].Name(), "");
  EXPECT_EQ(s->targets[2].Path(), "/proc/42/ns/net");
}

TEST(NetnsSpec, RefusesBadItemsNamingThem) {
  for (const char* bad :
       {"blue,,red", "pid:", "pid:0", "pid:x1", "a/b", ".."}) {
    const absl::StatusOr<NetnsSpec> s = ParseNetnsSpec(bad);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_TRUE(absl::StrContains(s.status().message(), "-netns")) << bad;
  }
}

TEST(Discovery, FindsEachNamespaceOnceByInodeAndReportsEmptyFiles) {
  const std::string root =
      absl::StrCat(::testing::TempDir(), "/netns_discovery_", getpid());
  fs::remove_all(root);
  fs::create_directories(root + "/proc/1/ns");
  fs::create_directories(root + "/proc/22/ns");
  fs::create_directories(root + "/proc/self");  // not a pid: skipped
  fs::create_directories(root + "/proc/33");    // exited: no ns/net
  fs::create_directories(root + "/netns");
  fs::create_symlink("/proc/self/ns/net", root + "/proc/1/ns/net");
  fs::create_symlink("/proc/self/ns/net", root + "/proc/22/ns/net");
  fs::create_symlink("/proc/self/ns/net", root + "/netns/home");
  std::ofstream(root + "/netns/empty") << "";

  uint64_t own = 0, ignored = 0;
  ASSERT_TRUE(StatNamespace("/proc/self/ns/net", &own));
  EXPECT_FALSE(StatNamespace(root + "/netns/empty", &ignored));

  DiscoveryRoots roots;
  roots.proc = root + "/proc";
  roots.named_dirs = {root + "/netns", root + "/missing"};
  NetnsSpec all;
  all.all = true;
  const Discovered d = Discover(all, roots);
  ASSERT_EQ(d.namespaces.size(), 1u);
  EXPECT_EQ(d.namespaces[0].inode, own);
  EXPECT_EQ(d.namespaces[0].name, "home");  // the named directory wins
  ASSERT_EQ(d.not_namespaces.size(), 1u);
  EXPECT_EQ(d.not_namespaces[0], root + "/netns/empty");

  // Targets: a path found, one missing (nothing reported).
  NetnsSpec listed =
      *ParseNetnsSpec(absl::StrCat(root, "/proc/22/ns/net,", root, "/nothing"));
  const Discovered l = Discover(listed, roots);
  ASSERT_EQ(l.namespaces.size(), 1u);
  EXPECT_EQ(l.namespaces[0].inode, own);
  EXPECT_EQ(l.namespaces[0].name, "");
  EXPECT_TRUE(l.not_namespaces.empty());
  fs::remove_all(root);
}

}  // namespace
}  // namespace netns
