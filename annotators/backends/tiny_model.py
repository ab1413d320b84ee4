"""A tiny random-weight LLaVA built from config, with a tokenizer trained on the spot.

Tests, the batching benchmark and offline smoke runs need a real vision-language model that
loads through the same path as a hub checkpoint (AutoProcessor + AutoModelForImageTextToText),
without any download. Random weights write garbage, which is what exercises parsing and fallback.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '<image>' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{ '</s>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)

SPECIAL_TOKENS = ["<unk>", "<pad>", "<s>", "</s>", "<image>", "<|user|>", "<|assistant|>",
                  "<|system|>"]

_CORPUS = [
    "A scene captured by a static camera from a medium viewpoint on a sunny day.",
    "A male person wearing a red shirt and black pants walks to the left.",
    '{"short": "a red car", "detailed": "A red car parked on the street. It is small."}',
    "Sure, the image contains <p> a person </p> [SEG] and <p> a dog </p> [SEG].",
    "0 1 2 3 4 5 yes no moving static indoor outdoor night day crowd",
]


def train_tokenizer(vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>",
        eos_token="</s>", extra_special_tokens={"image_token": "<image>"},
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_tiny_llava(path: str | Path, *, seed: int = 0, image_size: int = 32, patch_size: int = 8,
                     hidden: int = 32, layers: int = 2) -> Path:
    """Write a loadable tiny LLaVA (config, weights, processor) to `path` and return it."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    path = Path(path)
    tokenizer = train_tokenizer()
    vision = CLIPVisionConfig(hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                              num_attention_heads=2, image_size=image_size, patch_size=patch_size,
                              projection_dim=hidden)
    text = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                       num_hidden_layers=layers, num_attention_heads=2, num_key_value_heads=2,
                       max_position_embeddings=512, pad_token_id=tokenizer.pad_token_id,
                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                         vision_feature_select_strategy="default", vision_feature_layer=-1,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tokenizer,
                               patch_size=patch_size, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1,
                               chat_template=CHAT_TEMPLATE)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path



def build_tiny_clip(path: str | Path, *, projection_dim: int = 256, hidden: int = 32, seed: int = 0,
                    image_size: int = 32, patch_size: int = 16) -> Path:
    """Write a loadable tiny random CLIP (config, weights, tokenizer, image processor) to `path`.

    Loaded with AutoModel/AutoProcessor (or the CLIP text classes), the same path a real CLIP
    checkpoint takes. The tokenizer is CLIP's own class over a character-level BPE vocabulary (no
    merges: every word splits into characters, the last marked </w>), enough for any lower-case
    ASCII sentence.
    """
    import json

    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTokenizer
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    characters = [chr(c) for c in range(33, 127)]
    vocab = {token: i for i, token in enumerate(
        ["<|startoftext|>", "<|endoftext|>"] + characters + [c + "</w>" for c in characters])}
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"),
                              pad_token="<|endoftext|>")
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    torch.manual_seed(seed)
    config = CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": hidden, "intermediate_size": 2 * hidden,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 77,
                     "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": hidden, "intermediate_size": 2 * hidden, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "image_size": image_size, "patch_size": patch_size},
        projection_dim=projection_dim)
    CLIPModel(config).save_pretrained(path)
    return path


def build_tiny_sam(path: str | Path, *, seed: int = 0, image_size: int = 128) -> Path:
    """Write a loadable tiny random SAM (config, weights, processor) to `path`: loaded with
    SamModel/SamProcessor exactly as a real checkpoint folder is."""
    import torch
    from transformers import (
        SamConfig,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    path = Path(path)
    config = SamConfig(
        vision_config=SamVisionConfig(
            hidden_size=32, output_channels=32, num_hidden_layers=2, num_attention_heads=2,
            image_size=image_size, patch_size=16, window_size=4, global_attn_indexes=[1], mlp_dim=64,
            num_pos_feats=16, initializer_range=0.02),
        prompt_encoder_config=SamPromptEncoderConfig(hidden_size=32, image_size=image_size,
                                                     patch_size=16, mask_input_channels=4),
        mask_decoder_config=SamMaskDecoderConfig(hidden_size=32, mlp_dim=64, num_hidden_layers=2,
                                                 num_attention_heads=2, iou_head_hidden_dim=32),
    )
    torch.manual_seed(seed)
    SamModel(config).save_pretrained(path)
    processor = SamImageProcessorPil(size={"longest_edge": image_size},
                                     pad_size={"height": image_size, "width": image_size})
    SamProcessor(image_processor=processor).save_pretrained(path)
    return path
