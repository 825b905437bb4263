// The Prometheus text exposition format (version 0.0.4), written byte for
// byte as Go's client (expfmt) writes it, so that every series, `le` bucket
// label included, is the same series as the reference's.
//
//   - Numbers (sample values, `le`, `quantile`) as Go's
//     strconv.FormatFloat(f, 'g', -1, 64): the shortest digits that read
//     back as the same double, exponent form when the decimal exponent is
//     below -4 or at least 6 ("1e+06", "1.58e+06", "79000", "0.0079",
//     "0.010000000000000002"); "+Inf", "-Inf", "NaN"; 0 as "0".
//   - Families sorted by name, same-named families merged, empty ones left
//     out; labels of a series sorted by name; series sorted by label values.
//   - A histogram's buckets, then _sum, then _count; a summary's quantiles,
//     then _sum, then _count. "# HELP" (when there is help) and "# TYPE"
//     before each family.
//   - Label values escape \ " and newline; help escapes \ and newline.
//
// Stateless and thread-safe.
#ifndef TCPINFO_METRICS_TEXT_FORMAT_H_
#define TCPINFO_METRICS_TEXT_FORMAT_H_

#include <string>
#include <vector>

#include "prometheus/metric_family.h"

namespace metrics {

// The content type of WriteTextFormat's output.
inline constexpr char kTextFormatContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

// `value` as Go's expfmt writes a float (see above).
std::string FormatGoFloat(double value);

// Appends the exposition of `families` to `out`. Takes the families by
// value: they are sorted in place.
void WriteTextFormat(std::vector<prometheus::MetricFamily> families,
                     std::string* out);

}  // namespace metrics

#endif  // TCPINFO_METRICS_TEXT_FORMAT_H_
