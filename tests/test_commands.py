import pytest
import vosk


from voicerelief.commands import NUMBER, ONSET, UNKNOWN_WORD, Intent, default_table_path, load_phrase_table
from voicerelief.errors import ContentError, ModelError
from voicerelief.recognizer import load_model

REQUIRED_INTENTS = {
    "yes", "no", "stop", "pause", "resume", "next", "repeat", "skip", "help", "time_left",
    "start_ice", "start_heat", "stretches", "slower", "faster", "louder", "quieter", "cancel",
    "goodbye", "hurts", "start",
}


def test_table_covers_every_required_command(table):
    names = {intent.name for intent in table.phrases.values()}
    assert REQUIRED_INTENTS <= names
    assert [table.match(word) for word in ("zero", "five", "ten")] == [
        Intent(NUMBER, 0), Intent(NUMBER, 5), Intent(NUMBER, 10)]


@pytest.mark.parametrize("phrase, intent", [
    ("yeah", "yes"), ("go on", "resume"), ("i'm ready", "next"),
    ("what time is left", "time_left"), ("pardon", "repeat"), ("hold on", "pause"),
    ("ouch", "hurts"), ("it hurts", "hurts"), ("continue", "resume"), ("done", "next"),
])
def test_natural_variants_map_to_their_intent(table, phrase, intent):
    assert table.match(phrase).name == intent


def test_onset_phrases_carry_hours(table):
    assert table.match("yesterday") == Intent(ONSET, 24)
    assert table.match("two days ago") == Intent(ONSET, 48)


def test_match_is_exact(table):
    assert table.match("  YES ") == Intent("yes")
    assert table.match("yes no") is None
    assert table.match("stop guess") is None
    assert table.match(UNKNOWN_WORD) is None
    for decoy in table.decoys:
        assert table.match(decoy) is None


def test_grammar_holds_every_phrase_decoy_and_unknown(table):
    grammar = table.grammar()
    assert grammar[-1] == UNKNOWN_WORD
    assert set(table.phrases) <= set(grammar)
    assert set(table.decoys) <= set(grammar)


def test_every_grammar_word_is_in_the_model_vocabulary(model_dir, table):
    # The model opened bare: the `vosk_model` fixture goes through load_model, which already refuses unknown words.
    model = vosk.Model(str(model_dir))
    assert [word for word in table.words() if model.vosk_model_find_word(word) == -1] == []


def test_a_word_missing_from_the_model_is_named(tmp_path, model_dir):
    source = default_table_path().read_text()
    bad = tmp_path / "commands.toml"
    bad.write_text(source.replace('help = ["help"', 'help = ["help", "flibbertigibbet"'))
    with pytest.raises(ModelError, match="flibbertigibbet"):
        load_model(model_dir, load_phrase_table(bad))


@pytest.mark.parametrize("mutation, key", [
    (lambda s: s.replace("[intents]", "[intents"), ""),
    (lambda s: s.replace("confidence_floor = ", "confidence_floor = 3 #"), "recognition.confidence_floor"),
    (lambda s: s.replace('yes = ["yes",', 'yes = ["Yes!",'), "intents.yes"),
    (lambda s: s.replace('no = ["no"', 'no = ["yes"'), "intents.no"),
    (lambda s: s.replace('always = ["stop",', 'always = ["halt",'), "listening.always"),
    (lambda s: s.replace('between_questions = [', 'between_questions = "'), ""),
    (lambda s: s.replace("zero = 0", 'zero = "nil"'), "numbers.zero"),
    (lambda s: s.replace('"guess",', '"stop",'), "decoys.words"),
    (lambda s: s.replace('not_with_numbers = ["they",', 'not_with_numbers = ["nine",'), "decoys.not_with_numbers"),
    (lambda s: s.replace("lattice_beam = ", "lattice_beam = -"), "recognition.lattice_beam"),
])
def test_a_broken_table_names_file_and_key(tmp_path, mutation, key):
    source = default_table_path().read_text()
    bad = tmp_path / "commands.toml"
    bad.write_text(mutation(source))
    with pytest.raises(ContentError) as caught:
        load_phrase_table(bad)
    assert str(bad) in str(caught.value)
    assert caught.value.key == key


def test_the_pain_question_listens_without_the_decoys_that_sound_like_digits(table):
    from voicerelief.session import heard_in_state

    assert table.not_with_numbers and table.not_with_numbers <= set(table.decoys)
    pain = table.restricted_to(heard_in_state("painBefore", table)).grammar()
    yes_no = table.restricted_to(heard_in_state("redFlags", table)).grammar()
    assert not table.not_with_numbers & set(pain) and "five" in pain
    assert table.not_with_numbers <= set(yes_no)


def test_a_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(ContentError, match="does not exist"):
        load_phrase_table(tmp_path / "nowhere.toml")


def test_urgent_phrases_count_after_a_word_or_two_and_nothing_else_does():
    table = load_phrase_table()
    assert table.match("i wet myself").name == "wet_myself"
    assert table.match("oh my legs are numb").name == "legs_numb"
    assert table.match("please get help").name == "call_help"
    assert table.match("oh no i need to get help") is None, "not picked out of a sentence"
    assert table.match("well stop") is None and table.match("i ready") is None


def test_the_wider_lattice_reaches_the_decoder_and_leaves_the_model_untouched(model_dir, table):
    from dataclasses import replace

    from voicerelief.evaluation import real_samples, shared_data_dir
    from voicerelief.models import sha256_of
    from voicerelief.recognizer import FileRecognizer

    assert table.lattice_beam is not None and table.lattice_beam > 2
    conf = model_dir / "conf" / "model.conf"
    before = sha256_of(conf)
    others = [sample.load() for sample in real_samples(shared_data_dir()) if sample.group == "unknown"][:20]
    confidences = {}
    for lattice_beam in (None, table.lattice_beam):
        wider = replace(table, lattice_beam=lattice_beam)
        recognizer = FileRecognizer(load_model(model_dir, wider), wider)
        confidences[lattice_beam] = [recognizer.recognize(speech)[0].confidence for speech in others]
    # A word's confidence is its share of the lattice: with few rivals kept, most words heard in other words
    # look certain (13 to 15 of 20 here); with more kept, far fewer do (about 5). Decoding varies a little run to run.
    certain = {beam: sum(confidence == 1.0 for confidence in found) for beam, found in confidences.items()}
    assert certain[table.lattice_beam] <= certain[None] - 4, certain
    assert sha256_of(conf) == before


def test_without_a_temporary_folder_the_model_loads_with_its_own_settings(tmp_path, model_dir, table, monkeypatch,
                                                                          caplog):
    import tempfile

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(blocked / "tmp"))
    model = load_model(model_dir, table)
    assert model.vosk_model_find_word("seven") != -1
    assert "own decoder settings" in caplog.text
