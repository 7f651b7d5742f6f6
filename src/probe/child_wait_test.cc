#include "probe/child_wait.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace glassbox::probe {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

pid_t ChildThatExits(int code) {
  const pid_t pid = fork();
  if (pid == 0) _exit(code);
  return pid;
}

// A child that waits for a signal; the test kills and reaps it.
pid_t ChildThatWaits() {
  const pid_t pid = fork();
  if (pid == 0) {
    while (true) pause();
  }
  return pid;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid) << "a child that did not exit is left unreaped";
  EXPECT_TRUE(WIFSIGNALED(status));
}

TEST(WaitForChild, ReapsAnExitAndGivesItsStatus) {
  const pid_t pid = ChildThatExits(3);
  ASSERT_GT(pid, 0);
  const ChildWait wait = WaitForChild(pid, steady_clock::now() + seconds(60), milliseconds(50));
  ASSERT_EQ(wait.outcome, ChildWait::Outcome::kExited);
  ASSERT_TRUE(WIFEXITED(wait.status));
  EXPECT_EQ(WEXITSTATUS(wait.status), 3);
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), -1) << "already reaped";
}

TEST(WaitForChild, ADeadlineThatPassesLeavesTheChildToTheCaller) {
  const pid_t pid = ChildThatWaits();
  ASSERT_GT(pid, 0);
  const ChildWait wait = WaitForChild(pid, steady_clock::now() + milliseconds(20), milliseconds(5));
  EXPECT_EQ(wait.outcome, ChildWait::Outcome::kTimedOut);
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "still running";
  KillAndReap(pid);
}

TEST(WaitForChild, ATickThatSaysStopEndsTheWait) {
  const pid_t pid = ChildThatWaits();
  ASSERT_GT(pid, 0);
  int ticks = 0;
  const ChildWait wait = WaitForChild(pid, steady_clock::now() + seconds(60), milliseconds(1),
                                      [&] { return ++ticks < 3; });
  EXPECT_EQ(wait.outcome, ChildWait::Outcome::kStopped);
  EXPECT_EQ(ticks, 3);
  EXPECT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "still running";
  KillAndReap(pid);
}

TEST(WaitForChild, APidThatIsNotAChildIsAnError) {
  const ChildWait wait =
      WaitForChild(getppid(), steady_clock::now() + seconds(60), milliseconds(50));
  EXPECT_EQ(wait.outcome, ChildWait::Outcome::kError);
}

}  // namespace
}  // namespace glassbox::probe
