"""Assemble a ready-to-serve simulated card from a profile file and run-time options."""

from __future__ import annotations

import os
from pathlib import Path

from drivers.sim.card import CardBehaviour, SimulatedCard
from drivers.sim.faults import DELAY_PRESETS, FaultPlan, FaultyCard, Icc
from drivers.sim.profile import load_card_image
from drivers.sim.state import CardStateFile


def open_simulated_card(
    profile: str | os.PathLike[str],
    *,
    state_file: str | os.PathLike[str] | None = None,
    behaviour: CardBehaviour | None = None,
    faults: FaultPlan | None = None,
    delay: str = "off",
) -> Icc:
    """Profile → card image → card engine (+ persisted PIN state) (+ faults, delay model)."""
    if delay not in DELAY_PRESETS:
        raise ValueError(f"unknown delay model {delay!r}; choose one of {', '.join(DELAY_PRESETS)}")
    image = load_card_image(Path(profile))
    listener = CardStateFile(state_file) if state_file else None
    card = SimulatedCard(image, behaviour, listener)
    if listener is not None:
        listener.restore(card)
    if faults is None and delay == "off":
        return card
    plan = faults or FaultPlan()
    if delay != "off":
        plan.delay = DELAY_PRESETS[delay]
    return FaultyCard(card, plan)
