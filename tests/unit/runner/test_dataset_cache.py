import json
from pathlib import Path

from kiseki.evaluation.settings import EvalSettings
from kiseki.runner.evaluate import TaskCache


def _dataset(root: Path, split: str, samples: int, num_few_shots: int | None) -> None:
    document: dict[str, object] = {
        "instruction": "i",
        "output_length": 2,
        "metrics": ["exact_match"],
        "few_shots": [],
        "samples": [{"input": str(i), "output": str(i)} for i in range(samples)],
    }
    if num_few_shots is not None:
        document["num_few_shots"] = num_few_shots
    (root / split).mkdir(parents=True, exist_ok=True)
    (root / split / "d.json").write_text(json.dumps(document))


def test_a_datasets_own_few_shot_count_wins(tmp_path: Path) -> None:
    _dataset(tmp_path, "train", 6, None)
    _dataset(tmp_path, "test", 3, 1)
    task = TaskCache(tmp_path).get("d", EvalSettings(num_few_shots=4))
    assert [s.input for s in task.few_shots] == ["0"]
    assert len(task.samples) == 3


def test_a_count_in_the_datasets_policy_section_wins_over_the_file(tmp_path: Path) -> None:
    _dataset(tmp_path, "train", 6, None)
    _dataset(tmp_path, "test", 3, 1)
    forced = EvalSettings(num_few_shots=2, few_shots_forced=True)
    assert [s.input for s in TaskCache(tmp_path).get("d", forced).few_shots] == ["0", "1"]


def test_the_jobs_count_applies_otherwise_and_is_cached(tmp_path: Path) -> None:
    _dataset(tmp_path, "train", 6, None)
    _dataset(tmp_path, "test", 3, None)
    cache = TaskCache(tmp_path)
    shots = cache.get("d", EvalSettings()).few_shots
    assert [s.input for s in shots] == ["0", "1", "2", "3"]
    (tmp_path / "test" / "d.json").unlink()
    assert cache.get("d", EvalSettings()).few_shots == shots  # read once per process
