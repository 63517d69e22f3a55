"""The paper's U-Net in PyTorch, timed on a GPU: what the card does with this network's arithmetic.

    python3 bench/gpu_torch_reference.py --batch-sizes 1 8 --peak-tflops 989

A yardstick, not the product: it runs where a GPU machine has PyTorch but no TensorFlow 2.16
(CUDA 12 and cuDNN 8 are what that build links against). Same geometry as bench/reference_unet.py
(valid 3x3 convolutions, 2x2 up-convolutions, crop-and-concat, 572 -> 388, 31,031,875 parameters
for RGB in and 3 classes out), trained with SGD and momentum 0.99 as in the paper, in float32 and
in bfloat16 autocast, channels-last. Standalone on purpose: nothing in petunet imports torch.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch import nn

FORWARD_GFLOP_PER_TILE = 301.6  # bench/flops.py for the 572 tile, depth 5, 64 filters, RGB
TRAINING_MULTIPLIER = 3


class PaperUNet(nn.Module):
    def __init__(self, depth: int = 5, filters: int = 64, channels: int = 3, classes: int = 3):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3),
                nn.ReLU(inplace=True),
            )

        widths = [filters * 2**level for level in range(depth)]
        self.down = nn.ModuleList(
            block(channels if i == 0 else widths[i - 1], w) for i, w in enumerate(widths)
        )
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth - 1)
        )
        self.merge = nn.ModuleList(block(2 * widths[i], widths[i]) for i in range(depth - 1))
        self.head = nn.Conv2d(filters, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = nn.functional.max_pool2d(x, 2)
        for i in reversed(range(len(self.up))):
            x = self.up[i](x)
            skip = skips[i]
            c = (skip.shape[-1] - x.shape[-1]) // 2
            skip = skip[..., c : c + x.shape[-2], c : c + x.shape[-1]]
            x = self.merge[i](torch.cat([skip, x], 1))
        return self.head(x)


def time_training(batch: int, precision: str, steps: int, warmup: int) -> float:
    model = PaperUNet().cuda().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.99)
    images = torch.randn(batch, 3, 572, 572, device="cuda").to(memory_format=torch.channels_last)
    labels = torch.randint(0, 3, (batch, 388, 388), device="cuda")
    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32

    def step() -> None:
        with torch.autocast("cuda", dtype=dtype, enabled=precision == "bfloat16"):
            loss = nn.functional.cross_entropy(model(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    params = sum(p.numel() for p in PaperUNet().parameters())
    rows = []
    for batch in args.batch_sizes:
        for precision in ("float32", "bfloat16"):
            seconds = time_training(batch, precision, args.steps, args.warmup)
            rate = batch / seconds
            tflops = rate * FORWARD_GFLOP_PER_TILE * TRAINING_MULTIPLIER / 1000
            rows.append(
                {
                    "batch": batch,
                    "precision": precision,
                    "ms_per_step": 1000 * seconds,
                    "images_per_s": rate,
                    "fraction_of_peak": tflops / args.peak_tflops,
                }
            )
            print(
                f"batch {batch:2d} {precision:8s} {1000 * seconds:8.1f} ms/step "
                f"{rate:7.1f} images/s {tflops:6.1f} TFLOP/s "
                f"({100 * tflops / args.peak_tflops:.1f}% of {args.peak_tflops:g})",
                flush=True,
            )
    result = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "parameters": params,
        "peak_tflops": args.peak_tflops,
        "rows": rows,
    }
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
