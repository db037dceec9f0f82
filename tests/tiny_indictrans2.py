"""Tiny stand-ins for ai4bharat/indictrans2-indic-en-1B and -en-indic-1B, placed into a test HF
cache in the hub layout, so the indictrans2 engine loads them by repo id, offline, through the
same trust_remote_code path as the real models.

Like the real repos, each snapshot holds its own code: configuration_indictrans.py
(IndicTransConfig), modeling_indictrans.py (IndicTransForConditionalGeneration) and
tokenization_indictrans.py (IndicTransTokenizer), named by ``auto_map`` in config.json and
tokenizer_config.json; the tokenizer's files dict.SRC.json / dict.TGT.json (token -> id;
<s> 0, <pad> 1, </s> 2, <unk> 3, then the language tags and pieces) and model.SRC / model.TGT
(sentencepiece models, trained here on a few hundred generated Devanagari and English lines);
inputs are "src_tag tgt_tag text", as IndicProcessor.preprocess_batch writes them. The stand-in
classes subclass transformers' M2M100 classes (the real modelling code is a copy of M2M100 with
separate source and target vocabularies); the weights are random, so the output is arbitrary
target-vocabulary text.

Run inside the indictrans2 venv: ``python -m tests.tiny_indictrans2 <hub_dir> [--repo ID]...``
(a few seconds); tests/fixtures_indictrans2.py does that through the EnvironmentManager.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import tempfile
from pathlib import Path

INDIC_EN = "ai4bharat/indictrans2-indic-en-1B"
EN_INDIC = "ai4bharat/indictrans2-en-indic-1B"
REPOS = (INDIC_EN, EN_INDIC)
SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
LANGUAGE_TAGS = (
    "asm_Beng", "awa_Deva", "ben_Beng", "bho_Deva", "brx_Deva", "doi_Deva", "eng_Latn",
    "gom_Deva", "gon_Deva", "guj_Gujr", "hin_Deva", "hne_Deva", "kan_Knda", "kas_Arab",
    "kas_Deva", "kha_Latn", "lus_Latn", "mag_Deva", "mai_Deva", "mal_Mlym", "mar_Deva",
    "mni_Beng", "mni_Mtei", "npi_Deva", "ory_Orya", "pan_Guru", "san_Deva", "sat_Olck",
    "snd_Arab", "snd_Deva", "tam_Taml", "tel_Telu", "urd_Arab", "unr_Deva",
)
MODEL = {"encoder_embed_dim": 32, "decoder_embed_dim": 32, "encoder_layers": 1,
         "decoder_layers": 1, "encoder_attention_heads": 2, "decoder_attention_heads": 2,
         "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "max_source_positions": 256,
         "max_target_positions": 256, "dropout": 0.0, "attention_dropout": 0.0,
         "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0, "activation_function": "relu",
         # large random weights: the output depends on the input (0.02 gives one output)
         "init_std": 1.0}

HINDI_WORDS = (
    "मैं तुम हम वह यह आप घर पानी खाना दिल्ली मुंबई कल आज सुबह शाम रात जा रहा रही हूँ है हैं था "
    "थी चलो दोस्त भाई बहन माँ पिता फ़िल्म गाना ज़िंदगी प्यार क्या क्यों कैसे कहाँ नहीं हाँ ठीक बहुत "
    "अच्छा बुरा ट्रेन स्टेशन समय बजे रुपये किताब स्कूल काम बात सच झूठ दरवाज़ा खिड़की शहर गाँव "
    "राजा रानी बच्चे लोग पुलिस डॉक्टर अस्पताल सड़क गाड़ी ज़रूर क़िला ख़ुश ग़लत फ़ोन ईमेल वेबसाइट "
    "देखो सुनो बोलो आओ जाओ करो मत और या लेकिन क्योंकि अगर तो भी ही में से को का की के पर"
).split()
ENGLISH_WORDS = (
    "I you we he she it they the a an is are was were go come see hear say tell train station "
    "time clock rupees book school work truth lie door window city village king queen children "
    "people police doctor hospital road car sure fort happy wrong phone email website look "
    "listen speak not and or but because if then also in from to of on at tonight tomorrow "
    "today morning evening brother sister mother father film song life love what why how where "
    "yes no okay very good bad Mumbai Delhi nine o'clock leaves already anywhere without my"
).split()
PUNCTUATION = ("", "", ".", "?", "!", ",", "।")


# -- the repo's own code (written into each snapshot, loaded by transformers) -----------------
CONFIGURATION = '''"""IndicTransConfig stand-in for tests: M2M100's config with IndicTrans2's
field names (separate encoder / decoder vocabularies and widths)."""

from transformers.models.m2m_100.configuration_m2m_100 import M2M100Config


class IndicTransConfig(M2M100Config):
    model_type = "IndicTrans"

    def __init__(self, encoder_vocab_size=None, decoder_vocab_size=None, encoder_embed_dim=32,
                 decoder_embed_dim=32, max_source_positions=256, max_target_positions=256,
                 **kwargs):
        self.encoder_vocab_size = encoder_vocab_size
        self.decoder_vocab_size = decoder_vocab_size
        self.encoder_embed_dim = encoder_embed_dim
        self.decoder_embed_dim = decoder_embed_dim
        self.max_source_positions = max_source_positions
        self.max_target_positions = max_target_positions
        # M2M100 shares one embedding between encoder, decoder and output layer
        kwargs.setdefault("vocab_size", max(encoder_vocab_size or 0, decoder_vocab_size or 0))
        kwargs.setdefault("d_model", encoder_embed_dim)
        kwargs.setdefault("max_position_embeddings",
                          max(max_source_positions, max_target_positions))
        super().__init__(**kwargs)
'''

MODELING = '''"""IndicTransForConditionalGeneration stand-in for tests: M2M100's model classes."""

from transformers.models.m2m_100.modeling_m2m_100 import (
    M2M100ForConditionalGeneration,
    M2M100Model,
    M2M100PreTrainedModel,
)

from .configuration_indictrans import IndicTransConfig


class IndicTransPreTrainedModel(M2M100PreTrainedModel):
    config_class = IndicTransConfig


class IndicTransModel(M2M100Model):
    config_class = IndicTransConfig


class IndicTransForConditionalGeneration(M2M100ForConditionalGeneration):
    config_class = IndicTransConfig
'''

TOKENIZATION = '''"""IndicTransTokenizer stand-in for tests, with the real one's files and
behaviour: a source side (dict.SRC.json + model.SRC) that reads "src_tag tgt_tag text" and a
target side (dict.TGT.json + model.TGT) used to decode; inputs padded on the left."""

import json
import os

from sentencepiece import SentencePieceProcessor
from transformers.tokenization_utils import PreTrainedTokenizer

LANGUAGE_TAGS = frozenset(@TAGS@)

VOCAB_FILES_NAMES = {
    "src_vocab_fp": "dict.SRC.json",
    "tgt_vocab_fp": "dict.TGT.json",
    "src_spm_fp": "model.SRC",
    "tgt_spm_fp": "model.TGT",
}


def _load_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class IndicTransTokenizer(PreTrainedTokenizer):
    vocab_files_names = VOCAB_FILES_NAMES
    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "left"

    def __init__(self, src_vocab_fp=None, tgt_vocab_fp=None, src_spm_fp=None, tgt_spm_fp=None,
                 unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                 do_lower_case=False, **kwargs):
        self.src_vocab_fp, self.tgt_vocab_fp = src_vocab_fp, tgt_vocab_fp
        self.src_spm_fp, self.tgt_spm_fp = src_spm_fp, tgt_spm_fp
        self.src_encoder = _load_json(src_vocab_fp)
        self.tgt_encoder = _load_json(tgt_vocab_fp)
        for token in (unk_token, pad_token, bos_token, eos_token):
            if token not in self.src_encoder or token not in self.tgt_encoder:
                raise KeyError(f"{token} must be in both vocabularies")
        self.src_decoder = {v: k for k, v in self.src_encoder.items()}
        self.tgt_decoder = {v: k for k, v in self.tgt_encoder.items()}
        self.src_spm = SentencePieceProcessor(model_file=src_spm_fp)
        self.tgt_spm = SentencePieceProcessor(model_file=tgt_spm_fp)
        self._switch_to_input_mode()
        super().__init__(src_vocab_file=src_vocab_fp, tgt_vocab_file=tgt_vocab_fp,
                         do_lower_case=do_lower_case, unk_token=unk_token,
                         bos_token=bos_token, eos_token=eos_token, pad_token=pad_token,
                         **kwargs)

    def _switch_to_input_mode(self):
        self.src = True
        self.spm, self.encoder, self.decoder = self.src_spm, self.src_encoder, self.src_decoder

    def _switch_to_target_mode(self):
        self.src = False
        self.spm, self.encoder, self.decoder = self.tgt_spm, self.tgt_encoder, self.tgt_decoder

    @property
    def vocab_size(self):
        return len(self.src_encoder)

    def get_vocab(self):
        return dict(self.src_encoder)

    def _tokenize(self, text):
        if not self.src:
            return self.spm.encode(text, out_type=str)
        parts = text.split(" ", 2)
        if len(parts) < 2 or parts[0] not in LANGUAGE_TAGS or parts[1] not in LANGUAGE_TAGS:
            raise ValueError(f"expected 'src_tag tgt_tag text', got {text[:40]!r}")
        body = parts[2] if len(parts) == 3 else ""
        return parts[:2] + self.spm.encode(body, out_type=str)

    def _convert_token_to_id(self, token):
        return self.encoder.get(token, self.encoder[str(self.unk_token)])

    def _convert_id_to_token(self, index):
        return self.decoder.get(index, str(self.unk_token))

    def convert_tokens_to_string(self, tokens):
        return "".join(tokens).replace("\\u2581", " ").strip()

    def _decode(self, token_ids, **kwargs):
        self._switch_to_target_mode()
        try:
            return super()._decode(token_ids, **kwargs)
        finally:
            self._switch_to_input_mode()

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        if token_ids_1 is None:
            return token_ids_0 + [self.eos_token_id]
        return token_ids_0 + [self.eos_token_id] + token_ids_1 + [self.eos_token_id]

    def save_vocabulary(self, save_directory, filename_prefix=None):
        paths = [os.path.join(save_directory, name) for name in VOCAB_FILES_NAMES.values()]
        for path, data in zip(paths[:2], (self.src_encoder, self.tgt_encoder)):
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, indent=2)
        for path, spm in zip(paths[2:], (self.src_spm, self.tgt_spm)):
            with open(path, "wb") as handle:
                handle.write(spm.serialized_model_proto())
        return tuple(paths)
'''.replace("@TAGS@", repr(LANGUAGE_TAGS))


# -- building ----------------------------------------------------------------------------------
def corpus(seed: int) -> tuple[list[str], list[str]]:
    """(Devanagari lines, English lines), a few hundred each; some Hindi lines carry English
    words, digits and punctuation, as film dialogue does."""
    rng = random.Random(seed)
    hindi, english = [], []
    for n in range(300):
        words = rng.choices(HINDI_WORDS, k=rng.randint(3, 10))
        if n % 4 == 0:
            words.insert(rng.randrange(len(words)), rng.choice(ENGLISH_WORDS))
        if n % 7 == 0:
            words.append(str(rng.randint(1, 2024)))
        hindi.append(" ".join(words) + rng.choice(PUNCTUATION))
        english.append(" ".join(rng.choices(ENGLISH_WORDS, k=rng.randint(3, 10)))
                       + rng.choice(PUNCTUATION[:6]))
    return hindi, english


def train_spm(lines: list[str], path: Path, vocab_size: int) -> list[str]:
    """A sentencepiece model over ``lines`` at ``path``; returns its pieces (unk left out)."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
        model_type="bpe", character_coverage=1.0, hard_vocab_limit=False, unk_id=0,
        bos_id=-1, eos_id=-1, pad_id=-1, num_threads=1, minloglevel=2)
    path.write_bytes(model.getvalue())
    processor = spm.SentencePieceProcessor(model_file=str(path))
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())
            if not (processor.is_unknown(i) or processor.is_control(i))]


def vocabulary(pieces: list[str], *, tags: bool) -> dict[str, int]:
    tokens = list(SPECIALS) + (list(LANGUAGE_TAGS) if tags else [])
    tokens += [p for p in pieces if p not in tokens]
    return {token: i for i, token in enumerate(tokens)}


def build(folder: Path, repo: str, seed: int) -> None:
    """Write a complete stand-in snapshot for ``repo`` into ``folder``."""
    import torch
    from transformers import AutoConfig, AutoModelForSeq2SeqLM

    hindi, english = corpus(seed)
    indic_target = repo == EN_INDIC
    source_pieces = train_spm(hindi + english, folder / "model.SRC", 320)
    target_pieces = train_spm(hindi if indic_target else english, folder / "model.TGT",
                              240 if indic_target else 160)
    src = vocabulary(source_pieces, tags=True)
    tgt = vocabulary(target_pieces, tags=False)
    for name, data in (("dict.SRC.json", src), ("dict.TGT.json", tgt)):
        (folder / name).write_text(json.dumps(data, ensure_ascii=False, indent=2), "utf-8")
    for name, source in (("configuration_indictrans.py", CONFIGURATION),
                         ("modeling_indictrans.py", MODELING),
                         ("tokenization_indictrans.py", TOKENIZATION)):
        (folder / name).write_text(source, "utf-8")
    special = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>",
               "unk_token": "<unk>"}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2), "utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        **special,
        "auto_map": {"AutoTokenizer": ["tokenization_indictrans.IndicTransTokenizer", None]},
        "tokenizer_class": "IndicTransTokenizer", "do_lower_case": False,
        "model_max_length": 256, "clean_up_tokenization_spaces": True,
    }, indent=2), "utf-8")
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["IndicTransForConditionalGeneration"],
        "auto_map": {"AutoConfig": "configuration_indictrans.IndicTransConfig",
                     "AutoModelForSeq2SeqLM":
                         "modeling_indictrans.IndicTransForConditionalGeneration"},
        "model_type": "IndicTrans", "encoder_vocab_size": len(src),
        "decoder_vocab_size": len(tgt), "bos_token_id": 0, "pad_token_id": 1,
        "eos_token_id": 2, "decoder_start_token_id": 2, "scale_embedding": True,
        "is_encoder_decoder": True, "use_cache": True, **MODEL,
    }, indent=2), "utf-8")
    # the weights, through the same remote-code classes the engine will load
    config = AutoConfig.from_pretrained(folder, trust_remote_code=True, local_files_only=True)
    torch.manual_seed(seed)
    model = AutoModelForSeq2SeqLM.from_config(config, trust_remote_code=True)
    model.save_pretrained(folder, safe_serialization=True)


def install(hub: Path, repo: str, seed: int) -> Path:
    """Build the stand-in for ``repo`` and place it into ``hub``; returns the snapshot."""
    from shared import hf_cache

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / repo.split("/")[-1]
        folder.mkdir()
        build(folder, repo, seed)
        return hf_cache.install_folder(hub, repo, folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hub", type=Path, help="the HF hub cache folder ($HF_HOME/hub)")
    parser.add_argument("--repo", action="append", choices=REPOS,
                        help="which stand-in to build (repeatable; default: both)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for repo in args.repo or REPOS:
        snapshot = install(args.hub, repo, args.seed)
        sys.stdout.write(f"tiny {repo} at {snapshot}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
