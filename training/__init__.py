"""ACPO training, installed as ``acpo_bench.training``: preference-pair builders, losses, the trainer, the tiny
model's SFT recipe and recipes/*.yaml."""
