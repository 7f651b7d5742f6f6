// JsEvaluator on decoder shapes, on the limits, and on code it must refuse.
#include "audit/js_eval.h"

#include <gtest/gtest.h>

#include <string>

#include <fmt/format.h>

namespace glassbox::audit::internal {
namespace {

std::optional<EvalResult> EvalJs(const std::string& source, const EvalLimits& limits = {}) {
  JsEvaluator evaluator(source, nullptr);
  return evaluator.EvaluateSource(source, limits);
}

TEST(JsEval, Base64XorWithDefaultParameterKey) {
  // "api.example.com" XOR-ed with "k3y", base64.
  const auto r = EvalJs(R"(const d=(s,k="k3y")=>{const b=Buffer.from(s,"base64");let o="";
    for(let i=0;i<b.length;i++)o+=String.fromCharCode(b[i]^k.charCodeAt(i%k.length));return o};
    d(Buffer.from("api.example.com").map((c,i)=>c^"k3y".charCodeAt(i%3)).toString("base64")))");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->text, "api.example.com");
  EXPECT_GT(r->decoding_ops, 0u);
}

// Regression: a decoder that appends one character at a time to a string
// (`n+=String.fromCharCode(...)`) over a 4 KB list was charged a full copy
// per character and stopped at the memory limit; appends are now in place.
TEST(JsEval, CharacterByCharacterAppendOfALongListFitsTheLimits) {
  std::string list;
  for (int i = 0; i < 150; ++i) list += (i ? "," : "") + std::string("node") + std::to_string(i) + ".relay.example.com";
  std::string hex;
  for (unsigned char c : list) hex += fmt::format("{:02x}", c ^ 91);
  const auto r = EvalJs("const K=91;function d(h){let t=Buffer.from(h,\"hex\"),n=\"\";for(let r of t)n+=String.fromCharCode(r^K);"
                        "return n.split(\",\")} d(\"" + hex + "\")");
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->is_list);
  ASSERT_EQ(r->items.size(), 150u);
  EXPECT_EQ(r->items.back(), "node149.relay.example.com");
}

TEST(JsEval, SplitReverseJoinAndReduce) {
  auto r = EvalJs(R"("moc.elpmaxe.ipa".split("").reverse().join(""))");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->text, "api.example.com");
  r = EvalJs(R"([97,112,105].reduce((a,c)=>a+String.fromCharCode(c),""))");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->text, "api");
  r = EvalJs(R"(atob("YS5leGFtcGxlLGIuZXhhbXBsZQ==").split(","))");
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->is_list);
  EXPECT_EQ(r->items, (std::vector<std::string>{"a.example", "b.example"}));
}

TEST(JsEval, MemoThunkAndClosure) {
  const auto r = EvalJs(R"(function memo(f){let c;return()=>c??=f()}
    const K=7; function dec(h){let o="";for(let i=0;i<h.length;i+=2)o+=String.fromCharCode(parseInt(h.substr(i,2),16)^K);return o}
    const L=memo(()=>dec("666b6e"));
    L()+L())");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->text, "aliali");  // 0x66^7 a, 0x6b^7 l, 0x6e^7 i, twice (the second from the memo)
}

TEST(JsEval, FreeNamesGoToTheResolverAndAreRecorded) {
  const std::string module = R"(var KEY=0x2c; function unmask(s){return atob(s).split("").map(c=>String.fromCharCode(c.charCodeAt(0)^KEY)).join("")} unmask("TUk="))";
  JsEvaluator evaluator(module, [&](std::string_view name, uint32_t) -> std::optional<Declaration> {
    if (name == "KEY") return Declaration{Range{8, 12}, kNone, false};
    if (name == "unmask") {
      const uint32_t b = static_cast<uint32_t>(module.find("function unmask"));
      const uint32_t e = static_cast<uint32_t>(module.find(" unmask(\"TUk"));
      return Declaration{Range{b, e}, kNone, true};
    }
    return std::nullopt;
  });
  const uint32_t call = static_cast<uint32_t>(module.rfind("unmask("));
  const auto r = evaluator.Evaluate(Range{call, static_cast<uint32_t>(module.size())}, kNone);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->text, "ae");  // 'M'^0x2c, 'I'^0x2c
  ASSERT_EQ(r->used.size(), 2u);
  EXPECT_EQ(r->used[0].first, "unmask");
  EXPECT_EQ(r->used[1].first, "KEY");
}

TEST(JsEval, LimitsEndHostileCode) {
  EvalLimits limits;
  limits.max_steps = 10'000;
  EXPECT_FALSE(EvalJs("while(true){}", limits).has_value());
  EXPECT_FALSE(EvalJs("for(;;){}", limits).has_value());
  EXPECT_FALSE(EvalJs("function f(){return f()} f()", limits).has_value());
  limits.max_steps = 10'000'000;
  limits.max_units = 1 << 16;
  EXPECT_FALSE(EvalJs(R"(let s="x";for(let i=0;i<40;i++)s+=s;s)", limits).has_value());
  EXPECT_FALSE(EvalJs(R"("x".repeat(1e9))", limits).has_value());
  EXPECT_FALSE(EvalJs("new Array(1e9)", limits).has_value());
}

TEST(JsEval, NothingOutsideTheAllowList) {
  EXPECT_FALSE(EvalJs(R"(process.env.HOME)").has_value());
  EXPECT_FALSE(EvalJs(R"(require("fs").readFileSync("/etc/passwd","utf8"))").has_value());
  EXPECT_FALSE(EvalJs(R"(eval("1+1"))").has_value());
  EXPECT_FALSE(EvalJs(R"(globalThis.fetch("http://example.com"))").has_value());
  EXPECT_FALSE(EvalJs(R"(new Function("return 1")())").has_value());
  EXPECT_FALSE(EvalJs(R"(class A{}; "x")").has_value());
  EXPECT_FALSE(EvalJs(R"(Date.now().toString())").has_value());
  EXPECT_FALSE(EvalJs(R"(Math.random().toString())").has_value());
}

TEST(JsEval, ObjectPropertyThatCannotBeEvaluatedPoisonsOnlyItself) {
  auto r = EvalJs(R"(const C={key:"k",env:process.env.X}; C.key+"ey")");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->text, "key");
  EXPECT_FALSE(EvalJs(R"(const C={key:"k",env:process.env.X}; C.env)").has_value());
}

}  // namespace
}  // namespace glassbox::audit::internal
