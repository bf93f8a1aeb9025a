"""A CLIP tokenizer for the tiny model, trained offline on the data set's captions.

Real CLIP's byte-level BPE with the `</w>` end-of-word suffix and its special tokens, learned by
the `tokenizers` library from the caption vocabulary (no download). Any text tokenises (the byte
alphabet is always in the vocabulary); words outside the captions just cost more tokens.
"""

from __future__ import annotations

import json

from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import CLIPTokenizer

from fastgen_book.sd.shapes import all_items

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
#: Tokens per prompt, special tokens included (SD v1.5 uses 77; our captions need 8).
MAX_LENGTH = 16


def train_clip_tokenizer(texts: list[str] | None = None) -> CLIPTokenizer:
    """BPE merges learned from `texts` (default: every caption), wrapped as a CLIPTokenizer."""
    texts = texts or [item.caption for item in all_items()]
    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>", unk_token=EOS))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=[BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        end_of_word_suffix="</w>",
        show_progress=False,
    )
    # CLIP splits on whitespace before its byte-level step, so train on words, not sentences
    # (ByteLevel would otherwise learn "Ġred" instead of "red").
    bpe.train_from_iterator([w for text in texts for w in text.lower().split()], trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    # the trainer numbers its tokens in an order that changes from process to process (the same
    # 311 tokens, "a" as 259, 260 or 264), so a text encoder trained on them started from
    # differently assigned embedding rows each run; number them in one fixed order instead
    tokens = [BOS, EOS] + sorted(set(state["vocab"]) - {BOS, EOS})
    vocab = {token: i for i, token in enumerate(tokens)}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=MAX_LENGTH)
