// The query API's router and JSON: ids in every accepted spelling, the
// errors (404 for what does not exist, 400 for what is malformed), field
// names, and field selection over a connection's object.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/connection_json.h"
#include "api/request.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace {

constexpr char kPrefix[] = "host_1700000000_unsafe";

absl::StatusOr<api::ApiRequest> Parse(const std::string& path,
                                      const std::string& query = "") {
  return api::ParseApiRequest(path, query, kPrefix);
}

TEST(ApiRequest, ListAndOneByDecimalHexAndUuid) {
  absl::StatusOr<api::ApiRequest> list = Parse("/api/v1/connections");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_FALSE(list->one);
  EXPECT_TRUE(list->fields.empty());
  for (const std::string& id :
       {std::string("1000"), std::string("0x3e8"), std::string("0X3E8"),
        absl::StrCat(kPrefix, "_00000000000003E8"),
        absl::StrCat(kPrefix, "_00000000000003e8")}) {
    absl::StatusOr<api::ApiRequest> one = Parse("/api/v1/connections/" + id);
    ASSERT_TRUE(one.ok()) << id << ": " << one.status();
    EXPECT_TRUE(one->one);
    EXPECT_EQ(one->cookie, 1000u) << id;
  }
  absl::StatusOr<api::ApiRequest> max =
      Parse("/api/v1/connections/18446744073709551615");
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(max->cookie, UINT64_MAX);
}

TEST(ApiRequest, UnknownPathsAndOtherPrefixesAreNotFound) {
  for (const char* path :
       {"/api/", "/api/v1", "/api/v1/connection", "/api/v1/connectionsX",
        "/api/v1/connections/", "/api/v1/connections/1/", "/api/v2/connections",
        "/api/v1/connections/1/2"}) {
    EXPECT_TRUE(absl::IsNotFound(Parse(path).status())) << path;
  }
  EXPECT_TRUE(absl::IsNotFound(
      Parse("/api/v1/connections/other_1_unsafe_00000000000003E8").status()));
}

TEST(ApiRequest, MalformedIdsAndQueriesAreInvalid) {
  for (const char* id :
       {"0x", "0x12345678901234567", "0xZZ", "18446744073709551616", "12a",
        "-1", "nope", "host_00000000000003E", "host_00000000000003EG", "%20"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(
        Parse("/api/v1/connections/" + std::string(id)).status()))
        << id;
  }
  for (const std::string& query : std::vector<std::string>{
           "limit=1", "fields=a&fields=b", "fields=", "fields=a,,b",
           "fields=.a", "fields=a.", "fields=a.b.c", "fields=a%2",
           "fields=a%zz", "fields=a-b",
           absl::StrCat("fields=", std::string(65, 'a'))}) {
    EXPECT_TRUE(
        absl::IsInvalidArgument(Parse("/api/v1/connections", query).status()))
        << query;
  }
  std::string many = "fields=a";
  for (int i = 0; i < 64; ++i) absl::StrAppend(&many, ",a", i);
  EXPECT_TRUE(
      absl::IsInvalidArgument(Parse("/api/v1/connections", many).status()));
}

TEST(ApiRequest, FieldsAreSplitAndDecoded) {
  absl::StatusOr<api::ApiRequest> r =
      Parse("/api/v1/connections", "fields=UUID%2CTCP.RTT,IDM&");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->fields, (std::vector<std::string>{"UUID", "TCP.RTT", "IDM"}));
}

api::ConnectionState State() {
  api::ConnectionState state;
  state.cookie = 1000;
  state.snapshot.has_tcp_info = true;
  state.snapshot.tcp_info_length = sizeof(state.snapshot.tcp_info);
  state.snapshot.tcp_info.rtt = 1234;
  state.snapshot.tcp_info.state = 1;
  state.snapshot.has_congestion_algorithm = true;
  state.snapshot.congestion_algorithm = "cu\"bic";
  return state;
}

std::string Render(const api::ConnectionState& state,
                   const std::vector<std::string>& fields = {}) {
  std::string out;
  api::AppendConnectionJson(state, kPrefix, {}, fields, &out);
  return out;
}

TEST(ConnectionJson, HoldsIdentityStateAndTheSnapshot) {
  nlohmann::json j = nlohmann::json::parse(Render(State()));
  EXPECT_EQ(j["UUID"], absl::StrCat(kPrefix, "_00000000000003E8"));
  EXPECT_EQ(j["Cookie"], "1000");
  EXPECT_EQ(j["Open"], true);
  EXPECT_FALSE(j.contains("ClosedAt"));
  EXPECT_EQ(j["TCP"]["RTT"], 1234);
  EXPECT_EQ(j["CongestionAlgorithm"], "cu\"bic");

  api::ConnectionState closed = State();
  closed.open = false;
  closed.closed_at = parse::Timestamp{1700000000, 500000000, 0};
  closed.close_reason = collector::CloseReason::kDestroyed;
  j = nlohmann::json::parse(Render(closed));
  EXPECT_EQ(j["Open"], false);
  EXPECT_EQ(j["ClosedAt"], "2023-11-14T22:13:20.5Z");
  EXPECT_EQ(j["CloseReason"], "destroyed");
}

TEST(ConnectionJson, SelectsWholeMembersAndMembersOfSections) {
  const api::ConnectionState state = State();
  EXPECT_EQ(Render(state, {"Cookie"}), "{\"Cookie\":\"1000\"}");
  EXPECT_EQ(Render(state, {"TCP.RTT", "Cookie", "TCP.State"}),
            "{\"Cookie\":\"1000\",\"TCP\":{\"State\":1,\"RTT\":1234}}");
  EXPECT_EQ(Render(state, {"CongestionAlgorithm"}),
            "{\"CongestionAlgorithm\":\"cu\\\"bic\"}");
  EXPECT_EQ(Render(state, {"Nope", "TCP.Nope"}), "{\"TCP\":{}}");
  EXPECT_EQ(Render(state, {"Nope"}), "{}");
  nlohmann::json tcp = nlohmann::json::parse(Render(state, {"TCP"}));
  EXPECT_EQ(tcp.size(), 1u);
  EXPECT_EQ(tcp["TCP"]["RTT"], 1234);
}

TEST(ConnectionJson, ObjectMembersSplitsNestedStringsAndArrays) {
  const auto members = api::ObjectMembers(
      R"({"a":1,"b":"x,}\"{","c":{"d":[1,{"e":2}]},"f":[],"g":true})");
  ASSERT_EQ(members.size(), 5u);
  EXPECT_EQ(members[1].first, "b");
  EXPECT_EQ(members[1].second, R"("x,}\"{")");
  EXPECT_EQ(members[2].second, R"({"d":[1,{"e":2}]})");
  EXPECT_EQ(members[3].second, "[]");
  EXPECT_EQ(members[4].second, "true");
  EXPECT_TRUE(api::ObjectMembers("{}").empty());
}

}  // namespace
