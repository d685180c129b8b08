// The two pure functions behind every 200 answer: the magic 8-ball and FizzBuzz.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sreracha {

// The 20 answers of the classic Mattel Magic 8-Ball: 10 affirmative,
// 5 non-committal, 5 negative, in that order.
extern const std::array<std::string_view, 20> kEightBallAnswers;

// FizzBuzz of n: "FizzBuzz" for multiples of 15 (the original got 15 and 30
// wrong), "Fizz" for multiples of 3, "Buzz" for multiples of 5, else n itself.
std::string fizzbuzz(std::int64_t n);

}  // namespace sreracha
