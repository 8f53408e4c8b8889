// phyx-bench — the standard actor workloads of SPEC 13 as a table (or JSON lines).
//
//   phyx-bench                          every workload, a table
//   phyx-bench --workload ping-pong     one workload (repeatable)
//   phyx-bench --workers 2 --json       JSON: one object per line
//   phyx-bench --n 1000000              override the workload's main size
//   phyx-bench --list                   the workloads
//   phyx-bench --compare [--runs 3]     phyx beside CAF, Erlang, Go and Tokio, interleaved,
//                                       with the ratio column (runs tools/peers.sh)
//   phyx-bench load --rate R ...        the open-loop load harness (bench/load/load_driver.cpp)
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <thread>

#include "load/load_driver.hpp"
#include "workloads/workload.hpp"

using namespace phyx_bench;

namespace {

void usage() {
  std::cerr << "usage: phyx-bench [--workload NAME]... [--workers N] [--json] [--list]\n"
               "                  [--compare [--runs N]]\n"
               "                  [--n N] [--actors N] [--hops N] [--clients N] [--processes N] [--ms N]\n"
               "       phyx-bench load [--rate R] [--duration D] [--processes N] ... (phyx-bench load --help)\n";
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end != nullptr && *end == '\0';
}

void print_json(const Measurement& m) {
  std::printf("{\"workload\": \"%s\", \"value\": %.6g, \"unit\": \"%s\", \"ok\": %s, \"params\": {", m.workload.c_str(),
              m.value, m.unit.c_str(), m.ok ? "true" : "false");
  bool first = true;
  for (const auto& [k, v] : m.params) {
    std::printf("%s\"%s\": ", first ? "" : ", ", json_escape(k).c_str());
    if (is_number(v)) {
      std::printf("%s", v.c_str());
    } else {
      std::printf("\"%s\"", json_escape(v).c_str());
    }
    first = false;
  }
  std::printf("}}\n");
  std::fflush(stdout);
}

void print_row(const Measurement& m) {
  std::string params;
  for (const auto& [k, v] : m.params) params += (params.empty() ? "" : " ") + k + "=" + v;
  std::printf("%-16s %14.4g  %-14s %s%s\n", m.workload.c_str(), m.value, m.unit.c_str(),
              m.ok ? "" : "[WRONG RESULT] ", params.c_str());
  std::fflush(stdout);
}

/// --compare: the peers' versions of the workloads (../shared/anchors) run interleaved with
/// this binary by tools/peers.sh, which builds them, runs `runs` rounds and prints the
/// median table with the ratio column. One implementation of the interleaving, not two.
/// Returns only on failure (exec).
int run_compare(const std::set<std::string>& only, unsigned workers, long runs) {
  const std::filesystem::path script = std::filesystem::path(PHYX_SOURCE_DIR) / "tools" / "peers.sh";
  std::error_code ec;
  if (!std::filesystem::exists(script, ec)) {
    std::cerr << "phyx-bench --compare: " << script
              << " is not there (it runs the peers; it needs phyx's source tree)\n";
    return 2;
  }
  const std::string self = std::filesystem::canonical("/proc/self/exe", ec).string();
  std::string workloads;
  for (const auto& w : only) workloads += (workloads.empty() ? "" : ",") + w;
  ::setenv("PHYX_BENCH", self.c_str(), 1);
  ::setenv("RUNS", std::to_string(runs).c_str(), 1);
  ::setenv("WORKERS", std::to_string(workers).c_str(), 1);
  if (!workloads.empty()) ::setenv("ONLY_WORKLOADS", workloads.c_str(), 1);
  std::fflush(stdout);
  ::execlp("bash", "bash", script.c_str(), static_cast<char*>(nullptr));
  std::perror("phyx-bench --compare: exec bash");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "load") == 0) return phyx_bench::load::run_load(argc - 1, argv + 1);
  Params params;
  bool json = false;
  bool compare = false;
  long runs = 3;
  std::set<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--json") {
      json = true;
    } else if (a == "--compare") {
      compare = true;
    } else if (a == "--runs") {
      runs = std::stol(value());
    } else if (a == "--workload") {
      only.insert(value());
    } else if (a == "--workers") {
      params.workers = static_cast<unsigned>(std::stoul(value()));
    } else if (a == "--list") {
      for (const auto& w : all_workloads())
        std::printf("%-16s %s\n", w.name.c_str(), w.what.c_str());
      return 0;
    } else if (a.rfind("--", 0) == 0 && a.size() > 2 && a != "--help") {
      params.overrides[a.substr(2)] = std::stoll(value());
    } else {
      usage();
      return a == "--help" ? 0 : 2;
    }
  }
  const unsigned workers = params.workers != 0 ? params.workers : std::thread::hardware_concurrency();
  if (compare) return run_compare(only, workers, runs);
  if (!json) {
    std::printf("phyx-bench: %u workers (hardware threads: %u)\n", workers, std::thread::hardware_concurrency());
    std::printf("%-16s %14s  %-14s %s\n", "workload", "value", "unit", "params");
  }
  bool all_ok = true;
  bool matched = false;
  for (const auto& w : all_workloads()) {
    if (!only.empty() && !only.contains(w.name)) continue;
    matched = true;
    for (auto& m : w.run(params)) {
      m.params["workers"] = std::to_string(workers);
      all_ok &= m.ok;
      json ? print_json(m) : print_row(m);
    }
  }
  if (!matched) {
    std::cerr << "phyx-bench: no workload matches; --list shows them\n";
    return 2;
  }
  return all_ok ? 0 : 1;
}
