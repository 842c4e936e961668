"""The reason a person gives for a rollback, unregister or cancel: one line of visible text,
at most 500 characters; refused before any event is recorded."""

from __future__ import annotations

import pytest

from attune_registry.domain.note import MAX_NOTE_CHARS, InvalidNoteError, checked_note
from attune_registry.domain.registration import Registration


class TestCheckedNote:
    def test_no_reason_is_none(self):
        assert checked_note(None) is None

    def test_surrounding_spaces_go_and_the_rest_stays(self):
        assert checked_note("  broke the sensor: see #12  ") == "broke the sensor: see #12"

    def test_five_hundred_characters_pass_and_one_more_does_not(self):
        assert checked_note("é" * MAX_NOTE_CHARS) == "é" * MAX_NOTE_CHARS
        with pytest.raises(InvalidNoteError, match=r"^Invalid reason: 501 characters, at most "
                                                   r"500$"):
            checked_note("é" * (MAX_NOTE_CHARS + 1))

    @pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b", "a\x1bb", "a\x7fb", "a\x9bb",
                                     "a\u2028b", "a\u202eb", "a\u2066b", "a\u200fb"])
    def test_controls_and_direction_marks_are_refused(self, bad):
        with pytest.raises(InvalidNoteError) as refused:
            checked_note(bad)

        assert refused.value.problem == (f"control character U+{ord(bad[1]):04X} at position 2;"
                                         " a reason is one line of visible text")

    @pytest.mark.parametrize("blank", ["", " ", "    "])
    def test_a_blank_reason_is_refused(self, blank):
        with pytest.raises(InvalidNoteError, match="it is empty"):
            checked_note(blank)


def test_a_registration_refuses_a_bad_note_before_recording_anything():
    registration = Registration(
        pack_ref="lamp", pack_version="1.0.0", label="Lamp", manifest={}, components=[],
        source_path="/packs/lamp", content_digest="0" * 64, force=False, skip_tests=True,
        trigger_reason="register", requested_by="cli:ops", replace=False, origin=None,
        skip_dependents=False)
    registration.commit(summary=None, forced=False, replaced_registration_id=None)
    recorded = len(registration.pending_events)

    with pytest.raises(InvalidNoteError):
        registration.roll_back(reason="rollback", actor="cli:ops", restored_registration_id=None,
                               note="two\nlines")

    assert (registration.status, len(registration.pending_events)) == ("committed", recorded)
    registration.roll_back(reason="unregister", actor="cli:ops", restored_registration_id=None,
                           note=" fine ")
    assert registration.pending_events[-1].note == "fine"
