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

// -x NAME=value in the custom mpirun options sets a variable for every rank.
TEST(Secrets, SecretSetByCustomMpiOptionsIsMaskedInArgvAndDerivedVariables) {
  test::Job job;
  job.resource_config = R"({"current_host":"algo-1","hosts":["algo-1","algo-2"]})";
  job.hyperparameters = R"({"sagemaker_program":"\"train.py\"","sagemaker_mpi_enabled":"true",)"
                        R"("sagemaker_mpi_custom_mpi_options":"\"-x DB_PASSWORD=pw-1234567 --x HF_TOKEN=hf-7654321 )"
                        R"(-x PLAIN=visible -x TOKEN_ONLY\""})";
  const auto plan = job.plan();
  ASSERT_TRUE(job.diagnostics.empty()) << test::messages(job.diagnostics);
  const auto argv = masked_argv(job.env, plan.argv);
  std::string joined;
  for (const auto& a : argv) joined += a + " ";
  EXPECT_NE(joined.find("-x DB_PASSWORD=**** --x HF_TOKEN=**** -x PLAIN=visible -x TOKEN_ONLY "), std::string::npos)
      << joined;
  for (const auto& [name, value] : masked_environment(job.env, plan)) {
    EXPECT_EQ(value.find("pw-1234567"), std::string::npos) << name << "=" << value;
    EXPECT_EQ(value.find("hf-7654321"), std::string::npos) << name << "=" << value;
  }
  EXPECT_NE(masked_environment(job.env, plan).find("SM_FRAMEWORK_PARAMS")->find("-x DB_PASSWORD=****"),
            std::string::npos);
}

TEST(Secrets, CustomMpiOptionsMasking) {
  EXPECT_EQ(mask_custom_mpi_options("-x DB_PASSWORD=abc -x A=abc -v"), "-x DB_PASSWORD=**** -x A=**** -v");
  EXPECT_EQ(mask_custom_mpi_options("-x A=1 -v"), "-x A=1 -v");
  // Quoting that changes how the value is written: nothing is shown.
  EXPECT_EQ(mask_custom_mpi_options("-x 'API_KEY=a'\"b\""), "****");
  EXPECT_EQ(secrets_in_custom_mpi_options("-x API_KEY=k1 -x X=2 --env MY_SECRET=s"),
            (std::vector<std::string>{"k1", "s"}));
  EXPECT_EQ(secrets_in_custom_mpi_options("-x 'unterminated"), std::vector<std::string>{});
}

TEST(Secrets, TextThatAssignsASecretNameIsRecognised) {
  EXPECT_TRUE(config::assigns_secret_name("-x DB_PASSWORD=x"));
  EXPECT_TRUE(config::assigns_secret_name("-v -x 'HF_TOKEN=a b'"));
  EXPECT_TRUE(config::assigns_secret_name("--env=x API_KEY="));
  EXPECT_FALSE(config::assigns_secret_name("-x LR=0.1 --NCCL_DEBUG=WARN"));
  EXPECT_FALSE(config::assigns_secret_name("=TOKEN x= TOKEN"));
  EXPECT_FALSE(config::assigns_secret_name(""));
}

// The note about a value that is not JSON prints it, as the reference does,
// except a secret's, or a text that sets a secret-named variable.
TEST(Secrets, NotJsonNoteMasksSecrets) {
  py::Dict raw;
  raw.append("db_password", py::Value::string("hunter2!"));
  raw.append("sagemaker_mpi_custom_mpi_options", py::Value::string("-x DB_TOKEN=t0ps3cret"));
  raw.append("note", py::Value::string("not json"));
  const auto decoded = config::decode_hyperparameters(raw);
  ASSERT_EQ(decoded.notes.size(), 3u);
  EXPECT_EQ(decoded.notes[0], "Failed to parse hyperparameter db_password value **** to Json.\nReturning the value itself");
  EXPECT_EQ(decoded.notes[1].find("t0ps3cret"), std::string::npos) << decoded.notes[1];
  EXPECT_NE(decoded.notes[2].find("value not json to Json"), std::string::npos) << decoded.notes[2];
  EXPECT_EQ(decoded.all.find("db_password")->as_str(), "hunter2!") << "the program still gets it";
}

TEST(Secrets, CredentialVariablesAreMaskedByName) {
  test::Job job;
  auto plan = job.plan();
  plan.env.set("AWS_SECRET_ACCESS_KEY", "s3cr3t");
  EXPECT_EQ(*masked_environment(job.env, plan).find("AWS_SECRET_ACCESS_KEY"), "****");
}

}  // namespace
}  // namespace smlaunch::app
