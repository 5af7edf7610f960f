#include "controller/metrics.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <sstream>

namespace hostgw::controller {
namespace {

TEST(MetricsTest, RendersCounterAndGaugeWithHelpAndType) {
  MetricsRegistry registry;
  registry.counter("kube_hostgw_things_total", "Things done.").inc(3);
  registry.gauge("kube_hostgw_level", "A level.").set(0.25);
  EXPECT_EQ(registry.render(),
            "# HELP kube_hostgw_things_total Things done.\n"
            "# TYPE kube_hostgw_things_total counter\n"
            "kube_hostgw_things_total 3\n"
            "# HELP kube_hostgw_level A level.\n"
            "# TYPE kube_hostgw_level gauge\n"
            "kube_hostgw_level 0.25\n");
}

TEST(MetricsTest, LabelledSeriesShareOneFamilyAndAreEscaped) {
  MetricsRegistry registry;
  registry.counter("x_total", "Help with \\ and\nnewline.", {{"op", "add"}, {"result", "ok"}}).inc();
  registry.counter("x_total", "ignored", {{"op", "add"}, {"result", "error"}}).inc(2);
  registry.counter("x_total", "ignored", {{"op", "we\"ird\\\n"}, {"result", "ok"}}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP x_total Help with \\\\ and\\nnewline.\n"
            "# TYPE x_total counter\n"
            "x_total{op=\"add\",result=\"error\"} 2\n"
            "x_total{op=\"add\",result=\"ok\"} 1\n"
            "x_total{op=\"we\\\"ird\\\\\\n\",result=\"ok\"} 1\n");
}

TEST(MetricsTest, SameSeriesIsTheSameObject) {
  MetricsRegistry registry;
  Counter& a = registry.counter("c_total", "h", {{"k", "v"}});
  Counter& b = registry.counter("c_total", "h", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_THROW(registry.gauge("c_total", "h"), std::logic_error);
}

TEST(MetricsTest, CounterNeverGoesDown) {
  Counter counter;
  counter.inc(2);
  counter.inc(-5);
  EXPECT_EQ(counter.value(), 2);
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry registry;
  auto& histogram = registry.histogram("d_seconds", "Durations.", {0.1, 1, 2.5});
  histogram.observe(0.05);
  histogram.observe(0.1);  // le is inclusive
  histogram.observe(2);
  histogram.observe(7);
  EXPECT_EQ(registry.render(),
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{le=\"0.1\"} 2\n"
            "d_seconds_bucket{le=\"1\"} 2\n"
            "d_seconds_bucket{le=\"2.5\"} 3\n"
            "d_seconds_bucket{le=\"+Inf\"} 4\n"
            "d_seconds_sum 9.15\n"
            "d_seconds_count 4\n");
}

TEST(MetricsTest, HistogramLabelsComeBeforeLe) {
  MetricsRegistry registry;
  registry.histogram("h", "H.", {1}, {{"verb", "LIST"}}).observe(0.5);
  std::string text = registry.render();
  EXPECT_NE(text.find("h_bucket{verb=\"LIST\",le=\"1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count{verb=\"LIST\"} 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, CollectorsRunBeforeRendering) {
  MetricsRegistry registry;
  Gauge& gauge = registry.gauge("g", "G.");
  int calls = 0;
  registry.add_collector([&] { gauge.set(++calls); });
  EXPECT_NE(registry.render().find("g 1\n"), std::string::npos);
  EXPECT_NE(registry.render().find("g 2\n"), std::string::npos);
}

TEST(MetricsTest, ValueFormatting) {
  EXPECT_EQ(format_metric_value(0), "0");
  EXPECT_EQ(format_metric_value(-3), "-3");
  EXPECT_EQ(format_metric_value(1e20), "1e+20");
  EXPECT_EQ(format_metric_value(0.001), "0.001");
  // As Prometheus' clients write bucket bounds (%g style), not the shorter exponent form.
  EXPECT_EQ(format_metric_value(0.0005), "0.0005");
  EXPECT_EQ(format_metric_value(0.0001), "0.0001");
  EXPECT_EQ(format_metric_value(0.00025), "0.00025");
  EXPECT_EQ(format_metric_value(0.1234567), "0.1234567");
  EXPECT_EQ(format_metric_value(1e-5), "1e-05");
  EXPECT_EQ(format_metric_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_metric_value(0.0 / 0.0), "NaN");
}

TEST(MetricsTest, ErrnoNames) {
  EXPECT_EQ(errno_name(ENETUNREACH), "ENETUNREACH");
  EXPECT_EQ(errno_name(EEXIST), "EEXIST");
  EXPECT_EQ(errno_name(99999), "E99999");
}

// Every line is a comment or `name{labels} value` with a metric name that Prometheus accepts.
TEST(MetricsTest, ControllerMetricsExposeEveryFamilyWithPrefix) {
  MetricsRegistry registry;
  ControllerMetrics metrics(registry);
  metrics.route_changes(routing::ChangeKind::add, true).inc();
  metrics.netlink_errors(ENETUNREACH).inc();
  metrics.triggers("node").inc();
  std::string text = registry.render();
  for (const char* name :
       {"kube_hostgw_nodes ", "kube_hostgw_routes_desired ", "kube_hostgw_routes_installed ",
        "kube_hostgw_reconcile_passes_total ", "kube_hostgw_reconcile_duration_seconds_bucket{le=\"0.001\"} 0",
        "kube_hostgw_node_event_apply_seconds_bucket{le=\"0.0005\"} 0",
        "kube_hostgw_nodes_skipped{reason=\"overlaps_other_node\"} 0", "kube_hostgw_nodes_skipped{reason=\"self\"} 0",
        "kube_hostgw_route_changes_total{op=\"add\",result=\"ok\"} 1",
        "kube_hostgw_netlink_errors_total{errno=\"ENETUNREACH\"} 1",
        "kube_hostgw_reconcile_triggers_total{source=\"node\"} 1",
        "# TYPE kube_hostgw_reconcile_duration_seconds histogram"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << "\n" << text;
  }
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    EXPECT_TRUE(line.starts_with("kube_hostgw_")) << line;
    EXPECT_NE(line.rfind(' '), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace hostgw::controller
