"""Our SAM / SAM 2 mask generation vs transformers' own `mask-generation` pipeline, same model.

SAM ViT-B and SAM 2 (Hiera tiny) are built from their default configs with random weights (no
download), saved and loaded like a user's checkpoint. On 8 photos (skimage.data) at 32x32 points,
each setting runs:
- ours: `annotators.masks.sam.SamSource` / `sam2.Sam2Source` `.build`, the path `segcap mine
  --source sam|sam2` takes for every image;
- transformers: `pipeline("mask-generation")` with the same model, points, thresholds and NMS.
Settings: "all-pass" (thresholds 0: every candidate, the speckled worst case of random weights)
and "sam-defaults" (pred IoU 0.88, stability 0.95: thresholds that keep few candidates).
Prints seconds per image (model load and one warm-up image excluded), masks per image and peak
memory (GPU allocator peak on CUDA, RSS growth on the CPU).

transformers' pipeline needs torchvision (batched_nms, and SAM 2's image processor imports it);
where torchvision is missing the comparison column says so and the script exits 3, after
printing our figures, unless --no-pipeline is given.

    PYTHONPATH=. python benchmarks/gpu_sam_check.py                       # a GPU machine
    PYTHONPATH=. python benchmarks/gpu_sam_check.py --tiny --points 4 --images 2 --no-pipeline
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

PHOTOS = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
          "camera", "coins"]
SETTINGS = {
    "all-pass": {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0},
    "sam-defaults": {"pred_iou_thresh": 0.88, "stability_score_thresh": 0.95},
}


def photos(count: int) -> list[np.ndarray]:
    from skimage import data
    from skimage.color import gray2rgb

    images = []
    for name in PHOTOS[:count]:
        image = getattr(data, name)()
        images.append(gray2rgb(image) if image.ndim == 2 else image[..., :3])
    return images


def build_sam(directory: Path, tiny: bool) -> str:
    from transformers import SamConfig, SamModel, SamProcessor
    from transformers.models.sam.configuration_sam import (
        SamMaskDecoderConfig,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    if tiny:
        config = SamConfig(
            vision_config=SamVisionConfig(hidden_size=32, output_channels=32, num_hidden_layers=2,
                                          num_attention_heads=2, image_size=128, patch_size=16,
                                          window_size=4, global_attn_indexes=[1], mlp_dim=64,
                                          num_pos_feats=16),
            prompt_encoder_config=SamPromptEncoderConfig(hidden_size=32, image_size=128,
                                                         patch_size=16, mask_input_channels=4),
            mask_decoder_config=SamMaskDecoderConfig(hidden_size=32, mlp_dim=64, num_hidden_layers=2,
                                                     num_attention_heads=2, iou_head_hidden_dim=32))
        processor = SamImageProcessorPil(size={"longest_edge": 128}, pad_size={"height": 128, "width": 128})
    else:
        config = SamConfig()  # the defaults are SAM ViT-B at 1024x1024
        processor = SamImageProcessorPil()
    torch.manual_seed(0)
    SamModel(config).save_pretrained(directory)
    SamProcessor(image_processor=processor).save_pretrained(directory)
    return str(directory)


def build_sam2(directory: Path, tiny: bool) -> str:
    from transformers import Sam2Config, Sam2Model
    from transformers.models.sam2.configuration_sam2 import (
        Sam2HieraDetConfig,
        Sam2MaskDecoderConfig,
        Sam2PromptEncoderConfig,
        Sam2VisionConfig,
    )

    side = 128 if tiny else 1024
    if tiny:
        backbone = Sam2HieraDetConfig(
            hidden_size=16, image_size=[128, 128], blocks_per_stage=[1, 1, 2, 1],
            embed_dim_per_stage=[16, 32, 64, 128], num_attention_heads_per_stage=[1, 1, 2, 2],
            window_size_per_stage=[4, 4, 4, 4], global_attention_blocks=[3],
            window_positional_embedding_background_size=[2, 2])
        vision = Sam2VisionConfig(backbone_config=backbone, backbone_channel_list=[128, 64, 32, 16],
                                  backbone_feature_sizes=[[32, 32], [16, 16], [8, 8]],
                                  fpn_hidden_size=32)
        config = Sam2Config(
            vision_config=vision,
            prompt_encoder_config=Sam2PromptEncoderConfig(hidden_size=32, image_size=128,
                                                          patch_size=16, mask_input_channels=4),
            mask_decoder_config=Sam2MaskDecoderConfig(hidden_size=32, mlp_dim=64,
                                                      num_hidden_layers=2, num_attention_heads=2,
                                                      iou_head_hidden_dim=32))
    else:
        config = Sam2Config()  # the defaults are SAM 2.1 Hiera tiny at 1024x1024
    torch.manual_seed(0)
    Sam2Model(config).save_pretrained(directory)
    (directory / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "Sam2ImageProcessor", "processor_class": "Sam2Processor",
        "size": {"height": side, "width": side}, "mask_size": {"height": side // 4, "width": side // 4},
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "rescale_factor": 1 / 255, "do_resize": True, "do_rescale": True, "do_normalize": True}))
    return str(directory)


class Peak:
    def __init__(self, device: str):
        self.device = device

    def __enter__(self):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            import psutil

            self.process = psutil.Process()
            self.base = self.process.memory_info().rss
        return self

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.mb = torch.cuda.max_memory_allocated() / 2**20
        else:
            self.mb = max(0.0, (self.process.memory_info().rss - self.base) / 2**20)


def timed(run, images, device):
    run(images[0])  # warm-up: kernels, allocator, lazy imports
    counts = []
    with Peak(device) as peak:
        started = time.perf_counter()
        for image in images:
            counts.append(run(image))
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / len(images)
    return seconds, float(np.mean(counts)), peak.mb


def ours(kind: str, model: str, settings: dict, args):
    from annotators.masks.sam import SamSource
    from annotators.masks.sam2 import Sam2Source
    from schemas.options.masks import SamOptions

    options = SamOptions(model=model, device=args.device, points_per_side=args.points,
                         points_per_batch=args.points_per_batch, nms_iou=0.7, **settings)
    source = (SamSource if kind == "sam" else Sam2Source)(options)
    source.load()
    return lambda image: len(source.build(image).nodes)


def theirs(kind: str, model: str, settings: dict, args):
    from PIL import Image
    from transformers import pipeline

    generator = pipeline("mask-generation", model=model, device=args.device)
    kwargs = {"points_per_batch": args.points_per_batch, "points_per_crop": args.points,
              "crops_nms_thresh": 0.7, **settings}
    return lambda image: len(generator(Image.fromarray(image), **kwargs)["masks"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--points", type=int, default=32, help="points per side")
    parser.add_argument("--points-per-batch", type=int, default=64)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--tiny", action="store_true", help="tiny configs (a CPU check of the script)")
    parser.add_argument("--models", default="sam,sam2")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--no-pipeline", action="store_true", help="skip transformers' pipeline")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    images = photos(args.images)
    has_torchvision = importlib.util.find_spec("torchvision") is not None
    device_name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"device {device_name}; {len(images)} photos; {args.points}x{args.points} points; "
          f"{'tiny' if args.tiny else 'full-size'} random-weight models; torchvision "
          f"{'present' if has_torchvision else 'missing'}")
    print(f"{'model':<6} {'setting':<13} {'path':<13} {'s/image':>8} {'masks/image':>12} {'peak MB':>8}")
    missing = False
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.models.split(","):
            builder = build_sam if kind == "sam" else build_sam2
            model = builder(Path(folder) / kind, args.tiny)
            for name in args.settings.split(","):
                rows = [("ours", ours)]
                if not args.no_pipeline:
                    rows.append(("transformers", theirs))
                for label, make in rows:
                    if label == "transformers" and not has_torchvision:
                        print(f"{kind:<6} {name:<13} {label:<13} unavailable: transformers' "
                              "mask-generation needs torchvision")
                        missing = True
                        continue
                    seconds, masks, peak = timed(make(kind, model, SETTINGS[name], args), images,
                                                 args.device)
                    print(f"{kind:<6} {name:<13} {label:<13} {seconds:>8.3f} {masks:>12.1f} "
                          f"{peak:>8.0f}", flush=True)
    if missing:
        print("the transformers comparison did not run (install torchvision, or pass --no-pipeline)",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
