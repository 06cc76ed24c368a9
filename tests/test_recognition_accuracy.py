"""Every phrase of the table, in generated speech, through the single grammar of every phrase.

Real recordings are measured through the grammar of each state, as the app listens:
see test_state_grammars.py.
"""

import pytest

from voicerelief.evaluation import generated_samples, scores_by_group


@pytest.fixture(scope="module")
def generated_scores(file_recognizer, table):
    return scores_by_group(file_recognizer, generated_samples(table))


def test_every_phrase_in_two_voices_two_rates_clean_and_noisy_is_recognized(generated_scores, table):
    phrases = generated_scores["phrases"]
    assert phrases.total == len(table.phrases) * 8
    assert phrases.rate >= 0.95, f"{phrases.correct}/{phrases.total} phrases recognized"


def test_sentences_of_other_words_are_rejected(generated_scores):
    other = generated_scores["other sentences"]
    assert other.total >= 160
    assert other.rate >= 0.95, f"{other.correct}/{other.total} other sentences rejected"
