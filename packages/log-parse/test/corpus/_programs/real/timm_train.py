#!/usr/bin/env python3
"""A fine-tuning script that needs timm, which the venv does not have: a real ModuleNotFoundError
after torch has loaded."""
import torch
import timm

torch.set_num_threads(1)
model = timm.create_model("resnet18", pretrained=False, num_classes=10)
print(model(torch.randn(2, 3, 64, 64)).shape)
