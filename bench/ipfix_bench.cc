// IPFIX writer throughput: records/s through IpfixWriter::Write over UDP to
// a socket of the benchmark on 127.0.0.1 that drains nothing (the kernel
// drops what overflows its buffer; the writer's cost is encoding and
// sendto). Batches of 1000 records, IPv4 and IPv6 alternating.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "collector/ip_address.h"
#include "flows/flow_record.h"
#include "sinks/ipfix_writer.h"
#include "sinks/sink_url.h"

namespace {

void BM_IpfixUdpWrite(benchmark::State& state) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    state.SkipWithError("no local UDP socket");
    close(fd);
    return;
  }
  sinks::SinkUrl url;
  url.scheme = "ipfix";
  url.hosts = absl::StrCat("127.0.0.1:", ntohs(a.sin_port));
  std::unique_ptr<sinks::SinkWriter> writer =
      sinks::NewIpfixWriter(url, sinks::IpfixOptions());
  if (!writer->Connect().ok()) {
    state.SkipWithError("connect failed");
    close(fd);
    return;
  }
  std::vector<flows::FlowRecord> batch(1000);
  for (size_t i = 0; i < batch.size(); ++i) {
    flows::FlowRecord& r = batch[i];
    r.uuid = absl::StrCat("bench_", 1000000 + i);
    r.cookie = i;
    r.local = *collector::ParseIpAddress(i % 2 ? "fd77::1" : "10.77.0.1");
    r.remote = *collector::ParseIpAddress(i % 2 ? "fd77::2" : "10.77.0.2");
    r.local_port = 40000 + i % 1000;
    r.remote_port = 443;
    r.congestion_algorithm = "cubic";
    r.start_time = parse::Timestamp{1764842400, 0};
    r.end_time = parse::Timestamp{1764842460, 0};
    r.delta.bytes_sent = r.total.bytes_sent = 1000 * i;
    r.delta.segs_out = r.total.segs_out = i;
  }
  size_t written = 0;
  for (auto _ : state) {
    sinks::SinkWriter::WriteResult result = writer->Write(batch);
    written += result.written;
    if (!result.status.ok()) {
      state.SkipWithError("write failed");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(written));
  writer.reset();
  close(fd);
}
BENCHMARK(BM_IpfixUdpWrite)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
