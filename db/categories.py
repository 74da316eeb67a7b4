"""The 13 sorting categories: vocabulary shared by storage, the model and the chat."""

from __future__ import annotations

CLASSES: tuple[str, ...] = (
    "bois",
    "carton",
    "cuir",
    "textile",
    "alimentaire",
    "dechets_verts",
    "electronique",
    "metal",
    "papier",
    "pierre",
    "plastique",
    "verre",
    "autre",
)
# Kept in the label set but never predicted by the shipped model: val cannot show that it works.
UNTRAINED: frozenset[str] = frozenset({"dechets_verts"})
