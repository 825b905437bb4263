#include "api/connection_json.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parse/snapshot_json.h"
#include "parse/timestamp.h"
#include "saver/saver.h"

namespace api {
namespace {

// The end of the JSON value starting at `i` in `s`.
size_t ValueEnd(absl::string_view s, size_t i) {
  int depth = 0;
  bool in_string = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return i;  // the end of the enclosing object
      if (--depth == 0) return i + 1;
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return s.size();
}

bool Selected(absl::Span<const std::string> fields, absl::string_view name) {
  return std::find(fields.begin(), fields.end(), name) != fields.end();
}

// The members of `object` that `fields` select (at `prefix`: "" for the
// top level, "TCP." inside TCP), appended as ",\"k\":v" each.
void AppendSelected(absl::string_view object,
                    absl::Span<const std::string> fields,
                    absl::string_view prefix, std::string* out) {
  for (const auto& [key, value] : ObjectMembers(object)) {
    const std::string name = absl::StrCat(prefix, key);
    if (Selected(fields, name)) {
      absl::StrAppend(out, ",\"", key, "\":", value);
      continue;
    }
    if (!prefix.empty() || value.empty() || value[0] != '{') continue;
    const std::string section = absl::StrCat(name, ".");
    bool any = false;
    for (const std::string& f : fields)
      any = any || absl::StartsWith(f, section);
    if (!any) continue;
    std::string inner;
    AppendSelected(value, fields, section, &inner);
    absl::StrAppend(out, ",\"", key, "\":{",
                    absl::string_view(inner).substr(inner.empty() ? 0 : 1),
                    "}");
  }
}

}  // namespace

std::vector<std::pair<absl::string_view, absl::string_view>> ObjectMembers(
    absl::string_view object) {
  std::vector<std::pair<absl::string_view, absl::string_view>> members;
  size_t i = object.find('{');
  if (i == absl::string_view::npos) return members;
  ++i;
  while (i < object.size()) {
    const size_t key_start = object.find('"', i);
    if (key_start == absl::string_view::npos) break;
    const size_t key_end = ValueEnd(object, key_start);
    if (key_end > object.size() || key_end < key_start + 2) break;
    const size_t colon = object.find(':', key_end);
    if (colon == absl::string_view::npos) break;
    const size_t value_start = colon + 1;
    const size_t value_end = ValueEnd(object, value_start);
    members.emplace_back(object.substr(key_start + 1, key_end - key_start - 2),
                         object.substr(value_start, value_end - value_start));
    if (value_end >= object.size() || object[value_end] != ',') break;
    i = value_end + 1;
  }
  return members;
}

void AppendConnectionJson(
    const ConnectionState& state, absl::string_view uuid_prefix,
    absl::Span<const std::shared_ptr<const ConnectionAnnotator>> annotators,
    absl::Span<const std::string> fields, std::string* out) {
  std::string all = absl::StrCat(
      "{\"UUID\":\"", saver::FormatUuid(std::string(uuid_prefix), state.cookie),
      "\",\"Cookie\":\"", state.cookie,
      "\",\"Open\":", state.open ? "true" : "false");
  if (!state.open) {
    absl::StrAppend(
        &all, ",\"ClosedAt\":\"", parse::FormatRfc3339(state.closed_at),
        "\",\"CloseReason\":\"",
        state.close_reason == collector::CloseReason::kDestroyed ? "destroyed"
                                                                 : "absent",
        "\"");
  }
  for (const auto& annotator : annotators) annotator->Annotate(state, &all);
  std::string snapshot;
  parse::AppendSnapshotJsonLine(state.snapshot, nullptr, &snapshot);
  // Its members after ours: drop its '{' and keep the rest but the newline.
  absl::string_view rest = snapshot;
  if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);
  if (rest.size() > 2)
    absl::StrAppend(&all, ",", rest.substr(1));
  else
    all.push_back('}');
  if (fields.empty()) {
    out->append(all);
    return;
  }
  std::string selected;
  AppendSelected(all, fields, "", &selected);
  absl::StrAppend(out, "{",
                  absl::string_view(selected).substr(selected.empty() ? 0 : 1),
                  "}");
}

}  // namespace api
