// Masking secrets in logs and printed plans (SPEC "Logging hygiene").
#include "app/secrets.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace smlaunch::app {
namespace {

TEST(Secrets, NamesThatLookLikeSecrets) {
  for (const char* name :
       {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "SM_HP_DB_PASSWORD", "api_key", "SM_HP_API-KEY",
        "hf_token", "GIT_CREDENTIALS", "ssh_private", "key", "SM_HP_KEY", "SM_HP_APIKEY", "SM_HP_PASSWD",
        "SM_HP_TOKENIZER", "SM_HP_PRIVATE_PATH", "SM_HP_SECRET_SAUCE", "SM_HP_CREDENTIAL_FILE"}) {
    EXPECT_TRUE(is_secret_name(name)) << name;
  }
  for (const char* name :
       {"AWS_ACCESS_KEY_ID", "SM_HP_EPOCHS", "keyboard", "monkey", "SM_HP_KEY_SIZE", "SM_HP_KEYS",
        "SM_HP_KEY_COLUMN", "SM_HP_KEYWORD", "SM_HP_MONKEY", "lr", "SM_HOSTS", "AWS_REGION"}) {
    EXPECT_FALSE(is_secret_name(name)) << name;
  }
}

TEST(Secrets, HyperparameterSecretsDoNotLeakThroughDerivedVariables) {
  test::Job job;
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","hf_token":"\"hf_abc123\"","lr":"0.1"})";
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  const auto masked = masked_environment(job.env, plan);
  for (const auto& [name, value] : masked) {
    EXPECT_EQ(value.find("hf_abc123"), std::string::npos) << name << "=" << value;
  }
  EXPECT_EQ(*masked.find("SM_HP_HF_TOKEN"), "****");
  EXPECT_EQ(*masked.find("SM_HP_LR"), "0.1");
  EXPECT_NE(masked.find("SM_HPS")->find(R"("hf_token":"****")"), std::string::npos);

  const auto argv = masked_argv(job.env, plan.argv);
  EXPECT_EQ(argv,
            (std::vector<std::string>{"/usr/bin/python3", "train.py", "--hf_token", "****", "--lr", "0.1"}));
  // The plan itself keeps the real value: only what is printed is masked.
  EXPECT_EQ(plan.argv[3], "hf_abc123");
}

TEST(Secrets, CredentialVariablesAreMaskedByName) {
  test::Job job;
  auto plan = job.plan();
  plan.env.set("AWS_SECRET_ACCESS_KEY", "s3cr3t");
  EXPECT_EQ(*masked_environment(job.env, plan).find("AWS_SECRET_ACCESS_KEY"), "****");
}

}  // namespace
}  // namespace smlaunch::app
