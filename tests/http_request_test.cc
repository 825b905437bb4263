#include "metrics/http_request.h"

#include <string>

#include "gtest/gtest.h"

namespace {

using metrics::ParseRequestHead;
using metrics::RequestHeadLength;

TEST(RequestHeadLength, EndsAtTheFirstBlankLineCrlfOrLf) {
  EXPECT_EQ(RequestHeadLength(""), 0u);
  EXPECT_EQ(RequestHeadLength("GET / HTTP/1.1\r\nHost: x\r\n"), 0u);
  EXPECT_EQ(RequestHeadLength("GET / HTTP/1.1\r\n\r\n"), 18u);
  EXPECT_EQ(RequestHeadLength("GET / HTTP/1.1\n\nGET"), 16u);
  EXPECT_EQ(RequestHeadLength("GET / HTTP/1.1\r\nA: b\r\n\r\nGET /"), 24u);
  EXPECT_EQ(RequestHeadLength("GET / HTTP/1.1\r\n\r"), 0u);  // not yet
}

TEST(ParseRequestHead, ReadsMethodPathAndKeepAlive) {
  auto r =
      ParseRequestHead("GET /metrics?name[]=x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.error_status, 0);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/metrics");
  EXPECT_EQ(r.query, "name[]=x");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(ParseRequestHead("GET /a?b?c HTTP/1.1\r\n\r\n").query, "b?c");
  EXPECT_EQ(ParseRequestHead("GET /a? HTTP/1.1\r\n\r\n").query, "");
  EXPECT_EQ(ParseRequestHead("GET /a HTTP/1.1\r\n\r\n").query, "");
  EXPECT_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nconnection: Close\r\n\r\n")
                   .keep_alive);
  EXPECT_FALSE(ParseRequestHead("HEAD / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(
      ParseRequestHead("GET / HTTP/1.0\r\nConnection: TE, keep-alive\r\n\r\n")
          .keep_alive);
  EXPECT_EQ(ParseRequestHead("GET / HTTP/1.1\r\nContent-Length:  0 \r\n\r\n")
                .error_status,
            0);
}

TEST(ParseRequestHead, RefusesWhatItCannotFrameOrRead) {
  for (const char* head : {
           "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
           "GET /metrics HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n",
           "GET /metrics\r\n\r\n",                  // HTTP/0.9
           "GET  /metrics HTTP/1.1\r\n\r\n",        // two spaces
           "GET metrics HTTP/1.1\r\n\r\n",          // not origin-form
           "GET /metrics HTTP/1.1\r\n: x\r\n\r\n",  // empty field name
           "GET /metrics XTTP/1.1\r\n\r\n",
           "\r\n\r\n",
       }) {
    EXPECT_EQ(ParseRequestHead(head).error_status, 400) << head;
  }
  EXPECT_EQ(ParseRequestHead("GET /metrics HTTP/2.0\r\n\r\n").error_status,
            505);
}

}  // namespace
