// UsageLedger: per-user token and money totals per UTC day and month, and the
// budget check that refuses a request once a user's budget is spent. Time is
// always passed in (never read from a clock here), so tests drive it.
// Thread-safe: Check, Record and Seed may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "gate/config.h"
#include "net/provider_events.h"

namespace glassbox::gate {

class LogStore;
class SharedBudgets;

using TimePoint = std::chrono::system_clock::time_point;

// Price lookup: the first entry whose glob matches the model; a model given
// as "models/gemini-2.5-pro" or with a date suffix is matched as written.
std::optional<Price> FindPrice(const std::vector<PriceEntry>& prices, std::string_view model);

// Cost in USD of `usage` at `price`. Anthropic reports cache tokens apart
// from input_tokens; OpenAI and Gemini count cached tokens inside the input,
// which `provider` decides.
double UsageCostUsd(const Price& price, const net::Usage& usage, net::Provider provider);

struct UsageTotals {
  uint64_t day_tokens = 0;
  uint64_t month_tokens = 0;
  double day_usd = 0;
  double month_usd = 0;
  uint64_t unpriced_requests = 0;  // this month, models without a price (counted in tokens only)
};

struct BudgetDecision {
  bool allowed = true;
  // When refused: "daily_tokens", "monthly_tokens", "daily_usd" or "monthly_usd".
  std::string budget;
  // "user alice has used 120000 of 100000 daily tokens; the budget resets at
  // 2026-11-24T00:00:00Z"
  std::string message;
  std::string resets_at;  // RFC 3339 UTC
  // Whole seconds from the check to resets_at (at least 1): the 429's
  // retry-after.
  int64_t retry_after_seconds = 0;
};

// Usage held for one exchange in flight, from its admission (Reserve) to
// its end (Settle). Move-only value; settle it exactly once.
struct Reservation {
  std::string user;  // "" when nothing was reserved (no budgets for the user)
  int64_t day = -1, month = -1;
  uint64_t tokens = 0;
  double usd = 0;
  bool shared = false;  // also held in the store's shared budgets (ShareBudgets)
};

class UsageLedger {
 public:
  // Budgets from config.users, prices from config.prices.
  explicit UsageLedger(const GateConfig& config);

  // Whether `user` may send another request at `now`: refused once any of
  // their budgets is reached (spend >= limit). Users without budgets, and
  // users not in the config (anonymous), are always allowed.
  BudgetDecision Check(std::string_view user, TimePoint now) const;

  // Admission with a reservation, in one step under the ledger's lock:
  // refused (as Check) once spend plus what other exchanges in flight hold
  // reaches a budget; otherwise `estimate` (the request's input and its
  // largest possible output) is held in *reservation until Settle. So
  // concurrent requests can overshoot a budget by at most one request's
  // estimate, however many are admitted at once.
  BudgetDecision Reserve(std::string_view user, std::string_view model, const net::Usage& estimate,
                         net::Provider provider, TimePoint now, Reservation* reservation);
  // Releases `reservation` and records the exchange's `usage` (what the
  // provider reported, or the gateway's estimate when it reported nothing)
  // at `now`. A reservation of an earlier day or month is released from it.
  void Settle(std::string_view user, Reservation& reservation, std::string_view model,
              const net::Usage& usage, net::Provider provider, TimePoint now);
  // Budgets shared by a fleet of gate replicas through the log's store
  // (PostgreSQL, store.h): Reserve asks the store, which admits from this
  // replica's lease on the user's budget without a round trip while the
  // lease covers the estimate, and else takes a new lease in one atomic
  // statement that decides across every replica (SharedBudgets::Reserve);
  // Settle hands the spend to the store, which commits it in the
  // transaction of the exchange's record. The local totals still count
  // this replica's exchanges. When the store cannot be asked,
  // `refuse_when_down` refuses (budget "store_down", the gateway answers
  // 503), else this replica's own ledger decides.
  // Call before the gateway serves.
  void ShareBudgets(std::shared_ptr<SharedBudgets> shared, bool refuse_when_down);
  // Calls to the shared budgets that failed.
  uint64_t shared_errors() const;

  // Tokens and USD currently held by exchanges in flight for `user`.
  uint64_t ReservedTokens(std::string_view user, TimePoint now) const;
  // Takes the budgets and prices of `config` (a reload); totals and
  // reservations are kept.
  void Reconfigure(const GateConfig& config);

  // Adds one exchange's usage. Tokens counted: input + output + cache read +
  // cache creation (Anthropic) as reported.
  void Record(std::string_view user, std::string_view model, const net::Usage& usage,
              net::Provider provider, TimePoint now);

  // Adds a past exchange read from the audit log; `time` is RFC 3339 UTC.
  // Ignored (with an error) when the time does not parse.
  Status Seed(std::string_view user, std::string_view model, std::string_view time,
              uint64_t input_tokens, uint64_t output_tokens);

  // Seeds from every record of the current month in `log` (at `now`).
  Status SeedFromLog(LogStore& log, TimePoint now);

  UsageTotals Totals(std::string_view user, TimePoint now) const;

 private:
  struct Bucket {
    int64_t period = -1;  // days since epoch, or year*12+month
    uint64_t tokens = 0;
    double usd = 0;
    uint64_t unpriced = 0;
    uint64_t reserved_tokens = 0;  // held by exchanges in flight
    double reserved_usd = 0;
  };
  struct UserState {
    Bucket day;
    Bucket month;
  };
  void AddLocked(const std::string& user, int64_t day, int64_t month, uint64_t tokens,
                 std::optional<double> usd);
  BudgetDecision CheckLocked(std::string_view user, TimePoint now) const;
  std::optional<double> CostOf(  // with mu_ held
      std::string_view model, const net::Usage& usage, net::Provider provider) const;

  // Holds `estimate` in the local buckets (mu_ held).
  void HoldLocked(std::string_view user, const net::Usage& estimate, std::optional<double> usd,
                  TimePoint now, Reservation* reservation);

  std::shared_ptr<SharedBudgets> shared_;     // set before serving, then read only
  std::atomic<bool> refuse_when_down_{true};  // follows [log] on_store_down (Reconfigure)
  std::atomic<uint64_t> shared_errors_{0};
  std::map<std::string, UserConfig, std::less<>> users_;
  std::vector<PriceEntry> prices_;
  mutable std::mutex mu_;
  std::map<std::string, UserState, std::less<>> state_;
};

// RFC 3339 UTC text ("2026-11-23T13:45:00Z") of `t`, to the second.
std::string FormatRfc3339(TimePoint t);
// Parses "YYYY-MM-DDTHH:MM:SS[.frac]Z".
std::optional<TimePoint> ParseRfc3339(std::string_view text);

}  // namespace glassbox::gate
