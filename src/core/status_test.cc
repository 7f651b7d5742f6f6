#include "core/status.h"

#include <gtest/gtest.h>

#include <string>

namespace glassbox {
namespace {

TEST(StatusTest, OkHasNoCodeAndNoMessage) {
  Status s = Status::Ok();
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_TRUE(Status().ok());
}

// Status::Error(msg), the form most code uses, keeps working as before:
// an error whose kind is unknown.
TEST(StatusTest, ErrorIsUnknown) {
  Status s = Status::Error("disk full");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kUnknown);
  EXPECT_EQ(s.message(), "disk full");
  EXPECT_FALSE(s.IsNotFound());
  EXPECT_FALSE(Status::Error("").ok()) << "an empty message is still an error";
}

TEST(StatusTest, FactoriesSetTheirCode) {
  struct Case {
    Status status;
    StatusCode code;
    const char* name;
  };
  const Case cases[] = {
      {Status::NotFound("no record 9"), StatusCode::kNotFound, "not found"},
      {Status::Corruption("bad hash"), StatusCode::kCorruption, "corruption"},
      {Status::InvalidArgument("bad flag"), StatusCode::kInvalidArgument, "invalid argument"},
      {Status::Unavailable("server down"), StatusCode::kUnavailable, "unavailable"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(c.status.ok()) << c.name;
    EXPECT_EQ(c.status.code(), c.code) << c.name;
    EXPECT_STREQ(StatusCodeName(c.status.code()), c.name);
  }
  EXPECT_TRUE(cases[0].status.IsNotFound());
  EXPECT_TRUE(cases[1].status.IsCorruption());
  EXPECT_TRUE(cases[2].status.IsInvalidArgument());
  EXPECT_TRUE(cases[3].status.IsUnavailable());
  EXPECT_FALSE(cases[1].status.IsNotFound());
}

// Context added to a message keeps the code the caller branches on.
TEST(StatusTest, WithMessageKeepsTheCode) {
  Status s = Status::Corruption("record 3: bad hash").WithMessage("audit.db: record 3: bad hash");
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "audit.db: record 3: bad hash");
  EXPECT_TRUE(Status::Ok().WithMessage("ignored").ok());
  EXPECT_TRUE(Status::WithCode(StatusCode::kOk, "ignored").ok());
  EXPECT_EQ(Status::WithCode(StatusCode::kUnavailable, "x").code(), StatusCode::kUnavailable);
}

TEST(StatusTest, ResultCarriesTheCode) {
  Result<int> missing = Status::NotFound("no record 2");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound());
  Result<int> found = 7;
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kOk);
  EXPECT_EQ(*found, 7);
}

}  // namespace
}  // namespace glassbox
