"""Small synthetic datasets in llm-jp-eval's format, deterministic, for tests and the demo.

`python -m kiseki.evaluation.synthetic OUT_DIR` writes `OUT_DIR/{train,dev,test}/<name>.json`
(the repository keeps them under datasets/synthetic). Each task has 8 train samples (the
few-shot examples), 8 dev and 40 test samples, drawn from a generator seeded by the task and
split names. They are learnable by a tiny model in minutes, so scores move over pretraining.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

SIZES = {"train": 8, "dev": 8, "test": 40}
ANIMALS = ["猫", "犬", "鳥", "魚", "馬", "牛", "羊", "兎"]
COLOURS = ["赤", "青", "白", "黒", "緑", "黄"]


def _arith(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(0, 20), rng.randint(0, 20)
    return f"{a} + {b} = ?", str(a + b)


def _nli(rng: random.Random) -> tuple[str, str]:
    animal, colour = rng.choice(ANIMALS), rng.choice(COLOURS)
    other = rng.choice([c for c in COLOURS if c != colour])
    entailed = rng.random() < 0.5
    hypothesis = f"{animal}は{colour if entailed else other}い。"
    return (
        f"前提：{colour}い{animal}がいる。\n仮説：{hypothesis}",
        "entailment" if entailed else "contradiction",
    )


def _qa(rng: random.Random) -> tuple[str, str]:
    animal, colour = rng.choice(ANIMALS), rng.choice(COLOURS)
    return f"{colour}い{animal}の色は何ですか？", f"{colour}色"


def _mc(rng: random.Random) -> tuple[str, str]:
    animal = rng.choice(ANIMALS)
    choices = [*rng.sample([a for a in ANIMALS if a != animal], 2), animal]
    rng.shuffle(choices)
    options = ",".join(f"{i}.{c}" for i, c in enumerate(choices))
    return f"質問：「{animal}」と同じ動物はどれ？\n選択肢：{options}", str(choices.index(animal))


def _entities(rng: random.Random) -> tuple[str, str]:
    picked = rng.sample(ANIMALS, rng.randint(1, 3))
    sentence = "と".join(picked) + "が公園にいる。"
    return f"文：{sentence}\n動物を全て挙げてください。", "\n".join(picked)


ENGLISH = {
    "猫": "cat",
    "犬": "dog",
    "鳥": "bird",
    "魚": "fish",
    "馬": "horse",
    "牛": "cow",
    "羊": "sheep",
    "兎": "rabbit",
}
COLOURS_EN = {
    "赤": "red",
    "青": "blue",
    "白": "white",
    "黒": "black",
    "緑": "green",
    "黄": "yellow",
}


def _translation(rng: random.Random) -> tuple[str, str]:
    animal, colour = rng.choice(ANIMALS), rng.choice(COLOURS)
    return f"{colour}い{animal}がいる。", f"There is a {COLOURS_EN[colour]} {ENGLISH[animal]}."


SPECS: dict[str, dict[str, Any]] = {
    "synth_arith": {
        "instruction": "足し算の答えを数字だけで答えてください。",
        "output_length": 4,
        "metrics": ["exact_match"],
        "make": _arith,
    },
    "synth_nli": {
        "instruction": "前提と仮説の関係をentailment、contradictionの中から回答してください。",
        "output_length": 4,
        "metrics": ["exact_match"],
        "label_list": ["entailment", "contradiction"],
        "make": _nli,
    },
    "synth_mc": {
        "instruction": "質問と選択肢を読み、正しい選択肢の番号のみを出力してください。",
        "output_length": 2,
        "metrics": ["exact_match"],
        "label_list": ["0", "1", "2"],
        "make": _mc,
    },
    "synth_ner": {
        "instruction": "文に出てくる動物を、改行で区切って全て挙げてください。",
        "output_length": 12,
        "metrics": ["set_f1"],
        "make": _entities,
    },
    "synth_mt": {
        "instruction": "日本語を英語に翻訳してください。",
        "output_length": 16,
        "metrics": ["bleu_en"],
        "make": _translation,
    },
    "synth_qa": {
        "instruction": "質問に答えてください。",
        "output_length": 6,
        "metrics": ["char_f1", "exact_match"],
        "make": _qa,
    },
}


def build(name: str, split: str, size: int | None = None) -> dict[str, Any]:
    """The dataset's split; `size` overrides its usual number of samples (benchmarks)."""
    spec = SPECS[name]
    make: Callable[[random.Random], tuple[str, str]] = spec["make"]
    rng = random.Random(f"{name}-{split}")
    samples = [make(rng) for _ in range(SIZES[split] if size is None else size)]
    document = {k: v for k, v in spec.items() if k != "make"}
    document["few_shots"] = []
    document["samples"] = [{"input": i, "output": o} for i, o in samples]
    return document


def write_all(out: Path, sizes: Mapping[str, int] | None = None) -> list[Path]:
    """Every dataset's splits under `out`; `sizes` overrides the samples of given splits."""
    written = []
    for name in SPECS:
        for split in SIZES:
            path = out / split / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            document = build(name, split, (sizes or {}).get(split))
            path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
            written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m kiseki.evaluation.synthetic OUT_DIR", file=sys.stderr)
        return 2
    for written_path in write_all(Path(argv[0])):
        print(written_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
