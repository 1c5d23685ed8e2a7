// Error capture and failure classification (B79-B86, D17, D19, D20, D42).
#include "exec/error_capture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "app/report.hpp"
#include "exec/relay.hpp"

namespace smlaunch::exec {
namespace {

/// Feeds `text` to the capture as one stream's output.
void feed(ErrorCapture& capture, Stream stream, std::string_view text) {
  LineSplitter splitter(stream, capture);
  splitter.feed(text);
  splitter.finish();
}

std::string lines_of_rank(int rank, std::string_view stream, const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += "[1," + std::to_string(rank) + "]<" + std::string(stream) + ">:" + l + "\n";
  return out;
}

const std::vector<std::string> kTraceback = {
    "Traceback (most recent call last):", "  File \"/opt/ml/code/train.py\", line 3, in <module>",
    "    main()", "ValueError: learning rate must be positive"};

TEST(ErrorCapture, B79_FileNotFoundErrorLineIsCaptured) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr, "FileNotFoundError: [Errno 2] No such file or directory\n");
  EXPECT_TRUE(capture.triggered());
  EXPECT_EQ(capture.trigger_name(), "FileNotFoundError");
  EXPECT_EQ(capture.message(), "FileNotFoundError: [Errno 2] No such file or directory");
  // A built-in Python name starts the capture but is not a class (B83/B84).
  EXPECT_EQ(capture.error_class(), "ExecuteUserScriptError");
}

TEST(ErrorCapture, B79_SmddpNcclErrorViaUserExtensionIsTheClass) {
  ErrorCapture capture({"SMDDPNCCLError"});
  feed(capture, Stream::Stderr, "SMDDPNCCLError: unhandled cuda error\n");
  EXPECT_EQ(capture.message(), "SMDDPNCCLError: unhandled cuda error");
  EXPECT_EQ(capture.error_class(), "SMDDPNCCLError");
}

TEST(ErrorCapture, UserNameNotInTheBuiltInListsTriggersAndIsTheClass) {
  ErrorCapture without;
  feed(without, Stream::Stderr, "MyTrainerError: shard 3 is corrupt\n");
  EXPECT_FALSE(without.triggered());

  ErrorCapture with({"MyTrainerError"});
  feed(with, Stream::Stderr, "noise\nMyTrainerError: shard 3 is corrupt\n");
  EXPECT_EQ(with.message(), "MyTrainerError: shard 3 is corrupt");
  EXPECT_EQ(with.error_class(), "MyTrainerError");
}

TEST(ErrorCapture, B79_ErrorsPrintedOnStdoutAreCapturedToo) {
  ErrorCapture capture;
  feed(capture, Stream::Stdout, "epoch 1\nKeyError: 'labels'\n");
  EXPECT_EQ(capture.message(), "KeyError: 'labels'");
}

TEST(ErrorCapture, FrameworkClassIsReported) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr,
       "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor\n");
  EXPECT_EQ(capture.error_class(), "ResourceExhaustedError");
}

TEST(ErrorCapture, FirstClassByPositionIsChosenWhateverTheExtensionOrder) {
  // Two user classes on one line and a framework class on the next: the
  // earliest in the text wins, never the order the names were given in.
  const std::string output =
      "Traceback (most recent call last):\n"
      "RuntimeError: BetaError raised while handling AlphaError\n"
      "tensorflow.python.framework.errors_impl.InternalError: x\n";
  std::vector<std::string> names = {"AlphaError", "BetaError", "GammaError", "DeltaError",
                                    "RuntimeError: Beta"};
  std::mt19937 rng(1234);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(names.begin(), names.end(), rng);
    ErrorCapture capture(names);
    feed(capture, Stream::Stderr, output);
    EXPECT_EQ(capture.message(),
              "RuntimeError: BetaError raised while handling AlphaError\n"
              "tensorflow.python.framework.errors_impl.InternalError: x");
    // "RuntimeError: Beta" starts earliest, but ends inside a word.
    EXPECT_EQ(capture.error_class(), "BetaError");
  }
}

TEST(ErrorCapture, LongestNameWinsAtTheSamePosition) {
  ErrorCapture capture({"Shard", "ShardError", "Shard Error"});
  feed(capture, Stream::Stderr, "Shard Error: x\n");
  EXPECT_EQ(capture.error_class(), "Shard Error");
  EXPECT_EQ(capture.trigger_name(), "Shard Error");
}

TEST(ErrorCapture, SupportedDoesNotTriggerOnOrte) {
  ErrorCapture capture;
  feed(capture, Stream::Stdout,
       "NCCL INFO Channel 00 : SUPPORTED\nUNSUPPORTED op\nPRTE_ENV=1 is SUPPORTED\n");
  EXPECT_FALSE(capture.triggered());
  feed(capture, Stream::Stderr, "ORTE has lost communication with a remote daemon.\n");
  EXPECT_TRUE(capture.triggered());
  EXPECT_EQ(capture.trigger_name(), "ORTE");
}

TEST(ErrorCapture, NamesMatchOnlyAtWordBoundaries) {
  ErrorCapture capture({"OpError"});
  feed(capture, Stream::Stderr,
       "TFOpError x\nOpErrors x\nExceptional progress\nmy_ValueError\nValueError2\n");
  EXPECT_FALSE(capture.triggered());
  feed(capture, Stream::Stderr, "errors_impl.OpError: y\n");
  EXPECT_EQ(capture.error_class(), "OpError");
}

TEST(ErrorCapture, FileNotFoundErrorIsNotTensorFlowsNotFoundError) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr, "FileNotFoundError: [Errno 2] No such file\n");
  EXPECT_EQ(capture.error_class(), "ExecuteUserScriptError");
}

TEST(ErrorCapture, OrteErrorLogTriggers) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr, "[algo-1:00042] [[1234,0],0] ORTE_ERROR_LOG: Data unpack failed\n");
  EXPECT_EQ(capture.trigger_name(), "ORTE_ERROR_LOG");
}

TEST(ErrorCapture, SameTracebackFrom64RanksIsStoredOnce) {
  ErrorCapture capture;
  std::string output;
  // Interleaved line by line, as mpirun relays them.
  for (std::size_t i = 0; i < kTraceback.size(); ++i) {
    for (int rank = 0; rank < 64; ++rank) output += lines_of_rank(rank, "stderr", {kTraceback[i]});
  }
  feed(capture, Stream::Stderr, output);
  EXPECT_EQ(capture.message(), "ValueError: learning rate must be positive");

  ErrorCapture sequential;
  std::string one_after_another;
  for (int rank = 0; rank < 64; ++rank) one_after_another += lines_of_rank(rank, "stderr", kTraceback);
  feed(sequential, Stream::Stderr, one_after_another);
  EXPECT_EQ(sequential.message(),
            "ValueError: learning rate must be positive\n"
            "Traceback (most recent call last):\n"
            "File \"/opt/ml/code/train.py\", line 3, in <module>\n"
            "main()");
}

TEST(ErrorCapture, D18_TagsAreStrippedForAnyRank) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr,
       "[1,12]<stderr>:ValueError: x\n[17,4095]<stderr>:  more\n[1,3]<stderr>: pmix\n");
  EXPECT_EQ(capture.message(), "ValueError: x\nmore\npmix");
}

TEST(ErrorCapture, RewrittenTagsAreStrippedToo) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr,
       "[1,mpirank:12,algo-2]<stderr>:ValueError: x\n[1,mpirank:1,algo-1]<stderr>:ValueError: x\n");
  EXPECT_EQ(capture.message(), "ValueError: x");
}

TEST(ErrorCapture, TriggerLineComesFirstAndLaterLinesFollowInOrder) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr, "before\nRuntimeError: NCCL error\nafter 1\n\n   \nafter 2\nafter 1\n");
  EXPECT_EQ(capture.message(), "RuntimeError: NCCL error\nafter 1\nafter 2");
}

TEST(ErrorCapture, StreamThatTriggeredFirstComesFirst) {
  ErrorCapture capture;
  LineSplitter out(Stream::Stdout, capture);
  LineSplitter err(Stream::Stderr, capture);
  out.feed("loading\n");
  err.feed("OSError: disk full\n");
  out.feed("IndexError: list index out of range\n");
  err.feed("shutting down\n");
  out.finish();
  err.finish();
  EXPECT_EQ(capture.message(), "OSError: disk full\nshutting down\nIndexError: list index out of range");
  EXPECT_EQ(capture.trigger_name(), "OSError");
}

TEST(ErrorCapture, CapIsRespectedWithAMillionDistinctLines) {
  ErrorCapture capture;
  LineSplitter err(Stream::Stderr, capture);
  err.feed("RuntimeError: the first error\n");
  std::string chunk;
  for (int i = 0; i < 1'000'000; ++i) {
    chunk += "[1," + std::to_string(i % 64) + "]<stderr>:distinct line " + std::to_string(i) + "\n";
    if (chunk.size() > 64 * 1024) {
      err.feed(chunk);
      chunk.clear();
    }
  }
  err.feed(chunk);
  err.finish();
  const std::string message = capture.message();
  EXPECT_LE(message.size(), kCaptureBytes);
  EXPECT_GT(message.size(), kStreamCaptureBytes / 2);  // the budget is used, not wasted
  EXPECT_TRUE(message.starts_with("RuntimeError: the first error\n"));
  EXPECT_TRUE(message.ends_with("\ndistinct line 999999"));
}

TEST(ErrorCapture, BothStreamsTogetherStayUnderTheCap) {
  ErrorCapture capture;
  feed(capture, Stream::Stdout, "ValueError: a\n");
  feed(capture, Stream::Stderr, "ValueError: b\n");
  for (int i = 0; i < 20'000; ++i) {
    capture.line(Stream::Stdout, "out " + std::to_string(i) + "\n");
    capture.line(Stream::Stderr, "err " + std::to_string(i) + "\n");
  }
  EXPECT_LE(capture.message().size(), kCaptureBytes);
}

TEST(ErrorCapture, LongLinesAreCutAtACharacterBoundary) {
  ErrorCapture capture;
  std::string line = "ValueError: ";
  while (line.size() < 3 * kMaxCapturedLineBytes) line += "\xc3\xa9";  // é
  feed(capture, Stream::Stderr, line + "\nAgain " + line + "\n");
  const std::string message = capture.message();
  const auto newline = message.find('\n');
  ASSERT_NE(newline, std::string::npos);
  const std::string first = message.substr(0, newline);
  EXPECT_LE(first.size(), kMaxCapturedLineBytes);
  EXPECT_TRUE(first.ends_with("\xc3\xa9..."));
  EXPECT_LE(message.size() - newline - 1, kMaxCapturedLineBytes);
}

TEST(ErrorCapture, LongTriggerLineIsNeverCutBeforeItsName) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr, std::string(5000, 'x') + " SMDDPNCCLError: unhandled cuda error\n");
  const std::string message = capture.message();
  EXPECT_EQ(message, "...SMDDPNCCLError: unhandled cuda error");
  EXPECT_EQ(capture.error_class(), "SMDDPNCCLError");
}

TEST(ErrorCapture, ManyTinyLinesAreBoundedByCount) {
  ErrorCapture capture;
  capture.line(Stream::Stderr, "ValueError\n");
  for (int i = 0; i < 100'000; ++i) capture.line(Stream::Stderr, std::to_string(i % 5000) + "\n");
  const std::string message = capture.message();
  EXPECT_EQ(static_cast<std::size_t>(std::count(message.begin(), message.end(), '\n')), kMaxCapturedLines);
}

TEST(ErrorCapture, WithoutTriggerTheLastLinesOfStderrAreKept) {
  ErrorCapture capture;
  std::string err;
  for (int i = 0; i < 30; ++i) err += "step " + std::to_string(i) + "\n";
  err += "fatal: could not read shard\nfatal: could not read shard\n";
  feed(capture, Stream::Stdout, "stdout chatter\n");
  feed(capture, Stream::Stderr, err);
  EXPECT_FALSE(capture.triggered());
  std::string expected;
  for (int i = 21; i < 30; ++i) expected += "step " + std::to_string(i) + "\n";
  expected += "fatal: could not read shard";
  EXPECT_EQ(capture.message(), expected);
  EXPECT_EQ(capture.error_class(), "ExecuteUserScriptError");
}

TEST(ErrorCapture, WithoutTriggerOrStderrTheLastLinesOfStdoutAreKept) {
  ErrorCapture capture;
  feed(capture, Stream::Stdout, "a\nb\n");
  EXPECT_EQ(capture.message(), "a\nb");
}

TEST(ErrorCapture, NothingPrintedGivesAnEmptyMessage) {
  ErrorCapture capture;
  EXPECT_EQ(capture.message(), "");
  EXPECT_EQ(capture.error_class(), "ExecuteUserScriptError");
  EXPECT_FALSE(capture.trigger_name());
}

TEST(ErrorCapture, TenMillionLinesAfterTheTriggerStayUnderTheCap) {
  ErrorCapture capture;
  capture.line(Stream::Stderr, "RuntimeError: CUDA error: an illegal memory access was encountered\n");
  // 64 ranks repeating a few hundred distinct lines, ten million times.
  std::vector<std::string> lines;
  for (int i = 0; i < 64 * 300; ++i) {
    lines.push_back("[1," + std::to_string(i % 64) + "]<stderr>:NCCL WARN retry " + std::to_string(i % 300) +
                    "\n");
  }
  for (int i = 0; i < 10'000'000; ++i)
    capture.line(Stream::Stderr, lines[static_cast<std::size_t>(i) % lines.size()]);
  const std::string message = capture.message();
  EXPECT_LE(message.size(), kCaptureBytes);
  EXPECT_EQ(std::count(message.begin(), message.end(), '\n'), 300);
}

TEST(ErrorCapture, First1024CharactersOfTheFailureFileSayWhatFailed) {
  ErrorCapture capture;
  std::string output;
  for (int rank = 0; rank < 64; ++rank) {
    output += lines_of_rank(rank, "stdout",
                            {"NCCL INFO Channel 00/02 : 0[0] -> 1[1] via P2P/IPC, rank " +
                             std::to_string(rank) + " is ready and everything is fine"});
  }
  for (int rank = 0; rank < 64; ++rank) output += lines_of_rank(rank, "stderr", kTraceback);
  for (int i = 0; i < 500; ++i) output += "[1,0]<stderr>:noise line " + std::to_string(i) + "\n";
  feed(capture, Stream::Stderr, output);
  const FailureSummary summary = summarize_failure(capture, 1, 0);
  const app::FailureReport report{summary.error_class, 1, summary.message, summary.extra_info,
                                  "mpirun --host algo-1:8,algo-2:8 -np 16 python -m mpi4py train.py"};
  const std::string head = app::format_failure(report).substr(0, 1024);
  EXPECT_TRUE(
      head.starts_with("ExecuteUserScriptError:\nExitCode 1\nErrorMessage \"ValueError: learning rate"))
      << head;
}

TEST(ErrorCapture, B82_TrainingCompilerPathsReplaceTheExtraInfo) {
  ErrorCapture capture;
  feed(capture, Stream::Stderr,
       "RuntimeError: boom\n  File \"/usr/lib/python3/site-packages/torch_xla/core/xla_model.py\", line 1\n");
  const FailureSummary summary = summarize_failure(capture, 137, 0);
  EXPECT_EQ(summary.extra_info, "SMTrainingCompiler Error: Error occurred in SMTrainingCompiler.");
  EXPECT_TRUE(mentions_training_compiler("tensorflow/compiler/tf2xla/kernels"));
  EXPECT_FALSE(mentions_training_compiler("tensorflow/python/keras"));
}

TEST(ErrorCapture, D20_OutOfMemoryForExit137OrASigkillDeath) {
  const std::string oom = "OutOfMemory: Process killed by SIGKILL (signal 9)";
  EXPECT_EQ(extra_info_for(137, 0), oom);
  EXPECT_EQ(extra_info_for(-1, 9), oom);
  EXPECT_EQ(extra_info_for(-9, 0), oom);
  EXPECT_EQ(extra_info_for(1, 0), std::nullopt);
  EXPECT_EQ(extra_info_for(0, 0), std::nullopt);
  EXPECT_EQ(extra_info_for(-1, 11), "Process killed by SIGSEGV (signal 11)");
  EXPECT_EQ(extra_info_for(-1, 64), "Process killed by signal 64");
}

TEST(ErrorCapture, NameListsAreTheReferenceOnes) {
  EXPECT_EQ(python_error_names().size(), 54U);  // B152
  EXPECT_EQ(python_error_names().front(), "BaseException");
  EXPECT_EQ(python_error_names().back(), "InvalidArgumentError");
  ASSERT_EQ(mpi_error_names().size(), 2U);  // B153
  EXPECT_EQ(mpi_error_names()[0], "mpirun.real");
  EXPECT_EQ(mpi_error_names()[1], "ORTE");
}

}  // namespace
}  // namespace smlaunch::exec
