from kiseki.core.ids import JobIds, checkpoint_id, job_id
from kiseki.core.topics import Topics


def test_checkpoint_id_is_deterministic_and_distinguishes_inputs() -> None:
    first = checkpoint_id("llm-jp 1.8b", 1000, "/ckpt/iter_0001000")
    assert first == checkpoint_id("llm-jp 1.8b", 1000, "/ckpt/iter_0001000")
    assert first.startswith("llm-jp-1.8b-s1000-")
    others = {
        checkpoint_id("llm-jp 1.8b", 1001, "/ckpt/iter_0001000"),
        checkpoint_id("llm-jp 1.8b", 1000, "/ckpt/other"),
        checkpoint_id("llm-jp-1.8b", 1000, "/ckpt/iter_0001000"),
    }
    assert first not in others
    assert len(others) == 3


def test_job_id_covers_every_identifying_field() -> None:
    base = job_id("ck", "jnli", 0, 4, 1)
    assert base == job_id("ck", "jnli", 0, 4, 1)
    variants = {
        job_id("ck2", "jnli", 0, 4, 1),
        job_id("ck", "jamp", 0, 4, 1),
        job_id("ck", "jnli", 1, 4, 1),
        job_id("ck", "jnli", 0, 2, 1),
        job_id("ck", "jnli", 0, 4, 2),
    }
    assert base not in variants
    assert len(variants) == 5


def test_job_ids_of_many_keys_are_each_keys_job_id() -> None:
    keys = [("jnli", 0, 4, 1), ("wiki/ner x", 3, 7, 2), ("jamp", 0, 1, 1)]
    ids = JobIds(keys)
    for checkpoint in ("ck", "llm-jp-3-172b-s1000-0123456789abcdef"):
        assert ids.of(checkpoint) == [job_id(checkpoint, *key) for key in keys]
    assert ids.of("ck")[0] == "jnli-0of4-m1-ee81fed46498f120"  # the ids stored so far


def test_topics_carry_the_prefix() -> None:
    assert Topics("study1").all() == (
        "study1.checkpoints",
        "study1.jobs",
        "study1.results",
        "study1.prompts",
        "study1.status",
        "study1.dlq",
    )
    assert Topics("").dlq == "dlq"
    assert Topics("study1").compacted() == {"study1.prompts"}
