#include "metrics/text_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::Counter:
      return "counter";
    case MetricType::Gauge:
      return "gauge";
    case MetricType::Summary:
      return "summary";
    case MetricType::Histogram:
      return "histogram";
    case MetricType::Untyped:
      break;
  }
  return "untyped";
}

// Appends `text` with backslash and newline escaped, and the double quote
// too when `quote`.
void AppendEscaped(const std::string& text, bool quote, std::string* out) {
  for (char c : text) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '"' && quote) {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

// One sample line: name+suffix, the series' labels plus an optional extra
// numeric one (le, quantile), the value, the timestamp if any.
void AppendSample(const std::string& name, const char* suffix,
                  const ClientMetric& metric, const char* extra_label,
                  double extra_value, double value, std::string* out) {
  absl::StrAppend(out, name, suffix);
  if (!metric.label.empty() || extra_label != nullptr) {
    out->push_back('{');
    bool first = true;
    for (const ClientMetric::Label& l : metric.label) {
      if (!first) out->push_back(',');
      first = false;
      absl::StrAppend(out, l.name, "=\"");
      AppendEscaped(l.value, /*quote=*/true, out);
      out->push_back('"');
    }
    if (extra_label != nullptr) {
      if (!first) out->push_back(',');
      absl::StrAppend(out, extra_label, "=\"", FormatGoFloat(extra_value),
                      "\"");
    }
    out->push_back('}');
  }
  absl::StrAppend(out, " ", FormatGoFloat(value));
  if (metric.timestamp_ms != 0) absl::StrAppend(out, " ", metric.timestamp_ms);
  out->push_back('\n');
}

void AppendFamily(const MetricFamily& f, std::string* out) {
  if (!f.help.empty()) {
    absl::StrAppend(out, "# HELP ", f.name, " ");
    AppendEscaped(f.help, /*quote=*/false, out);
    out->push_back('\n');
  }
  absl::StrAppend(out, "# TYPE ", f.name, " ", TypeName(f.type), "\n");
  constexpr double kNoLabel = 0;
  for (const ClientMetric& m : f.metric) {
    switch (f.type) {
      case MetricType::Counter:
        AppendSample(f.name, "", m, nullptr, kNoLabel, m.counter.value, out);
        break;
      case MetricType::Gauge:
        AppendSample(f.name, "", m, nullptr, kNoLabel, m.gauge.value, out);
        break;
      case MetricType::Untyped:
        AppendSample(f.name, "", m, nullptr, kNoLabel, m.untyped.value, out);
        break;
      case MetricType::Summary:
        for (const ClientMetric::Quantile& q : m.summary.quantile) {
          AppendSample(f.name, "", m, "quantile", q.quantile, q.value, out);
        }
        AppendSample(f.name, "_sum", m, nullptr, kNoLabel, m.summary.sample_sum,
                     out);
        AppendSample(f.name, "_count", m, nullptr, kNoLabel,
                     static_cast<double>(m.summary.sample_count), out);
        break;
      case MetricType::Histogram: {
        bool inf_seen = false;
        for (const ClientMetric::Bucket& b : m.histogram.bucket) {
          AppendSample(f.name, "_bucket", m, "le", b.upper_bound,
                       static_cast<double>(b.cumulative_count), out);
          inf_seen =
              inf_seen || (std::isinf(b.upper_bound) && b.upper_bound > 0);
        }
        if (!inf_seen) {
          AppendSample(f.name, "_bucket", m, "le",
                       std::numeric_limits<double>::infinity(),
                       static_cast<double>(m.histogram.sample_count), out);
        }
        AppendSample(f.name, "_sum", m, nullptr, kNoLabel,
                     m.histogram.sample_sum, out);
        AppendSample(f.name, "_count", m, nullptr, kNoLabel,
                     static_cast<double>(m.histogram.sample_count), out);
        break;
      }
    }
  }
}

// Go's order of the series of one family: fewer labels first, then label
// values compared in label-name order.
bool SeriesLess(const ClientMetric& a, const ClientMetric& b) {
  if (a.label.size() != b.label.size()) return a.label.size() < b.label.size();
  for (size_t i = 0; i < a.label.size(); ++i) {
    if (a.label[i].value != b.label[i].value) {
      return a.label[i].value < b.label[i].value;
    }
  }
  return false;
}

}  // namespace

std::string FormatGoFloat(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == 0) return "0";  // -0 too, as expfmt writes it
  // Shortest round-trip digits, as d.ddde±XX.
  char buf[64];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), value,
                                               std::chars_format::scientific);
  const std::string_view sci(buf, r.ptr - buf);
  const size_t e = sci.find('e');
  std::string digits;
  size_t i = 0;
  const bool negative = sci[0] == '-';
  if (negative) ++i;
  for (; i < e; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  const int exponent = std::atoi(std::string(sci.substr(e + 1)).c_str());
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 6) {
    out.push_back(digits[0]);
    if (digits.size() > 1) absl::StrAppend(&out, ".", digits.substr(1));
    const int magnitude = std::abs(exponent);
    absl::StrAppend(&out, exponent < 0 ? "e-" : "e+", magnitude < 10 ? "0" : "",
                    magnitude);
    return out;
  }
  const int point = exponent + 1;  // digits before the decimal point
  if (point <= 0) {
    absl::StrAppend(&out, "0.", std::string(-point, '0'), digits);
  } else if (static_cast<size_t>(point) >= digits.size()) {
    absl::StrAppend(&out, digits, std::string(point - digits.size(), '0'));
  } else {
    absl::StrAppend(&out, digits.substr(0, point), ".", digits.substr(point));
  }
  return out;
}

void WriteTextFormat(std::vector<MetricFamily> families, std::string* out) {
  std::stable_sort(families.begin(), families.end(),
                   [](const MetricFamily& a, const MetricFamily& b) {
                     return a.name < b.name;
                   });
  for (size_t i = 0; i < families.size();) {
    MetricFamily& f = families[i];
    size_t next = i + 1;
    for (; next < families.size() && families[next].name == f.name; ++next) {
      for (ClientMetric& m : families[next].metric) {
        f.metric.push_back(std::move(m));
      }
    }
    for (ClientMetric& m : f.metric) {
      std::stable_sort(
          m.label.begin(), m.label.end(),
          [](const ClientMetric::Label& a, const ClientMetric::Label& b) {
            return a.name < b.name;
          });
    }
    std::stable_sort(f.metric.begin(), f.metric.end(), SeriesLess);
    if (!f.metric.empty()) AppendFamily(f, out);
    i = next;
  }
}

}  // namespace metrics
