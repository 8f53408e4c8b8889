// bank_account.cpp: the seed's "Advanced: Event Sourcing Integration".
//
// A bank account whose every state change is an event in a durable journal. The
// process's state (the balance) is never saved: `init` rebuilds it by replaying the
// journal. So the balance survives
//   - a crash of the process: the supervisor restarts it, and init replays, and
//   - a restart of the whole program: the journal is a file, appended with
//     Durability::fsync, so every deposit that was answered is on disk.
// A withdrawal larger than the balance is refused ("Insufficient funds") and leaves no
// event: only what happened is journaled.
//
// Run: example_bank_account [--deterministic] [--dir DIR]
//   Without --dir it makes a temporary directory, runs the first session there, then
//   starts this program again (a new OS process, nothing shared but the file) with
//   `--dir DIR --resume`, which must find the balance the first session left.
//   With --dir DIR it runs one session on DIR's journal: run it twice and watch the
//   balance carry over.
// Exit status 0 when every answer and every replayed balance is right.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <phyx/phyx.hpp>
#include <stdexcept>
#include <string>
#include <variant>

#include "example_options.hpp"

// --- Events: what is journaled. Trivially copyable, so the built-in codec stores it. ---
struct AccountEvent {
  enum class Kind : std::uint8_t { deposit, withdraw } kind;
  std::int64_t amount;
};

// --- Messages ---
struct Result {
  bool success = false;
  std::int64_t balance = 0;
  std::string error;
};
struct Deposit {
  std::int64_t amount;
  phyx::Reply<Result> reply;
};
struct Withdraw {
  std::int64_t amount;
  phyx::Reply<Result> reply;
};
struct GetBalance {
  phyx::Reply<std::int64_t> reply;
};
struct Crash {};  // makes the handler throw, to show the restart replaying the journal
using AccountMsg = std::variant<Deposit, Withdraw, GetBalance, Crash>;

struct Account {
  std::int64_t balance = 0;
};
// The journal lives in the context, not the state: it outlives every incarnation of the
// process (one Journal per file; the state is rebuilt, the journal is not).
struct AccountCtx {
  std::string account_id;
  std::shared_ptr<phyx::Journal<AccountEvent>> journal;
};

namespace {

void apply(Account& account, const AccountEvent& e) {
  account.balance += e.kind == AccountEvent::Kind::deposit ? e.amount : -e.amount;
}

auto account_spec() {
  return phyx::ProcessSpec<AccountMsg, Account, AccountCtx>{
      .name = "bank-account",
      // Rebuild the state from every event so far: on the first start, after a crash,
      // and after a restart of the program.
      // tour:begin replay (README.md shows these lines)
      .init =
          [](const AccountCtx& ctx) {
            Account account;
            ctx.journal->replay(
                0, [&](const phyx::Entry<AccountEvent>& e) { apply(account, e.data); });
            return account;
          },
      // tour:end replay
      .handle =
          [](Account& account, AccountMsg& msg, auto& tools) {
            const AccountCtx& ctx = tools.ctx();
            // tour:begin deposit (README.md shows these lines)
            if (auto* deposit = std::get_if<Deposit>(&msg)) {
              // Journal first (it returns once the event is on disk), then change the
              // state, then answer: an answered deposit is never lost.
              const AccountEvent event{AccountEvent::Kind::deposit, deposit->amount};
              ctx.journal->append(event);
              apply(account, event);
              tools.emit("account:deposit", {{"account", ctx.account_id},
                                             {"amount", deposit->amount},
                                             {"balance", account.balance}});
              deposit->reply(Result{true, account.balance, {}});
              return;
            }
            // tour:end deposit
            if (auto* withdraw = std::get_if<Withdraw>(&msg)) {
              if (account.balance < withdraw->amount) {
                withdraw->reply(Result{false, account.balance, "Insufficient funds"});
                return;  // nothing happened, so nothing is journaled
              }
              const AccountEvent event{AccountEvent::Kind::withdraw, withdraw->amount};
              ctx.journal->append(event);
              apply(account, event);
              withdraw->reply(Result{true, account.balance, {}});
              return;
            }
            if (auto* get = std::get_if<GetBalance>(&msg)) {
              get->reply(account.balance);
              return;
            }
            throw std::runtime_error("simulated crash");  // Crash
          },
  };
}

using AccountRef = phyx::ProcessRef<AccountMsg>;

Result deposit(const AccountRef& account, std::int64_t amount) {
  return account.ask<Result>([&](phyx::Reply<Result> r) {
                  return Deposit{amount, std::move(r)};
                })
      .get();
}
Result withdraw(const AccountRef& account, std::int64_t amount) {
  return account.ask<Result>([&](phyx::Reply<Result> r) {
                  return Withdraw{amount, std::move(r)};
                })
      .get();
}
std::int64_t balance(const AccountRef& account) {
  return account
      .ask<std::int64_t>([](phyx::Reply<std::int64_t> r) { return GetBalance{std::move(r)}; })
      .get();
}

void print(const char* what, const Result& r) {
  if (r.success) {
    std::printf("%-12s ok, balance %lld\n", what, static_cast<long long>(r.balance));
  } else {
    std::printf("%-12s refused: %s (balance %lld)\n", what, r.error.c_str(),
                static_cast<long long>(r.balance));
  }
}

/// One run of the program against the journal at dir/acc-123.journal. `expected_start`
/// is the balance the replay must find (-1: anything, for --dir runs by hand).
bool session(bool deterministic, const std::filesystem::path& dir, std::int64_t expected_start,
             bool first) {
  phyx::RuntimeOptions options = make_options(deterministic);
  phyx::Journal<AccountEvent>::Options journal_options;
  journal_options.clock = options.clock;
  journal_options.path = dir / "acc-123.journal";
  journal_options.durability = phyx::Durability::fsync;
  auto journal = std::make_shared<phyx::Journal<AccountEvent>>(journal_options);
  std::printf("journal %s: %zu events recovered\n", journal_options.path.c_str(), journal->size());

  phyx::Runtime rt(std::move(options));
  AccountRef account = rt.spawn(account_spec(), AccountCtx{"acc-123", journal});
  const std::int64_t start = balance(account);
  std::printf("replayed balance: %lld\n", static_cast<long long>(start));
  bool ok = expected_start < 0 || start == expected_start;

  if (first) {
    const Result d = deposit(account, 100);
    const Result w = withdraw(account, 30);
    const Result too_much = withdraw(account, 500);
    print("deposit 100", d);
    print("withdraw 30", w);
    print("withdraw 500", too_much);
    ok &= d.success && d.balance == start + 100 && w.success && w.balance == start + 70;
    ok &= !too_much.success && too_much.error == "Insufficient funds" &&
          too_much.balance == start + 70;

    account.send(Crash{});  // the state is lost; the restart replays the journal
    const std::int64_t after_crash = balance(account);
    std::printf("after a crash and restart: balance %lld (restarts: %llu)\n",
                static_cast<long long>(after_crash),
                static_cast<unsigned long long>(rt.stats().restarts));
    ok &= after_crash == start + 70 && rt.stats().restarts == 1;
  } else {
    const Result d = deposit(account, 5);
    print("deposit 5", d);
    ok &= d.success && d.balance == start + 5;
  }
  rt.shutdown(std::chrono::seconds(5));
  return ok;
}

/// Starts this program again as a new OS process and waits for it.
bool run_again(const char* self, const std::filesystem::path& dir, bool deterministic) {
  std::fflush(stdout);
  const pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    const std::string dir_arg = dir.string();
    if (deterministic) {
      ::execl(self, self, "--dir", dir_arg.c_str(), "--resume", "--deterministic",
              static_cast<char*>(nullptr));
    } else {
      ::execl(self, self, "--dir", dir_arg.c_str(), "--resume", static_cast<char*>(nullptr));
    }
    std::_Exit(127);
  }
  int status = 0;
  return ::waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

const char* flag_value(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  const bool deterministic = has_flag(argc, argv, "--deterministic");
  try {
    if (const char* dir = flag_value(argc, argv, "--dir")) {
      if (has_flag(argc, argv, "--resume")) {
        std::printf("--- the program again, a new process: the balance comes back from the file\n");
        const bool ok = session(deterministic, dir, 70, false);
        std::printf("%s\n", ok ? "OK" : "WRONG");
        return ok ? 0 : 1;
      }
      const bool ok = session(deterministic, dir, -1, true);
      return ok ? 0 : 1;
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "phyx-bank-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed in " + pattern);
    const std::filesystem::path dir = pattern;
    std::printf("--- first run, journal in %s\n", dir.c_str());
    bool ok = session(deterministic, dir, 0, true);
    ok &= run_again(argv[0], dir, deterministic);
    std::filesystem::remove_all(dir);
    std::printf("%s\n", ok ? "OK" : "WRONG");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
    return 1;
  }
}
