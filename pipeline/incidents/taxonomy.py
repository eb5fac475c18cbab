"""Event type -> ACLED event type / sub-event type and PLOVER event code.

Why a table: exports and search filters speak the codes conflict monitors use
(ACLED's codebook, the PLOVER ontology), so an analyst can line incidents up
with those datasets without a second mapping.
"""

from __future__ import annotations

# type: (ACLED event_type, ACLED sub_event_type, PLOVER code)
CODES: dict[str, tuple[str, str, str]] = {
    "mobilisation": ("Strategic developments", "Headquarters or base established", "MOBILIZE"),
    "armed_clash": ("Battles", "Armed clash", "FIGHT"),
    "airstrike": ("Explosions/Remote violence", "Air/drone strike", "FIGHT"),
    "shelling": ("Explosions/Remote violence", "Shelling/artillery/missile attack", "FIGHT"),
    "explosion": ("Explosions/Remote violence", "Remote explosive/landmine/IED", "FIGHT"),
    "territory_change": ("Battles", "Government regains territory", "SEIZE"),
    "ceasefire_agreement": ("Strategic developments", "Agreement", "AGREE"),
    "ceasefire_violation": ("Battles", "Armed clash", "FIGHT"),
    "political_dialogue": ("Strategic developments", "Other", "CONSULT"),
    "protest": ("Protests", "Peaceful protest", "PROTEST"),
    "violence_against_civilians": ("Violence against civilians", "Attack", "ASSAULT"),
    "arrest_detention": ("Strategic developments", "Arrests", "COERCE"),
    "foreign_forces": ("Strategic developments", "Non-violent transfer of territory", "MOBILIZE"),
    "oil_blockade": ("Strategic developments", "Other", "COERCE"),
}


def codes(event_type: str) -> tuple[str, str, str]:
    """ACLED event type, sub-event type and PLOVER code; 'Other' for an unknown type."""
    return CODES.get(event_type, ("Strategic developments", "Other", "OTHER"))
