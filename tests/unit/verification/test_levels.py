"""Verification levels (§7062): each threshold at its edge, the words the officer reads, raising by Variable."""

from __future__ import annotations

import pytest

from include import law
from include.datastores.identity import PointsRecord, StoreMatch
from include.verification.levels import Basis, Level, Scope, Thresholds, approvable, assess, best, thresholds

KINDS = ("email", "name", "phone", "postal_address", "account_id")


def _points(matched: int, given: int | None = None) -> PointsRecord:
    given_kinds = KINDS[: given if given is not None else max(matched, 2)]
    return PointsRecord(given=given_kinds, stores=(StoreMatch("crm", True, True, KINDS[:matched]),))


def test_law_numbers():
    assert (law.CATEGORIES_MIN_POINTS, law.SPECIFIC_PIECES_MIN_POINTS) == (2, 3)
    assert law.SPECIFIC_PIECES_NEED_DECLARATION is True


def test_7062b_categories_need_two_matching_points():
    assert assess(_points(2), declaration=False).scope == Scope.CATEGORIES
    assert assess(_points(1), declaration=True).scope == Scope.NONE


def test_7062c_specific_pieces_need_three_points_and_a_declaration():
    assert assess(_points(3), declaration=True).scope == Scope.FULL
    assert assess(_points(3), declaration=False).scope == Scope.CATEGORIES
    assert assess(_points(2), declaration=True).scope == Scope.CATEGORIES
    assert assess(_points(5), declaration=False).scope == Scope.CATEGORIES


def test_7062_a_point_that_differs_on_file_is_a_red_flag_not_a_match():
    record = PointsRecord(
        given=("email", "name", "phone"),
        stores=(StoreMatch("crm", True, True, ("email", "name"), ("phone",)),),
    )
    level = assess(record, declaration=True)
    assert level.scope == Scope.CATEGORIES and level.differs == ("phone",)
    assert "differs on file: phone" in level.words()


def test_the_level_in_plain_words():
    level = assess(_points(3, given=4), declaration=True)
    assert level.words() == (
        "3 of 4 points match: email, name, phone · declaration signed · enough for specific pieces"
    )
    assert assess(_points(2), declaration=False).words() == (
        "2 of 2 points match: email, name · no declaration · enough for categories only "
        "(specific pieces need 3 points and a signed declaration)"
    )
    assert assess(_points(2), declaration=False).words("categories").endswith("enough for categories")
    assert assess(_points(1), declaration=False).words().endswith("not enough to verify (categories need 2 points)")


def test_7062_an_approval_never_discloses_more_than_the_level_or_than_was_asked():
    full, categories, none = (assess(_points(n), declaration=True) for n in (3, 2, 1))
    assert approvable(full, "specific_pieces") == Scope.FULL
    assert approvable(full, "categories") == Scope.CATEGORIES
    assert approvable(categories, "specific_pieces") == Scope.CATEGORIES
    assert approvable(none, "specific_pieces") == Scope.NONE


def test_best_keeps_the_strongest_basis():
    weak = assess(_points(2), declaration=False)
    strong = Level(Scope.FULL, Basis.DATA_POINTS, KINDS[:3], KINDS[:3], True)
    assert best([weak, strong]) is strong


@pytest.mark.parametrize(
    ("categories", "specific", "expected"),
    [
        ("", "", (2, 3)),
        ("3", "4", (3, 4)),
        ("1", "2", (2, 3)),  # lowering is refused: the law's numbers stay
        ("x", "", (2, 3)),
        ("4", "", (4, 4)),  # specific pieces never need fewer points than categories
    ],
)
def test_7062_thresholds_are_raisable_by_variable_never_lowerable(monkeypatch, categories, specific, expected):
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_VERIFICATION_MIN_POINTS_CATEGORIES", categories)
    monkeypatch.setenv("AIRFLOW_VAR_CCPA_VERIFICATION_MIN_POINTS_SPECIFIC", specific)
    t = thresholds()
    assert (t.categories_points, t.specific_points) == expected


def test_a_raised_threshold_raises_the_level_needed():
    raised = Thresholds(categories_points=3, specific_points=4)
    assert assess(_points(3), declaration=True, limits=raised).scope == Scope.CATEGORIES
    assert assess(_points(2), declaration=True, limits=raised).scope == Scope.NONE


def test_7062_when_nothing_is_held_the_only_answer_discloses_nothing_and_is_categories():
    nothing = PointsRecord(
        given=("email", "name"), stores=(StoreMatch("crm", True, False), StoreMatch("web", True, False))
    )
    level = assess(nothing, declaration=False)
    assert level.scope == Scope.NONE and level.nothing_held
    assert approvable(level, "specific_pieces") == Scope.CATEGORIES
    # A datastore that could not be checked might hold data: no approval then.
    unknown = PointsRecord(
        given=("email", "name"), stores=(StoreMatch("crm", True, False), StoreMatch("web", False, False))
    )
    assert approvable(assess(unknown, declaration=False), "specific_pieces") == Scope.NONE
