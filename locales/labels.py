"""Material names shown to users (msgids in English, translated through the catalogues)."""

from __future__ import annotations

from db.categories import CLASSES
from locales import N_

LABELS: dict[str, str] = {
    "bois": N_("Wood"),
    "carton": N_("Cardboard"),
    "cuir": N_("Leather and shoes"),
    "textile": N_("Textile"),
    "alimentaire": N_("Food waste"),
    "dechets_verts": N_("Garden waste"),
    "electronique": N_("Electronics and batteries"),
    "metal": N_("Metal"),
    "papier": N_("Paper"),
    "pierre": N_("Stone and rubble"),
    "plastique": N_("Plastic"),
    "verre": N_("Glass"),
    "autre": N_("Residual waste"),
}
assert tuple(LABELS) == CLASSES
