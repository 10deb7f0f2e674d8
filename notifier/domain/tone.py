"""D2: the tone of a message follows the stage and the tier."""

from __future__ import annotations

from notifier.domain.policy import StageName, TierName, Tone, ToneMatrix


def tone_for(stage: StageName | None, tier: TierName, matrix: ToneMatrix) -> Tone | None:
    """The policy's tone for this stage and tier; None when no reminder is due."""
    if stage is None:
        return None
    return matrix.tone(stage, tier)
