#include "gate/usage.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "gate/audit_log.h"
#include "gate/retention.h"
#include "gate/store.h"

namespace glassbox::gate {
namespace {

TimePoint At(std::string_view rfc3339) {
  std::optional<TimePoint> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return *t;
}

GateConfig Config(std::string_view toml) {
  Result<GateConfig> c = ParseGateConfig(toml, "gate.toml");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.value();
}

net::Usage Tokens(uint64_t in, uint64_t out) {
  net::Usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  return u;
}

TEST(UsageTime, Rfc3339RoundTrip) {
  EXPECT_EQ(FormatRfc3339(At("2026-11-23T13:45:07Z")), "2026-11-23T13:45:07Z");
  EXPECT_EQ(FormatRfc3339(At("2024-02-29T23:59:59.999Z")), "2024-02-29T23:59:59Z");
  EXPECT_FALSE(ParseRfc3339("2026-11-23 13:45:07").has_value());
  EXPECT_FALSE(ParseRfc3339("2026-02-30T00:00:00Z").has_value());
  EXPECT_FALSE(ParseRfc3339("2026-11-23T25:00:00Z").has_value());
}

TEST(UsagePrices, LookupAndCost) {
  const GateConfig c = DefaultGateConfig();
  std::optional<Price> mini = FindPrice(c.prices, "gpt-4o-mini-2024-07-18");
  ASSERT_TRUE(mini.has_value());
  EXPECT_DOUBLE_EQ(mini->input, 0.15) << "gpt-4o-mini must not take gpt-4o's price";
  ASSERT_TRUE(FindPrice(c.prices, "models/gemini-2.5-pro").has_value());
  EXPECT_FALSE(FindPrice(c.prices, "my-local-llama").has_value());

  const Price sonnet{3.0, 15.0, 0.3, 3.75};
  net::Usage u = Tokens(1000, 2000);
  u.cache_read_tokens = 10000;
  u.cache_creation_tokens = 1000;
  // Anthropic: cache tokens apart from input.
  EXPECT_NEAR(UsageCostUsd(sonnet, u, net::Provider::kAnthropic),
              (3000 + 30000 + 3000 + 3750) / 1e6, 1e-12);
  // OpenAI: cached tokens are part of the prompt count.
  const Price gpt{2.5, 10.0, 1.25, std::nullopt};
  net::Usage o = Tokens(10000, 100);
  o.cache_read_tokens = 8000;
  EXPECT_NEAR(UsageCostUsd(gpt, o, net::Provider::kOpenAi),
              (2000 * 2.5 + 100 * 10.0 + 8000 * 1.25) / 1e6, 1e-12);
}

TEST(UsageLedger, DailyTokenBudgetRefusesAndResets) {
  UsageLedger ledger(
      Config("[users.alice]\nkey = \"alice-key-0123456789\"\ndaily_tokens = 1000\n"));
  const TimePoint t = At("2026-11-23T10:00:00Z");
  EXPECT_TRUE(ledger.Check("alice", t).allowed);
  ledger.Record("alice", "claude-sonnet-4-5", Tokens(600, 300), net::Provider::kAnthropic, t);
  EXPECT_TRUE(ledger.Check("alice", t).allowed) << "900 of 1000 used";
  ledger.Record("alice", "claude-sonnet-4-5", Tokens(50, 50), net::Provider::kAnthropic, t);
  BudgetDecision d = ledger.Check("alice", At("2026-11-23T23:59:59Z"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.budget, "daily_tokens");
  EXPECT_EQ(d.resets_at, "2026-11-24T00:00:00Z");
  EXPECT_EQ(d.message,
            "user alice has used 1000 of the daily_tokens budget of 1000 tokens; it resets at "
            "2026-11-24T00:00:00Z");
  EXPECT_TRUE(ledger.Check("alice", At("2026-11-24T00:00:00Z")).allowed) << "a new day";
  // Users without budgets, and anonymous ones, are never refused.
  ledger.Record("anonymous", "x", Tokens(1u << 30, 0), net::Provider::kOpenAi, t);
  EXPECT_TRUE(ledger.Check("anonymous", t).allowed);
}

TEST(UsageLedger, MonthlyUsdBudgetAcrossDays) {
  UsageLedger ledger(Config(R"(
[users.bob]
key = "bob-key-0123456789ab"
monthly_usd = 1.0
[prices]
"house-model" = { input = 100.0, output = 100.0 }
)"));
  ledger.Record("bob", "house-model", Tokens(4000, 1000), net::Provider::kOpenAi,
                At("2026-12-01T00:00:00Z"));
  ledger.Record("bob", "house-model", Tokens(4000, 0), net::Provider::kOpenAi,
                At("2026-12-15T12:00:00Z"));
  UsageTotals t = ledger.Totals("bob", At("2026-12-15T12:00:01Z"));
  EXPECT_NEAR(t.month_usd, 0.9, 1e-9);
  EXPECT_NEAR(t.day_usd, 0.4, 1e-9);
  EXPECT_EQ(t.month_tokens, 9000u);
  EXPECT_TRUE(ledger.Check("bob", At("2026-12-20T00:00:00Z")).allowed);
  ledger.Record("bob", "house-model", Tokens(1000, 0), net::Provider::kOpenAi,
                At("2026-12-20T00:00:00Z"));
  BudgetDecision d = ledger.Check("bob", At("2026-12-31T23:00:00Z"));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.budget, "monthly_usd");
  EXPECT_EQ(d.resets_at, "2027-01-01T00:00:00Z");
  EXPECT_NE(d.message.find("$1.0000 of the monthly_usd budget of $1.00"), std::string::npos)
      << d.message;
  EXPECT_TRUE(ledger.Check("bob", At("2027-01-01T00:00:00Z")).allowed);
  // Models without a price count in tokens and are counted as unpriced.
  ledger.Record("bob", "unknown-model", Tokens(10, 10), net::Provider::kOpenAi,
                At("2027-01-02T00:00:00Z"));
  EXPECT_EQ(ledger.Totals("bob", At("2027-01-02T00:00:00Z")).unpriced_requests, 1u);
}

TEST(UsageLedger, ConcurrentRecordsAddUp) {
  UsageLedger ledger(
      Config("[users.c]\nkey = \"c-key-0123456789abcd\"\nmonthly_tokens = 100000000\n"));
  const TimePoint t = At("2026-11-23T10:00:00Z");
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 1000; ++k)
        ledger.Record("c", "gpt-5", Tokens(2, 1), net::Provider::kOpenAi, t);
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(ledger.Totals("c", t).month_tokens, 12000u);
}

TEST(UsageLedger, SeedsFromTheAuditLog) {
  const std::string path = ::testing::TempDir() + "/usage_seed_test.db";
  std::remove(path.c_str());
  {
    auto log = OpenLogStore(path, LogStore::OpenMode::kCreate, {});
    ASSERT_TRUE(log.ok()) << log.status().message();
    for (const auto& [time, in, out] :
         {std::tuple{"2026-10-31T23:00:00Z", 5000, 5000},  // last month: ignored
          std::tuple{"2026-11-02T08:00:00Z", 300, 200},
          std::tuple{"2026-11-23T08:00:00Z", 100, 50}}) {
      AuditRecord r;
      r.time = time;
      r.user = "alice";
      r.model = "claude-sonnet-4-5";
      r.method = "POST";
      r.path = "/v1/messages";
      r.status = 200;
      r.input_tokens = in;
      r.output_tokens = out;
      ASSERT_TRUE((*log)->Append(r).ok());
    }
    UsageLedger ledger(
        Config("[users.alice]\nkey = \"alice-key-0123456789\"\nmonthly_tokens = 600\n"));
    ASSERT_TRUE(ledger.SeedFromLog(**log, At("2026-11-23T12:00:00Z")).ok());
    const UsageTotals t = ledger.Totals("alice", At("2026-11-23T12:00:00Z"));
    EXPECT_EQ(t.month_tokens, 650u);
    EXPECT_EQ(t.day_tokens, 150u);
    EXPECT_NEAR(t.month_usd, (400 * 3.0 + 250 * 15.0) / 1e6, 1e-12);
    EXPECT_FALSE(ledger.Check("alice", At("2026-11-23T12:00:00Z")).allowed);
  }
  std::remove(path.c_str());
  EXPECT_FALSE(UsageLedger(DefaultGateConfig()).Seed("a", "m", "yesterday", 1, 1).ok());
}

TEST(Retention, DaysAndRecordsKeepTheChainVerifiable) {
  const std::string path = ::testing::TempDir() + "/retention_test.db";
  std::remove(path.c_str());
  auto log = OpenLogStore(path, LogStore::OpenMode::kCreate, {});
  ASSERT_TRUE(log.ok()) << log.status().message();
  for (int day = 1; day <= 10; ++day) {
    AuditRecord r;
    r.time = fmt::format("2026-11-{:02}T12:00:00Z", day);
    r.user = "u";
    r.method = "POST";
    r.path = "/v1/messages";
    ASSERT_TRUE((*log)->Append(r).ok());
  }
  const TimePoint now = At("2026-11-10T13:00:00Z");
  // Nothing configured: nothing deleted.
  Result<int64_t> n = ApplyRetention(RetentionConfig{}, **log, now);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  // Keep 7 days: records of Nov 1..3 go.
  RetentionConfig days;
  days.days = 7;
  n = ApplyRetention(days, **log, now);
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(*n, 3);
  // Keep 4 records: 3 more go; the stricter limit wins.
  RetentionConfig both = days;
  both.records = 4;
  Result<std::optional<std::string>> cutoff = RetentionCutoff(both, **log, now);
  ASSERT_TRUE(cutoff.ok());
  EXPECT_EQ(**cutoff, "2026-11-07T12:00:00Z");
  n = ApplyRetention(both, **log, now);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3);
  Result<std::vector<AuditRecord>> left = (*log)->List();
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 4u);
  Result<VerifyResult> v = (*log)->Verify(nullptr);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->reason;
  std::remove(path.c_str());
}

}  // namespace
}  // namespace glassbox::gate

namespace glassbox::gate {
namespace {

GateConfig BudgetConfig(uint64_t daily_tokens) {
  GateConfig c = DefaultGateConfig();
  UserConfig u;
  u.name = "carol";
  u.key_sha256 = std::string(64, 'a');
  u.daily_tokens = daily_tokens;
  c.users.push_back(u);
  return c;
}

TimePoint Noon() { return *ParseRfc3339("2026-11-23T12:00:00Z"); }

// Issue 17: 40 concurrent requests overshot a budget 4.1x, because each was
// admitted against spend alone. With reservations, admission counts what
// requests in flight hold, so the overshoot is at most one request's estimate.
TEST(UsageReservation, RegressionIssue17_ConcurrentRequestsCannotOvershootByMoreThanOneRequest) {
  UsageLedger ledger(BudgetConfig(400));
  const net::Usage estimate = Tokens(50, 100);  // 150 at most per request
  std::vector<Reservation> held;
  int admitted = 0;
  for (int i = 0; i < 40; ++i) {  // 40 requests arrive before any ends
    Reservation r;
    if (ledger.Reserve("carol", "m", estimate, net::Provider::kAnthropic, Noon(), &r).allowed) {
      ++admitted;
      held.push_back(std::move(r));
    }
  }
  EXPECT_EQ(admitted, 3) << "0, 150, 300 < 400 admit; 450 refuses";
  EXPECT_EQ(ledger.ReservedTokens("carol", Noon()), 450u);
  for (Reservation& r : held)
    ledger.Settle("carol", r, "m", estimate, net::Provider::kAnthropic, Noon());
  EXPECT_EQ(ledger.ReservedTokens("carol", Noon()), 0u);
  const uint64_t used = ledger.Totals("carol", Noon()).day_tokens;
  EXPECT_LE(used, 400u + 150u) << "overshoot bounded by one request's estimate";
  Reservation late;
  BudgetDecision d =
      ledger.Reserve("carol", "m", estimate, net::Provider::kAnthropic, Noon(), &late);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_seconds, 12 * 3600) << "until the day's budget resets";
}

TEST(UsageReservation, SettleChargesWhatWasUsedNotWhatWasReserved) {
  UsageLedger ledger(BudgetConfig(1000));
  Reservation r;
  ASSERT_TRUE(
      ledger.Reserve("carol", "m", Tokens(10, 4096), net::Provider::kOpenAi, Noon(), &r).allowed);
  EXPECT_EQ(ledger.ReservedTokens("carol", Noon()), 4106u);
  EXPECT_FALSE(ledger.Check("carol", Noon()).allowed)
      << "the reservation holds the budget while in flight";
  ledger.Settle("carol", r, "m", Tokens(10, 20), net::Provider::kOpenAi, Noon());
  EXPECT_EQ(ledger.Totals("carol", Noon()).day_tokens, 30u);
  EXPECT_TRUE(ledger.Check("carol", Noon()).allowed);
  // Settling twice releases nothing more.
  ledger.Settle("carol", r, "m", {}, net::Provider::kOpenAi, Noon());
  EXPECT_EQ(ledger.Totals("carol", Noon()).day_tokens, 30u);
}

TEST(UsageReservation, ReconfigureKeepsTotalsAndTakesNewBudgets) {
  UsageLedger ledger(BudgetConfig(100));
  ledger.Record("carol", "m", Tokens(60, 60), net::Provider::kAnthropic, Noon());
  EXPECT_FALSE(ledger.Check("carol", Noon()).allowed);
  ledger.Reconfigure(BudgetConfig(1000));
  EXPECT_TRUE(ledger.Check("carol", Noon()).allowed);
  EXPECT_EQ(ledger.Totals("carol", Noon()).day_tokens, 120u);
}

}  // namespace
}  // namespace glassbox::gate

namespace glassbox::gate {
namespace {

// A fleet's shared budgets as the ledger sees them (store.h), without a
// database: a cap of `cap` tokens, or an unreachable store.
class FakeSharedBudgets : public SharedBudgets {
 public:
  Result<SharedReserveResult> Reserve(std::string_view, int64_t, int64_t, uint64_t tokens, double,
                                      const BudgetCaps& caps) override {
    if (down) return Status::Error("postgresql://gate@db/audit: the database is unreachable");
    SharedReserveResult r;
    if (caps.daily_tokens && spent + held >= *caps.daily_tokens) {
      r.allowed = false;
      r.budget = "daily_tokens";
      r.used = static_cast<double>(spent + held);
      r.held = held > 0;
      return r;
    }
    held += tokens;
    return r;
  }
  Status Settle(std::string_view, int64_t, int64_t, uint64_t reserved_tokens, double, int64_t,
                int64_t, uint64_t tokens, std::optional<double>) override {
    if (down) return Status::Error("down");
    held -= reserved_tokens;
    spent += tokens;
    ++settles;
    return Status::Ok();
  }
  bool down = false;
  uint64_t spent = 0, held = 0;
  int settles = 0;
};

// Issue 19: with shared budgets the store decides, and settles; while it is
// down, on_store_down decides: refuse (503, "store_down") or this replica's
// own ledger.
TEST(UsageLedger, SharedBudgetsDecideAndStoreDownFollowsThePolicy) {
  const GateConfig config =
      Config("[users.alice]\nkey = \"alice-key-0123456789\"\ndaily_tokens = 1000\n");
  const TimePoint now = At("2026-11-23T12:00:00Z");
  auto shared = std::make_shared<FakeSharedBudgets>();
  UsageLedger ledger(config);
  ledger.ShareBudgets(shared, /*refuse_when_down=*/true);
  Reservation r;
  ASSERT_TRUE(
      ledger.Reserve("alice", "m", Tokens(100, 200), net::Provider::kAnthropic, now, &r).allowed);
  EXPECT_TRUE(r.shared);
  EXPECT_EQ(shared->held, 300u);
  ledger.Settle("alice", r, "m", Tokens(100, 50), net::Provider::kAnthropic, now);
  EXPECT_EQ(shared->held, 0u);
  EXPECT_EQ(shared->spent, 150u);
  // The store refuses: the ledger words it as its own refusal.
  shared->spent = 1200;
  BudgetDecision d =
      ledger.Reserve("alice", "m", Tokens(100, 200), net::Provider::kAnthropic, now, &r);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.budget, "daily_tokens");
  EXPECT_NE(d.message.find("1200 of the daily_tokens budget of 1000"), std::string::npos)
      << d.message;
  EXPECT_GE(d.retry_after_seconds, 1);
  // Down, refuse: refused as store_down, whatever the local ledger says.
  shared->down = true;
  d = ledger.Reserve("alice", "m", Tokens(1, 1), net::Provider::kAnthropic, now, &r);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.budget, "store_down");
  EXPECT_NE(d.message.find("unreachable"), std::string::npos) << d.message;
  EXPECT_EQ(ledger.shared_errors(), 1u);
  // Down, serve-unlogged (a reload may switch it): the local ledger decides.
  GateConfig serve = config;
  serve.log.serve_unlogged = true;
  ledger.Reconfigure(serve);
  d = ledger.Reserve("alice", "m", Tokens(1, 1), net::Provider::kAnthropic, now, &r);
  EXPECT_TRUE(d.allowed) << d.message;
  EXPECT_FALSE(r.shared);
  // Users without budgets never reach the store.
  shared->down = false;
  const int settles = shared->settles;
  Reservation anon;
  EXPECT_TRUE(
      ledger.Reserve("bob", "m", Tokens(1, 1), net::Provider::kAnthropic, now, &anon).allowed);
  ledger.Settle("bob", anon, "m", Tokens(1, 1), net::Provider::kAnthropic, now);
  EXPECT_EQ(shared->settles, settles);
}

}  // namespace
}  // namespace glassbox::gate
