#include "eightball.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sreracha {
namespace {

TEST(AppFizzBuzz, OneToHundred) {
  for (std::int64_t n = 1; n <= 100; ++n) {
    // The expectation built another way: concatenation, not a cascade of ifs.
    std::string expected = std::string(n % 3 == 0 ? "Fizz" : "") + (n % 5 == 0 ? "Buzz" : "");
    if (expected.empty()) expected = std::to_string(n);
    EXPECT_EQ(fizzbuzz(n), expected) << n;
  }
}

TEST(AppFizzBuzz, FifteenAndThirtyAreFizzBuzzUnlikeTheOriginal) {
  EXPECT_EQ(fizzbuzz(15), "FizzBuzz");
  EXPECT_EQ(fizzbuzz(30), "FizzBuzz");
  EXPECT_EQ(fizzbuzz(31), "31");
  EXPECT_EQ(fizzbuzz(9'000'000'000), "FizzBuzz");  // counters past 2^32 stay right
}

TEST(AppEightBall, TwentyDistinctAnswersTenFiveFive) {
  std::set<std::string_view> distinct(kEightBallAnswers.begin(), kEightBallAnswers.end());
  EXPECT_EQ(distinct.size(), 20u);
  EXPECT_EQ(kEightBallAnswers[0], "It is certain.");
  EXPECT_EQ(kEightBallAnswers[10], "Reply hazy, try again.");
  EXPECT_EQ(kEightBallAnswers[15], "Don't count on it.");
  for (std::string_view a : kEightBallAnswers) {
    // They go into JSON unescaped-safe and end like sentences.
    EXPECT_EQ(a.find_first_of("\"\\"), std::string_view::npos) << a;
    EXPECT_EQ(a.back(), '.') << a;
  }
}

}  // namespace
}  // namespace sreracha
