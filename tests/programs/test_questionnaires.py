"""Scoring per instrument: edge cases, bands, flags, refusals."""

import pytest
from django.core.exceptions import ValidationError

from programs import questionnaires as q


def answers(values):
    return {n: v for n, v in enumerate(values, start=1)}


class TestPHQ9:
    def test_all_zeros_and_all_max(self):
        low = q.questionnaire_score("phq9", answers([0] * 9))
        assert (low.total, low.band, low.flags) == (0, "minimal", ())
        high = q.questionnaire_score("phq9", answers([3] * 9))
        assert (high.total, high.band) == (27, "severe")
        assert {"self_harm", "possible_depression"} <= high.flag_codes

    @pytest.mark.parametrize(
        "total,band",
        [
            (4, "minimal"),
            (5, "mild"),
            (9, "mild"),
            (10, "moderate"),
            (14, "moderate"),
            (15, "moderately_severe"),
            (19, "moderately_severe"),
            (20, "severe"),
        ],
    )
    def test_band_boundaries(self, total, band):
        values = [0] * 9
        for i in range(total):
            values[i % 8] += 1  # items 1-8 only: item 9 stays 0
        score = q.questionnaire_score("phq9", answers(values))
        assert score.total == total and score.band == band
        assert "self_harm" not in score.flag_codes

    def test_item_9_above_zero_is_flagged_even_with_a_low_total(self):
        score = q.questionnaire_score("phq9", answers([0] * 8 + [1]))
        assert score.total == 1 and score.band == "minimal"
        assert "self_harm" in score.flag_codes

    def test_string_answers_from_forms(self):
        assert q.questionnaire_score("phq9", {str(n): "2" for n in range(1, 10)}).total == 18

    def test_missing_answer_is_refused(self):
        with pytest.raises(ValidationError, match="Missing: 9"):
            q.questionnaire_score("phq9", answers([1] * 8))
        with pytest.raises(ValidationError, match="Missing: 3"):
            q.questionnaire_score("phq9", {**answers([1] * 9), 3: ""})

    @pytest.mark.parametrize("bad", [4, -1, "x", 1.5, True, None])
    def test_out_of_range_or_invalid_is_refused(self, bad):
        with pytest.raises(ValidationError):
            q.questionnaire_score("phq9", {**answers([1] * 9), 2: bad})

    def test_unknown_item_is_refused(self):
        with pytest.raises(ValidationError, match="Unknown item 10"):
            q.questionnaire_score("phq9", {**answers([1] * 9), 10: 1})


class TestGAD7:
    def test_extremes(self):
        assert q.questionnaire_score("gad7", answers([0] * 7)).total == 0
        top = q.questionnaire_score("gad7", answers([3] * 7))
        assert (top.total, top.band) == (21, "severe")

    @pytest.mark.parametrize(
        "total,band,flag",
        [
            (4, "minimal", False),
            (5, "mild", False),
            (9, "mild", False),
            (10, "moderate", True),
            (14, "moderate", True),
            (15, "severe", True),
        ],
    )
    def test_band_boundaries_and_threshold(self, total, band, flag):
        values = [0] * 7
        for i in range(total):
            values[i % 7] += 1
        score = q.questionnaire_score("gad7", answers(values))
        assert score.band == band
        assert ("possible_anxiety_disorder" in score.flag_codes) is flag

    def test_refusals(self):
        with pytest.raises(ValidationError):
            q.questionnaire_score("gad7", answers([0] * 6))
        with pytest.raises(ValidationError):
            q.questionnaire_score("gad7", answers([0] * 6 + [4]))


class TestRand36PhysicalFunctioning:
    def test_extremes(self):
        assert q.questionnaire_score("rand36_pf", answers([1] * 10)).total == 0
        best = q.questionnaire_score("rand36_pf", answers([3] * 10))
        assert best.total == 100 and best.higher_is_better

    def test_average_of_0_50_100(self):
        score = q.questionnaire_score("rand36_pf", answers([1, 2, 3, 3, 3, 2, 1, 2, 3, 3]))
        assert score.item_scores[2] == 50.0
        assert score.total == 65.0  # (0+50+100+100+100+50+0+50+100+100) / 10

    def test_refusals(self):
        with pytest.raises(ValidationError):
            q.questionnaire_score("rand36_pf", answers([0] + [1] * 9))
        with pytest.raises(ValidationError):
            q.questionnaire_score("rand36_pf", answers([1] * 9))

    def test_credit_line_names_rand_and_marks_changes(self):
        note = q.RAND36_PF_INSTRUMENT.licence_note
        assert "RAND 36-Item Health Survey" in note and "RAND" in note and "changed" in note.lower()
        assert "SF-36" not in note
        presentation = q.questionnaire_presentation("rand36_pf", "en")
        assert presentation.options[0][1] == "Yes, limited a lot"
        assert presentation.options[2][1] == "No, not limited at all"


class TestNumericRatings:
    @pytest.mark.parametrize("code", ["pain_nrs", "fatigue_nrs"])
    def test_single_item(self, code):
        assert q.questionnaire_score(code, {1: 0}).total == 0
        assert q.questionnaire_score(code, {1: 10}).total == 10
        with pytest.raises(ValidationError):
            q.questionnaire_score(code, {1: 11})
        with pytest.raises(ValidationError):
            q.questionnaire_score(code, {})

    @pytest.mark.parametrize(
        "before,after,category",
        [
            (8, 4, "substantial_improvement"),  # 50 %
            (10, 6, "moderate_improvement"),  # 40 %
            (10, 7, "moderate_improvement"),  # exactly 30 %
            (10, 8, "no_important_change"),  # 20 %
            (5, 5, "no_important_change"),
            (5, 7, "worse"),  # 40 % more
            (0, 0, "no_important_change"),
            (0, 2, "worse"),
            (6, 0, "substantial_improvement"),
        ],
    )
    def test_immpact_change(self, before, after, category):
        assert q.classify_change(before, after).category == category

    def test_change_refuses_out_of_range(self):
        with pytest.raises(ValidationError):
            q.classify_change(11, 2)
        with pytest.raises(ValidationError):
            q.classify_change("5", 2)


class TestCISFatigue:
    def test_texts_are_not_shipped(self):
        instrument = q.get_instrument("cis_fatigue")
        assert not instrument.texts_shipped
        assert all(not item.text for item in instrument.items)
        presentation = q.questionnaire_presentation("cis_fatigue", "en")
        assert presentation.available is False and presentation.items == ()

    def test_extremes_with_reversed_items(self):
        reverse = [3, 5, 8]
        # Answering 1 everywhere: reversed items count 7.
        score = q.questionnaire_score("cis_fatigue", answers([1] * 8), reverse_scored=reverse)
        assert score.total == 5 * 1 + 3 * 7
        lowest = [1, 1, 7, 1, 7, 1, 1, 7]
        assert q.questionnaire_score("cis_fatigue", answers(lowest), reverse_scored=reverse).total == 8
        highest = [8 - v for v in lowest]
        top = q.questionnaire_score("cis_fatigue", answers(highest), reverse_scored=reverse)
        assert top.total == 56 and top.band == "severe"

    def test_severe_threshold_default_and_configurable(self):
        values = [4, 4, 4, 4, 4, 4, 5, 4]  # no reversal: 33 ... build exact totals below
        assert q.questionnaire_score("cis_fatigue", answers(values), reverse_scored=[]).total == 33
        at_35 = [5, 5, 4, 4, 4, 4, 5, 4]
        score = q.questionnaire_score("cis_fatigue", answers(at_35), reverse_scored=[])
        assert score.total == 35 and score.band == "severe" and "severe_fatigue" in score.flag_codes
        at_34 = [5, 4, 4, 4, 4, 4, 5, 4]
        assert q.questionnaire_score("cis_fatigue", answers(at_34), reverse_scored=[]).band == "not_severe"
        research = q.questionnaire_score(
            "cis_fatigue", answers(at_35), reverse_scored=[], severe_threshold=40
        )
        assert research.band == "not_severe"

    def test_reversed_items_must_be_given(self):
        with pytest.raises(ValidationError, match="reversed items"):
            q.questionnaire_score("cis_fatigue", answers([4] * 8))
        with pytest.raises(ValidationError):
            q.questionnaire_score("cis_fatigue", answers([4] * 8), reverse_scored=[9])

    def test_refusals(self):
        with pytest.raises(ValidationError):
            q.questionnaire_score("cis_fatigue", answers([0] * 8), reverse_scored=[])
        with pytest.raises(ValidationError):
            q.questionnaire_score("cis_fatigue", answers([8] + [4] * 7), reverse_scored=[])
        with pytest.raises(ValidationError):
            q.questionnaire_score("cis_fatigue", answers([4] * 7), reverse_scored=[])


class TestEnteredScores:
    @pytest.mark.parametrize("total", [8, 56, "35", 35.0])
    def test_cis_valid(self, total):
        score = q.questionnaire_score_entered(code="cis_fatigue", total=total)
        assert score.entered and score.min_total == 8

    def test_cis_bands(self):
        assert q.questionnaire_score_entered(code="cis_fatigue", total=35).band == "severe"
        assert q.questionnaire_score_entered(code="cis_fatigue", total=34).band == "not_severe"
        assert (
            q.questionnaire_score_entered(code="cis_fatigue", total=39, severe_threshold=40).band
            == "not_severe"
        )

    @pytest.mark.parametrize("total", [7, 57, 35.5, "abc", "", None, True, "nan", "inf"])
    def test_cis_invalid(self, total):
        with pytest.raises(ValidationError):
            q.questionnaire_score_entered(code="cis_fatigue", total=total)

    def test_other_instruments(self):
        assert q.questionnaire_score_entered(code="phq9", total=12).band == "moderate"
        assert q.questionnaire_score_entered(code="gad7", total=10).flag_codes == {
            "possible_anxiety_disorder"
        }
        assert q.questionnaire_score_entered(code="rand36_pf", total=55).total == 55.0
        with pytest.raises(ValidationError, match="steps of 5"):
            q.questionnaire_score_entered(code="rand36_pf", total=52)
        with pytest.raises(ValidationError):
            q.questionnaire_score_entered(code="phq9", total=28)
        with pytest.raises(ValidationError):
            q.questionnaire_score_entered(code="nope", total=1)


class TestPresentation:
    def test_dutch_falls_back_to_english_and_says_so(self):
        # The Dutch RAND-36 is not shipped (see LICENSED.md): English items, with the notice.
        presentation = q.questionnaire_presentation("rand36_pf", "nl")
        assert presentation.available and not presentation.translated
        assert presentation.items[0][1].startswith("Vigorous activities")

    def test_every_shipped_instrument_has_texts(self):
        for instrument in q.INSTRUMENTS.values():
            if instrument.texts_shipped:
                assert all(item.text.get("en") for item in instrument.items), instrument.code
                assert instrument.licence_note
