"""A tiny training script: reads its arguments and SM_* variables like a
SageMaker script does, "trains", and writes a model file."""
import argparse
import json
import os

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
parser.add_argument("--lr", type=float)
parser.add_argument("--model-name")
parser.add_argument("--use_cuda")
args = parser.parse_args()

print(f"arguments: epochs={args.epochs} lr={args.lr} model-name={args.model_name!r} use_cuda={args.use_cuda}")
print("hosts:", json.loads(os.environ["SM_HOSTS"]), "current:", os.environ["SM_CURRENT_HOST"])
print("train channel:", os.environ["SM_CHANNEL_TRAIN"], os.listdir(os.environ["SM_CHANNEL_TRAIN"]))
for epoch in range(args.epochs):
    print(f"epoch {epoch + 1}/{args.epochs}: loss={1.0 / (epoch + 1):.3f}")
os.makedirs(os.environ["SM_MODEL_DIR"], exist_ok=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump({"epochs": args.epochs, "lr": args.lr}, f)
print("model written to", os.environ["SM_MODEL_DIR"])
