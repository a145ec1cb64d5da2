// SPDX-License-Identifier: MIT
// Machine probe: /proc/meminfo, cgroup memory limit, CPU affinity, ISA flags (from the kernels'
// dispatch) for reports, huge page mode and GPU driver for doctor.
#include "plan/hardware.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "kernels/cpu/dispatch.h"
#include "plan/byte_size.h"

namespace moefit {
namespace {

std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "MemTotal:       24567892 kB" -> bytes, for the line starting with `key`.
std::optional<uint64_t> MeminfoValue(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != ':') continue;
    line.remove_prefix(key.size() + 1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    uint64_t value = 0;
    const auto [ptr, error] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (error != std::errc()) return std::nullopt;
    const std::string_view unit = line.substr(static_cast<size_t>(ptr - line.data()));
    return unit.find("kB") != std::string_view::npos ? value * 1024 : value;
  }
  return std::nullopt;
}

int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

MeminfoFigures ParseMeminfo(std::string_view text) {
  MeminfoFigures figures;
  const std::optional<uint64_t> total = MeminfoValue(text, "MemTotal");
  if (!total) Fail("/proc/meminfo has no MemTotal line");
  figures.total_bytes = *total;
  // Kernels before 3.14 lack MemAvailable: approximate with free + page cache.
  if (const std::optional<uint64_t> available = MeminfoValue(text, "MemAvailable")) {
    figures.available_bytes = *available;
  } else {
    figures.available_bytes = MeminfoValue(text, "MemFree").value_or(0) + MeminfoValue(text, "Cached").value_or(0);
  }
  figures.available_bytes = std::min(figures.available_bytes, figures.total_bytes);
  figures.free_bytes = std::min(MeminfoValue(text, "MemFree").value_or(0), figures.total_bytes);
  return figures;
}

std::optional<uint64_t> ParseCgroupLimit(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  uint64_t value = 0;
  const auto [ptr, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::vector<std::string> ProbeIsaForReport() {
  std::vector<std::string> isa;
  std::istringstream flags(DescribeCpuFeatures(DetectCpuFeatures()));
  for (std::string flag; flags >> flag;)
    if (!flag.starts_with("os-")) isa.push_back(flag);
  return isa;
}

std::string ParseHugePageMode(std::string_view text) {
  const size_t open = text.find('['), close = text.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return {};
  return std::string(text.substr(open + 1, close - open - 1));
}

std::string ParseNvidiaDriverVersion(std::string_view text) {
  // The version is the first word after "Kernel Module" made of digits and dots.
  const size_t module = text.find("Kernel Module");
  if (module == std::string_view::npos) return {};
  std::istringstream words{std::string(text.substr(module + 13))};
  for (std::string word; words >> word;) {
    if (word.find_first_not_of("0123456789.") == std::string::npos && std::isdigit(static_cast<unsigned char>(word[0])))
      return word;
  }
  return {};
}

MachineReport ProbeMachineReport() {
  MachineReport report;
  report.spec = ProbeMachine();
  if (const std::string meminfo = ReadSmallFile("/proc/meminfo"); !meminfo.empty())
    report.ram_free_bytes = std::min(ParseMeminfo(meminfo).free_bytes, report.spec.ram_available_bytes);
  else
    report.ram_free_bytes = report.spec.ram_available_bytes;
  const char* requested = std::getenv("MOEFIT_ISA");
  try {
    report.kernel_isa = IsaName(ResolveIsa(requested == nullptr ? "" : requested, DetectCpuFeatures()));
  } catch (const Error& error) {
    report.kernel_isa = IsaName(BestIsa(DetectCpuFeatures()));
    report.kernel_isa_error = error.what();
  }
  report.huge_pages = ParseHugePageMode(ReadSmallFile("/sys/kernel/mm/transparent_hugepage/enabled"));
  if (const std::string version = ParseNvidiaDriverVersion(ReadSmallFile("/proc/driver/nvidia/version")); !version.empty())
    report.gpu_driver = "NVIDIA " + version;
  return report;
}

MachineSpec ProbeMachine() {
  MachineSpec machine;
  machine.probed = true;
  const std::string meminfo = ReadSmallFile("/proc/meminfo");
  if (!meminfo.empty()) {
    const MeminfoFigures figures = ParseMeminfo(meminfo);
    machine.ram_total_bytes = figures.total_bytes;
    machine.ram_available_bytes = figures.available_bytes;
  } else {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page_size > 0)
      machine.ram_total_bytes = machine.ram_available_bytes = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
  }
  // A container's memory limit is the machine as far as this process is concerned.
  if (const std::optional<uint64_t> limit = ParseCgroupLimit(ReadSmallFile("/sys/fs/cgroup/memory.max"));
      limit && *limit < machine.ram_total_bytes) {
    const uint64_t current = ParseCgroupLimit(ReadSmallFile("/sys/fs/cgroup/memory.current")).value_or(0);
    machine.ram_total_bytes = *limit;
    machine.ram_available_bytes = std::min(machine.ram_available_bytes, *limit > current ? *limit - current : 0);
  }
  machine.cores = UsableCores();
  machine.isa = ProbeIsaForReport();
  return machine;
}

MachineSpec ApplyOverrides(MachineSpec machine, const MachineOverrides& overrides) {
  if (overrides.ram_bytes) {
    machine.ram_total_bytes = machine.ram_available_bytes = *overrides.ram_bytes;
    machine.probed = false;
  }
  if (overrides.cores) {
    machine.cores = *overrides.cores;
    machine.probed = false;
  }
  if (overrides.gpu_bytes) {
    machine.gpus.clear();
    for (size_t i = 0; i < overrides.gpu_bytes->size(); ++i)
      machine.gpus.push_back({fmt::format("gpu{}", i), (*overrides.gpu_bytes)[i], (*overrides.gpu_bytes)[i]});
    machine.probed = false;
  }
  return machine;
}

std::string DescribeMachine(const MachineSpec& machine) {
  std::string text = FormatByteSize(machine.ram_total_bytes) + " RAM";
  if (machine.ram_available_bytes != machine.ram_total_bytes)
    text += fmt::format(" ({} free)", FormatByteSize(machine.ram_available_bytes));
  if (machine.cores > 0) text += fmt::format(", {} cores", machine.cores);
  for (size_t i = 0; i < machine.gpus.size(); ++i) {
    const GpuSpec& gpu = machine.gpus[i];
    const std::string name = fmt::format("gpu{}", i);
    text += fmt::format(", {} {}{}", name, FormatByteSize(gpu.total_bytes), gpu.name == name ? "" : " (" + gpu.name + ")");
  }
  if (machine.gpus.empty()) text += ", no GPU";
  if (!machine.isa.empty()) {
    text += ",";
    for (const std::string& flag : machine.isa) text += " " + flag;
  }
  return text;
}

}  // namespace moefit
