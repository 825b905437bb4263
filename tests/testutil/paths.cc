#include "tests/testutil/paths.h"

#include <zstd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"

namespace testutil {

std::string SourceDir() { return TCPINFO_SOURCE_DIR; }

std::string TestDataDir() {
  if (const char* env = std::getenv("TCPINFO_TESTDATA")) return env;
  return SourceDir() + "/../shared/testdata";
}

std::string ConnfarmPath() {
  if (const char* env = std::getenv("TCPINFO_CONNFARM")) return env;
  return SourceDir() + "/../shared/tools/connfarm";
}

std::string BinaryPath(const std::string& name) {
  return std::string(TCPINFO_BIN_DIR) + "/" + name;
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return "";
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ReadZstdFileOrDie(const std::string& path) {
  const std::string compressed = ReadFileOrDie(path);
  std::string out;
  ZSTD_DStream* ds = ZSTD_createDStream();
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  std::string chunk(1 << 16, '\0');
  size_t last = 0;
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(ds, &ob, &in);
    if (ZSTD_isError(last)) {
      ADD_FAILURE() << path << ": " << ZSTD_getErrorName(last);
      break;
    }
    out.append(chunk.data(), ob.pos);
  }
  if (!ZSTD_isError(last) && last != 0) {
    ADD_FAILURE() << path << ": truncated zstd stream";
  }
  ZSTD_freeDStream(ds);
  return out;
}

}  // namespace testutil
