// SPDX-License-Identifier: MIT
// The machine probe: /proc/meminfo and cgroup parsing, the probe itself, overrides.
#include "plan/hardware.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace moefit {
namespace {

TEST(Hardware, ParsesMeminfo) {
  const MeminfoFigures figures = ParseMeminfo(
      "MemTotal:       24567892 kB\nMemFree:         1234567 kB\nMemAvailable:   18000000 kB\nBuffers:  100 kB\n");
  EXPECT_EQ(figures.total_bytes, 24567892ull * 1024);
  EXPECT_EQ(figures.available_bytes, 18000000ull * 1024);
  EXPECT_EQ(figures.free_bytes, 1234567ull * 1024);
}

TEST(Hardware, OldKernelsWithoutMemAvailable) {
  const MeminfoFigures figures = ParseMeminfo("MemTotal: 1000 kB\nMemFree: 200 kB\nCached: 300 kB\n");
  EXPECT_EQ(figures.available_bytes, 500u * 1024);
  EXPECT_THROW(ParseMeminfo("MemFree: 200 kB\n"), Error);
  EXPECT_THROW(ParseMeminfo(""), Error);
}

TEST(Hardware, ParsesCgroupLimit) {
  EXPECT_FALSE(ParseCgroupLimit("max\n").has_value());
  EXPECT_FALSE(ParseCgroupLimit("").has_value());
  EXPECT_EQ(ParseCgroupLimit("1073741824\n"), 1073741824u);
}

TEST(Hardware, ParsesHugePageModeAndDriverVersion) {
  EXPECT_EQ(ParseHugePageMode("always [madvise] never\n"), "madvise");
  EXPECT_EQ(ParseHugePageMode("[always] madvise never\n"), "always");
  EXPECT_EQ(ParseHugePageMode(""), "");
  EXPECT_EQ(ParseNvidiaDriverVersion("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\n"
                                     "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"),
            "550.54.15");
  EXPECT_EQ(ParseNvidiaDriverVersion("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.104.05  Release Build\n"),
            "535.104.05");
  EXPECT_EQ(ParseNvidiaDriverVersion(""), "");
}

TEST(Hardware, ReportsThisMachineWithTheKernelsIsaLevel) {
  const MachineReport report = ProbeMachineReport();
  EXPECT_GT(report.spec.ram_total_bytes, 0u);
  EXPECT_LE(report.ram_free_bytes, report.spec.ram_available_bytes);
  EXPECT_TRUE(report.kernel_isa == "scalar" || report.kernel_isa == "avx2" || report.kernel_isa == "avx512") << report.kernel_isa;
  EXPECT_TRUE(report.gpu_runtime.empty()) << "no GPU runtime is built in yet";
}

TEST(Hardware, ProbesThisMachine) {
  const MachineSpec machine = ProbeMachine();
  EXPECT_TRUE(machine.probed);
  EXPECT_GT(machine.ram_total_bytes, 0u);
  EXPECT_LE(machine.ram_available_bytes, machine.ram_total_bytes);
  EXPECT_GE(machine.cores, 1);
  EXPECT_TRUE(machine.gpus.empty()) << "no GPU runtime is built in yet";
  EXPECT_FALSE(DescribeMachine(machine).empty());
}

TEST(Hardware, OverridesDescribeAnotherMachine) {
  const MachineSpec machine =
      ApplyOverrides(ProbeMachine(), {.ram_bytes = 32ull << 30, .cores = 8, .gpu_bytes = std::vector<uint64_t>{16ull << 30}});
  EXPECT_FALSE(machine.probed);
  EXPECT_EQ(machine.ram_total_bytes, 32ull << 30);
  EXPECT_EQ(machine.ram_available_bytes, 32ull << 30);
  EXPECT_EQ(machine.cores, 8);
  ASSERT_EQ(machine.gpus.size(), 1u);
  EXPECT_EQ(machine.gpus[0].total_bytes, 16ull << 30);
  EXPECT_EQ(machine.gpus[0].free_bytes, 16ull << 30);
}

}  // namespace
}  // namespace moefit
