"""llm-jp-eval v2 interoperability: kiseki generates exactly a prompt dump's prompts and writes
the generated file llm-jp-eval's evaluate reads; a run's stored generations export the same way."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kiseki.cli import main
from kiseki.core.store import apply_schema, open_store
from kiseki.core.store.prompts import insert_sample_rows
from kiseki.evaluation.datasets import few_shot_examples, load_dataset
from kiseki.evaluation.prompts import build_prompt
from kiseki.serving.hf_scoring import HFScorer
from support.runner import DATASETS


def _dump(tmp_path: Path, name: str = "synth_nli") -> tuple[Path, dict[str, Any]]:
    """A prompt dump as llm-jp-eval's dump_prompts writes one (v2 template, four samples)."""
    dataset = load_dataset(DATASETS, name)
    shots = few_shot_examples(DATASETS, name, 2)
    samples = [
        {"input": s.input, "prompt": build_prompt(dataset, s, shots, "v2"), "gold": s.output}
        for s in dataset.samples[:4]
    ]
    document = {
        "target_dataset": name,
        "output_length": dataset.output_length,
        "metrics": list(dataset.metrics),
        "instruction": dataset.instruction,
        "label_list": list(dataset.label_list),
        "answer_pattern_id": "choice_only_jp",
        "samples": samples,
        "config": {"output_length_delta": 2, "num_few_shots": 2},
    }
    path = tmp_path / f"{name}.eval-prompt.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path, document


def test_a_dump_is_generated_as_it_is_and_written_as_llm_jp_eval_reads_it(
    tiny_checkpoints: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, document = _dump(tmp_path)
    out = tmp_path / "generated"
    assert (
        main(
            [
                "llm-jp-eval",
                "generate",
                str(path),
                "--checkpoint",
                str(tiny_checkpoints[60]),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    written = json.loads((out / "synth_nli.eval-generated.json").read_text(encoding="utf-8"))
    expected = HFScorer(tiny_checkpoints[60], device="cpu").generate(
        [s["prompt"] for s in document["samples"]], document["output_length"] + 2
    )
    assert [s.pop("generated") for s in written["samples"]] == expected
    assert written == document  # every field of the dump kept, with its type
    scores = json.loads(capsys.readouterr().out.splitlines()[-1])["scores"]
    assert set(scores["synth_nli"]) == {"exact_match", "format_following"}


def test_stored_generations_export_for_a_dumps_prompts(tmp_path: Path) -> None:
    path, document = _dump(tmp_path)
    store_url = f"chdb:{tmp_path / 'store'}"
    store = open_store(store_url)
    apply_schema(store)
    rows = [
        {
            "run_id": "run",
            "checkpoint_id": "ck",
            "step": 100,
            "dataset": "synth_nli",
            "sample_index": i,
            "scoring_mode": "generate",
            "prompt": s["prompt"],
            "raw_output": f"out{i}",
            "prediction": "",
            "gold": s["gold"],
            "metrics": {},
        }
        for i, s in enumerate(document["samples"])
    ]
    insert_sample_rows(store, rows)
    store.close()
    out = tmp_path / "exported"
    argv = [
        "llm-jp-eval",
        "export",
        "run",
        "--step",
        "100",
        str(path),
        "--out",
        str(out),
        "--store",
        store_url,
    ]
    assert main(argv) == 0
    written = json.loads((out / "synth_nli.eval-generated.json").read_text(encoding="utf-8"))
    assert [s["generated"] for s in written["samples"]] == ["out0", "out1", "out2", "out3"]
    assert main([*argv[:4], "200", *argv[5:]]) == 2  # nothing stored at step 200


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"output_length": 3, "samples": []}, "field 'target_dataset' must be str"),
        (
            {"target_dataset": "d", "output_length": 3, "samples": [{"input": "x"}]},
            r"samples\[0\]\.prompt must be a string",
        ),
        (
            {"target_dataset": "d", "output_length": "3", "samples": []},
            "'output_length' must be int",
        ),
    ],
)
def test_a_malformed_dump_is_refused_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.eval-prompt.json"
    path.write_text(json.dumps(document))
    assert (
        main(
            [
                "llm-jp-eval",
                "generate",
                str(path),
                "--endpoint",
                "127.0.0.1:1",
                "--model",
                "m",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert re.search(message, capsys.readouterr().err)
