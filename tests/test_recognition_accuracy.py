"""Recognition measured on the real model: generated speech always, real recordings where present."""

from collections import defaultdict

import pytest

from voicerelief.evaluation import Score, generated_samples, real_samples


def _scores(samples, recognizer) -> dict[str, Score]:
    scores: dict[str, Score] = defaultdict(Score)
    for sample in samples:
        heard, _ = recognizer.recognize(sample.load())
        score = scores[sample.group]
        score.total += 1
        score.correct += heard.intent == sample.expected
    return scores


@pytest.fixture(scope="module")
def generated_scores(file_recognizer, table):
    return _scores(generated_samples(table), file_recognizer)


def test_every_phrase_in_two_voices_two_rates_clean_and_noisy_is_recognized(generated_scores, table):
    phrases = generated_scores["phrases"]
    assert phrases.total == len(table.phrases) * 8
    assert phrases.rate >= 0.95, f"{phrases.correct}/{phrases.total} phrases recognized"


def test_sentences_of_other_words_are_rejected(generated_scores):
    other = generated_scores["other sentences"]
    assert other.total >= 160
    assert other.rate >= 0.95, f"{other.correct}/{other.total} other sentences rejected"


@pytest.fixture(scope="module")
def real_scores(file_recognizer, shared_data):
    return _scores(real_samples(shared_data), file_recognizer)


@pytest.mark.parametrize("group, floor", [
    ("yes/no/stop", 0.90),
    ("digits", 0.90),
    ("unknown", 0.90),
    ("silence", 0.90),
])
def test_real_recordings(real_scores, group, floor):
    score = real_scores[group]
    assert score.total >= 20
    assert score.rate >= floor, f"{group}: {score.correct}/{score.total}"
