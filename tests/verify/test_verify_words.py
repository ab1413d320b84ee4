"""The lexicon: which words a verifier checks, and how they are read."""

from annotators.verify import words


def test_colour_words_map_synonyms_to_prototypes():
    assert words.colour_words("a Gray car with a navy roof and gray wheels") == ["grey", "blue"]
    assert words.colour_words("a car") == []


def test_size_and_side_words():
    assert words.size_steps("a very large house") == [4]
    assert words.size_steps("the small wheel") == [1]
    assert words.side_words("at the bottom left") == ["bottom", "left"]
    assert words.side_words("in the middle") == ["centre"]


def test_category_text_cleans_dataset_names():
    assert words.category_text("sky-other-merged") == "sky"
    assert words.category_text("wall-other-merged") == "wall"
    assert words.category_text("static_persons") == "static persons"


def test_mentions_whole_words_singular_or_plural():
    assert words.mentions("two red cars", "car")
    assert words.mentions("a traffic light", "traffic light")
    assert not words.mentions("a cartoon", "car")
    assert not words.mentions("an armchair", "arm")


def test_counted_categories():
    vocab = ["car", "tree", "person"]
    assert words.counted_categories("A scene showing one car and two trees.", vocab) == \
        {"car": 1, "tree": 2}
    assert words.counted_categories("3 persons", vocab) == {"person": 3}
