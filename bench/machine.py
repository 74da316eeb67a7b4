"""What CPU a benchmark ran on: figures differ 3x between this workplace's machines."""

from __future__ import annotations

import os
from pathlib import Path

#: CPU flags of the int8 dot-product instructions XNNPACK's fast int8 kernels use.
_VNNI_FLAGS = ("avx512_vnni", "avx_vnni")


def describe(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """One line: CPU model (family/model numbers, as VMs often hide the name), core count
    and whether int8 inference has VNNI."""
    fields: dict[str, str] = {}
    try:
        text = cpuinfo.read_text()
    except OSError:
        text = ""
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    vnni = [f for f in _VNNI_FLAGS if f in fields.get("flags", "").split()]
    return (
        f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')} "
        f"model {fields.get('model', '?')}), {os.cpu_count() or 1} cores, "
        f"int8 {'with ' + '/'.join(vnni) if vnni else 'without VNNI'}"
    )
