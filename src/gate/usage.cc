#include "gate/usage.h"

#include <fmt/format.h>

#include <charconv>

#include "gate/audit_log.h"
#include "gate/store.h"

namespace glassbox::gate {

namespace {

using std::chrono::days;
using std::chrono::sys_days;

struct Periods {
  int64_t day;    // days since 1970-01-01 (UTC)
  int64_t month;  // year * 12 + (month - 1)
};

Periods PeriodsOf(TimePoint t) {
  const sys_days d = std::chrono::floor<days>(t);
  const std::chrono::year_month_day ymd(d);
  return {d.time_since_epoch().count(), static_cast<int64_t>(static_cast<int>(ymd.year())) * 12 +
                                            static_cast<unsigned>(ymd.month()) - 1};
}

std::string DayStart(int64_t day) { return FormatRfc3339(TimePoint(sys_days(days(day)))); }

std::string MonthStart(int64_t month) {
  const std::chrono::year_month_day ymd(std::chrono::year(static_cast<int>(month / 12)),
                                        std::chrono::month(static_cast<unsigned>(month % 12) + 1),
                                        std::chrono::day(1));
  return FormatRfc3339(TimePoint(sys_days(ymd)));
}

uint64_t TokensOf(const net::Usage& u) {
  uint64_t n = u.input_tokens.value_or(0) + u.output_tokens.value_or(0);
  if (n == 0 && u.total_tokens) n = *u.total_tokens;
  return n + u.cache_read_tokens.value_or(0) + u.cache_creation_tokens.value_or(0);
}

// A refusal of `budget` ("daily_..." or "monthly_..."): its message,
// reset time and retry-after.
BudgetDecision Refused(std::string_view user, std::string_view budget, const std::string& used,
                       const std::string& limit, std::string_view unit, bool held, TimePoint now) {
  const Periods p = PeriodsOf(now);
  const bool daily = budget.starts_with("daily");
  BudgetDecision d;
  d.allowed = false;
  d.budget = std::string(budget);
  d.resets_at = daily ? DayStart(p.day + 1) : MonthStart(p.month + 1);
  const TimePoint day_reset_at = TimePoint(sys_days(days(p.day + 1)));
  // (ParseRfc3339 is defined below; the month start is computed directly.)
  const std::chrono::year_month_day next_month(
      std::chrono::year(static_cast<int>((p.month + 1) / 12)),
      std::chrono::month(static_cast<unsigned>((p.month + 1) % 12) + 1), std::chrono::day(1));
  const TimePoint reset_at = daily ? day_reset_at : TimePoint(sys_days(next_month));
  d.retry_after_seconds =
      std::max<int64_t>(1, std::chrono::ceil<std::chrono::seconds>(reset_at - now).count());
  d.message =
      fmt::format("user {} has used {} of the {} budget of {} {}{}; it resets at {}", user, used,
                  budget, limit, unit, held ? " (requests in flight included)" : "", d.resets_at);
  return d;
}

}  // namespace

std::string FormatRfc3339(TimePoint t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const sys_days d = std::chrono::floor<days>(secs);
  const std::chrono::year_month_day ymd(d);
  const std::chrono::hh_mm_ss hms(secs - d);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

std::optional<TimePoint> ParseRfc3339(std::string_view text) {
  if (!IsRfc3339Utc(text)) return std::nullopt;
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    std::from_chars(text.data() + pos, text.data() + pos + len, v);
    return v;
  };
  const std::chrono::year_month_day ymd(std::chrono::year(num(0, 4)), std::chrono::month(num(5, 2)),
                                        std::chrono::day(num(8, 2)));
  if (!ymd.ok()) return std::nullopt;
  const int h = num(11, 2), m = num(14, 2), s = num(17, 2);
  if (h > 23 || m > 59 || s > 60) return std::nullopt;
  return TimePoint(sys_days(ymd)) + std::chrono::hours(h) + std::chrono::minutes(m) +
         std::chrono::seconds(s);
}

std::optional<Price> FindPrice(const std::vector<PriceEntry>& prices, std::string_view model) {
  if (model.starts_with("models/")) model.remove_prefix(7);  // Gemini resource names
  for (const PriceEntry& e : prices) {
    if (GlobMatch(e.model, model)) return e.price;
  }
  return std::nullopt;
}

double UsageCostUsd(const Price& price, const net::Usage& usage, net::Provider provider) {
  const double cache_read = static_cast<double>(usage.cache_read_tokens.value_or(0));
  const double cache_write = static_cast<double>(usage.cache_creation_tokens.value_or(0));
  double input = static_cast<double>(usage.input_tokens.value_or(0));
  // OpenAI and Gemini count cached tokens inside the prompt; Anthropic apart.
  if (provider != net::Provider::kAnthropic) input = std::max(0.0, input - cache_read);
  const double output = static_cast<double>(usage.output_tokens.value_or(0));
  return (input * price.input + output * price.output +
          cache_read * price.cache_read.value_or(price.input) +
          cache_write * price.cache_write.value_or(price.input)) /
         1e6;
}

UsageLedger::UsageLedger(const GateConfig& config) : prices_(config.prices) {
  for (const UserConfig& u : config.users) users_.emplace(u.name, u);
}

void UsageLedger::AddLocked(const std::string& user, int64_t day, int64_t month, uint64_t tokens,
                            std::optional<double> usd) {
  UserState& s = state_[user];
  // Records may arrive out of order (seeding): only the current or a newer
  // period counts; a newer one starts afresh.
  for (auto [bucket, period] : {std::pair{&s.day, day}, std::pair{&s.month, month}}) {
    if (period < bucket->period) continue;
    if (period > bucket->period) *bucket = Bucket{period, 0, 0, 0};
    bucket->tokens += tokens;
    if (usd) {
      bucket->usd += *usd;
    } else {
      ++bucket->unpriced;
    }
  }
}

void UsageLedger::Record(std::string_view user, std::string_view model, const net::Usage& usage,
                         net::Provider provider, TimePoint now) {
  const Periods p = PeriodsOf(now);
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<double> usd = CostOf(model, usage, provider);
  AddLocked(std::string(user), p.day, p.month, TokensOf(usage), usd);
}

Status UsageLedger::Seed(std::string_view user, std::string_view model, std::string_view time,
                         uint64_t input_tokens, uint64_t output_tokens) {
  std::optional<TimePoint> t = ParseRfc3339(time);
  if (!t) return Status::Error(fmt::format("usage seed: \"{}\" is not an RFC 3339 UTC time", time));
  net::Usage usage;
  usage.input_tokens = input_tokens;
  usage.output_tokens = output_tokens;
  // The log keeps input and output only; cache tokens, if any, were counted
  // in input_tokens by the gateway, at the input price.
  Record(user, model, usage, net::Provider::kAnthropic, *t);
  return Status::Ok();
}

Status UsageLedger::SeedFromLog(LogStore& log, TimePoint now) {
  const Periods p = PeriodsOf(now);
  const std::string since = MonthStart(p.month);
  Result<std::vector<LogStore::UsageRow>> rows = log.UsageSince(since);
  if (!rows.ok()) return rows.status();
  for (const LogStore::UsageRow& r : *rows) {
    if (r.input_tokens <= 0 && r.output_tokens <= 0) continue;
    if (Status st = Seed(r.user, r.model, r.time,
                         static_cast<uint64_t>(std::max<int64_t>(0, r.input_tokens)),
                         static_cast<uint64_t>(std::max<int64_t>(0, r.output_tokens)));
        !st.ok()) {
      return Status::Error(fmt::format("audit log record at {}: {}", r.time, st.message()));
    }
  }
  return Status::Ok();
}

UsageTotals UsageLedger::Totals(std::string_view user, TimePoint now) const {
  const Periods p = PeriodsOf(now);
  UsageTotals t;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.find(user);
  if (it == state_.end()) return t;
  if (it->second.day.period == p.day) {
    t.day_tokens = it->second.day.tokens;
    t.day_usd = it->second.day.usd;
  }
  if (it->second.month.period == p.month) {
    t.month_tokens = it->second.month.tokens;
    t.month_usd = it->second.month.usd;
    t.unpriced_requests = it->second.month.unpriced;
  }
  return t;
}

BudgetDecision UsageLedger::Check(std::string_view user, TimePoint now) const {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckLocked(user, now);
}

BudgetDecision UsageLedger::CheckLocked(std::string_view user, TimePoint now) const {
  BudgetDecision d;
  auto u = users_.find(user);
  if (u == users_.end()) return d;
  const UserConfig& cfg = u->second;
  const Periods p = PeriodsOf(now);
  // Spend plus what exchanges in flight hold.
  uint64_t day_tokens = 0, month_tokens = 0;
  double day_usd = 0, month_usd = 0;
  bool held = false;  // some of it is held by requests in flight
  if (auto it = state_.find(user); it != state_.end()) {
    held = it->second.month.reserved_tokens > 0 || it->second.month.reserved_usd > 0;
    if (it->second.day.period == p.day) {
      day_tokens = it->second.day.tokens + it->second.day.reserved_tokens;
      day_usd = it->second.day.usd + it->second.day.reserved_usd;
    }
    if (it->second.month.period == p.month) {
      month_tokens = it->second.month.tokens + it->second.month.reserved_tokens;
      month_usd = it->second.month.usd + it->second.month.reserved_usd;
    }
  }
  auto refuse = [&](std::string_view budget, std::string used, std::string limit,
                    std::string_view unit) {
    d = Refused(user, budget, used, limit, unit, held, now);
  };
  if (cfg.daily_tokens && day_tokens >= *cfg.daily_tokens) {
    refuse("daily_tokens", std::to_string(day_tokens), std::to_string(*cfg.daily_tokens), "tokens");
  } else if (cfg.daily_usd && day_usd >= *cfg.daily_usd) {
    refuse("daily_usd", fmt::format("${:.4f}", day_usd), fmt::format("${:.2f}", *cfg.daily_usd),
           "USD");
  } else if (cfg.monthly_tokens && month_tokens >= *cfg.monthly_tokens) {
    refuse("monthly_tokens", std::to_string(month_tokens), std::to_string(*cfg.monthly_tokens),
           "tokens");
  } else if (cfg.monthly_usd && month_usd >= *cfg.monthly_usd) {
    refuse("monthly_usd", fmt::format("${:.4f}", month_usd),
           fmt::format("${:.2f}", *cfg.monthly_usd), "USD");
  }
  return d;
}

std::optional<double> UsageLedger::CostOf(std::string_view model, const net::Usage& usage,
                                          net::Provider provider) const {
  if (std::optional<Price> price = FindPrice(prices_, model))
    return UsageCostUsd(*price, usage, provider);
  return std::nullopt;
}

uint64_t UsageLedger::shared_errors() const {
  return shared_errors_.load() + (shared_ ? shared_->failures() : 0);
}

void UsageLedger::ShareBudgets(std::shared_ptr<SharedBudgets> shared, bool refuse_when_down) {
  std::lock_guard<std::mutex> lock(mu_);
  shared_ = std::move(shared);
  refuse_when_down_ = refuse_when_down;
}

void UsageLedger::HoldLocked(std::string_view user, const net::Usage& estimate,
                             std::optional<double> usd, TimePoint now, Reservation* reservation) {
  const Periods p = PeriodsOf(now);
  UserState& s = state_[std::string(user)];
  for (auto [bucket, period] : {std::pair{&s.day, p.day}, std::pair{&s.month, p.month}}) {
    if (period > bucket->period) *bucket = Bucket{period, 0, 0, 0, 0, 0};
  }
  reservation->user = std::string(user);
  reservation->day = p.day;
  reservation->month = p.month;
  reservation->tokens = TokensOf(estimate);
  reservation->usd = usd.value_or(0);
  for (Bucket* b : {&s.day, &s.month}) {
    b->reserved_tokens += reservation->tokens;
    b->reserved_usd += reservation->usd;
  }
}

BudgetDecision UsageLedger::Reserve(std::string_view user, std::string_view model,
                                    const net::Usage& estimate, net::Provider provider,
                                    TimePoint now, Reservation* reservation) {
  *reservation = Reservation{};
  if (shared_) {
    UserConfig cfg;
    std::optional<double> usd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto u = users_.find(user);
      if (u == users_.end()) return BudgetDecision{};
      cfg = u->second;
      usd = CostOf(model, estimate, provider);
    }
    // A user without budgets costs the store nothing.
    if (!cfg.daily_tokens && !cfg.monthly_tokens && !cfg.daily_usd && !cfg.monthly_usd) {
      std::lock_guard<std::mutex> lock(mu_);
      HoldLocked(user, estimate, usd, now, reservation);
      return BudgetDecision{};
    }
    const Periods p = PeriodsOf(now);
    const BudgetCaps caps{cfg.daily_tokens, cfg.monthly_tokens, cfg.daily_usd, cfg.monthly_usd};
    // From this replica's lease, or one round trip for a new one; no lock
    // of ours held meanwhile.
    auto r = shared_->Reserve(user, p.day, p.month, TokensOf(estimate), usd.value_or(0), caps);
    if (r.ok()) {
      if (!r->allowed) {
        const bool tokens = r->budget.ends_with("tokens");
        const std::optional<double> limit =
            r->budget == "daily_tokens"     ? std::optional<double>(cfg.daily_tokens.value_or(0))
            : r->budget == "monthly_tokens" ? std::optional<double>(cfg.monthly_tokens.value_or(0))
            : r->budget == "daily_usd"      ? cfg.daily_usd
                                            : cfg.monthly_usd;
        return Refused(user, r->budget,
                       tokens ? fmt::format("{:.0f}", r->used) : fmt::format("${:.4f}", r->used),
                       tokens ? fmt::format("{:.0f}", limit.value_or(0))
                              : fmt::format("${:.2f}", limit.value_or(0)),
                       tokens ? "tokens" : "USD", r->held, now);
      }
      std::lock_guard<std::mutex> lock(mu_);
      HoldLocked(user, estimate, usd, now, reservation);
      reservation->shared = true;
      return BudgetDecision{};
    }
    shared_errors_.fetch_add(1);
    if (refuse_when_down_) {
      BudgetDecision d;
      d.allowed = false;
      d.budget = "store_down";
      d.message = "budgets cannot be checked across the gate's replicas: " + r.status().message();
      d.retry_after_seconds = 1;
      return d;
    }
    // serve-unlogged: this replica's own ledger decides.
  }
  std::lock_guard<std::mutex> lock(mu_);
  BudgetDecision d = CheckLocked(user, now);
  if (!d.allowed || users_.find(user) == users_.end()) return d;
  HoldLocked(user, estimate, CostOf(model, estimate, provider), now, reservation);
  return d;
}

void UsageLedger::Settle(std::string_view user, Reservation& reservation, std::string_view model,
                         const net::Usage& usage, net::Provider provider, TimePoint now) {
  const Periods p = PeriodsOf(now);
  const uint64_t tokens = TokensOf(usage);
  if (shared_ && reservation.shared) {
    std::optional<double> usd;
    {
      std::lock_guard<std::mutex> lock(mu_);
      usd = CostOf(model, usage, provider);
    }
    const bool spent = tokens != 0 || usage.any();
    const bool held = reservation.tokens > 0 || reservation.usd > 0;
    if (spent || held) {
      Status st =
          shared_->Settle(user, reservation.day, reservation.month, held ? reservation.tokens : 0,
                          held ? reservation.usd : 0, p.day, p.month, spent ? tokens : 0,
                          spent ? usd : std::optional<double>(0.0));
      if (!st.ok()) shared_errors_.fetch_add(1);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<double> usd = CostOf(model, usage, provider);
  if (!reservation.user.empty()) {
    UserState& s = state_[reservation.user];
    for (auto [bucket, period] :
         {std::pair{&s.day, reservation.day}, std::pair{&s.month, reservation.month}}) {
      if (bucket->period != period) continue;  // a new day or month began: nothing held there
      bucket->reserved_tokens -= std::min(bucket->reserved_tokens, reservation.tokens);
      bucket->reserved_usd = std::max(0.0, bucket->reserved_usd - reservation.usd);
    }
    reservation = Reservation{};
  }
  if (tokens == 0 && !usage.any()) return;
  AddLocked(std::string(user), p.day, p.month, tokens, usd);
}

uint64_t UsageLedger::ReservedTokens(std::string_view user, TimePoint now) const {
  const Periods p = PeriodsOf(now);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.find(user);
  if (it == state_.end() || it->second.day.period != p.day) return 0;
  return it->second.day.reserved_tokens;
}

void UsageLedger::Reconfigure(const GateConfig& config) {
  std::lock_guard<std::mutex> lock(mu_);
  users_.clear();
  for (const UserConfig& u : config.users) users_.emplace(u.name, u);
  prices_ = config.prices;
  if (shared_) refuse_when_down_.store(!config.log.serve_unlogged);
}

}  // namespace glassbox::gate
